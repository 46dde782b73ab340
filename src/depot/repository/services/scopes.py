"""Personal access token scopes, as Zenodo's (pure).

Zenodo registers three scopes a personal token may carry: ``deposit:write`` ("Allow upload (but not
publishing)"), ``deposit:actions`` ("Allow publishing of uploads") and ``user:email`` ("Allow access to
email address (read-only)"); zenodo-rdm ``legacy/scopes.py`` and invenio-oauth2server ``scopes.py``.
Reading one's own depositions needs no scope (legacy Zenodo's deposit read permission checks only the
owner); every change to a deposition or its files needs ``deposit:write``, and the actions (publish, edit,
discard, newversion) need ``deposit:actions``, as Zenodo documents them. ``user:email`` guards nothing
here: this repository serves no user profile; it is accepted so that a token made for Zenodo fits.
"""

from __future__ import annotations

from collections.abc import Iterable

DEPOSIT_WRITE = "deposit:write"
DEPOSIT_ACTIONS = "deposit:actions"
USER_EMAIL = "user:email"

KNOWN: tuple[str, ...] = (DEPOSIT_WRITE, DEPOSIT_ACTIONS, USER_EMAIL)
# What a token could do before scopes existed (and what one made without --scope can do): upload and publish.
DEFAULT: tuple[str, ...] = (DEPOSIT_WRITE, DEPOSIT_ACTIONS)

# invenio-oauth2server's require_oauth_scopes answers a missing scope with abort(403), which Zenodo's
# REST error handler renders with werkzeug's text for a 403.
MISSING_SCOPE = ("You don't have the permission to access the requested resource. It is either read-protected "
                 "or not readable by the server.")


def parse(values: Iterable[str]) -> frozenset[str]:
    """The scopes named in ``values`` (each may hold several, separated by spaces or commas, as OAuth2
    writes them); raises ValueError naming any unknown one."""
    found = {part for value in values for part in value.replace(",", " ").split()}
    unknown = sorted(found - set(KNOWN))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(KNOWN)}")
    return frozenset(found)


def serialize(scopes: Iterable[str]) -> str:
    """The stored form: space-separated, in KNOWN's order (OAuth2's ``scope`` syntax)."""
    wanted = set(scopes)
    return " ".join(s for s in KNOWN if s in wanted)


def deserialize(stored: str | None) -> frozenset[str]:
    """Scopes from the stored form; unknown words are dropped (a newer server's scope means nothing here)."""
    return frozenset(s for s in (stored or "").split() if s in KNOWN)
