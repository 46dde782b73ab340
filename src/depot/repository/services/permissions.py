"""Who may do what (pure). One verb each: service ``publish`` <-> ``can_publish`` <-> route ``.../publish``."""

from __future__ import annotations

from dataclasses import dataclass

from depot.repository.errors import GoneError, NotFoundError, PermissionDeniedError
from depot.repository.services import scopes
from depot.repository.services.views import Deposit


@dataclass(frozen=True)
class Identity:
    """The caller: a user id, or None for an anonymous (or bad-token) request, as Zenodo treats both; and
    the scopes of the token it came with (``services/scopes.py``)."""

    user_id: int | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None


ANONYMOUS = Identity(None)


def require_user(identity: Identity, scope: str | None = None) -> int:
    """The caller's user id; anonymous callers get Zenodo's 403 "Permission denied." (not 401), and a
    token without ``scope`` the 403 of invenio-oauth2server's scope check."""
    if identity.user_id is None:
        raise PermissionDeniedError()
    if scope is not None:
        require_scope(identity, scope)
    return identity.user_id


def require_scope(identity: Identity, scope: str) -> None:
    if scope not in identity.scopes:
        raise PermissionDeniedError(scopes.MISSING_SCOPE)


def can_manage(identity: Identity, deposit: Deposit | None, scope: str | None = None) -> Deposit:
    """Owner-only access to a deposit: anonymous → 403, unknown id → 404, token without ``scope`` → 403,
    another user's → 403 (Invenio resolves the id, then checks the scope, then the owner)."""
    require_user(identity)
    if deposit is None:
        raise NotFoundError()
    if scope is not None:
        require_scope(identity, scope)
    if deposit.owner_id != identity.user_id:
        raise PermissionDeniedError()
    return deposit


def can_read_record(deposit: Deposit | None) -> Deposit:
    """Published records are public; a never-published id is unknown to the records API."""
    if deposit is None or deposit.record is None:
        raise NotFoundError()
    if deposit.withdrawn is not None:
        raise GoneError(deposit)
    return deposit
