"""Users, personal access tokens and communities, created without a browser."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import string
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from depot.metadata import FieldError
from depot.repository.errors import ConflictError, NotFoundError, ValidationError
from depot.repository.services import scopes as token_scopes
from depot.repository.services.logos import check_logo
from depot.repository.services.permissions import Identity
from depot.repository.services.richtext import sanitize
from depot.repository.store.db import Database
from depot.repository.store.tables import communities, tokens, users

log = logging.getLogger("depot.repository")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Community:
    id: str
    slug: str
    title: str
    owner_id: int
    created: str
    description: str = ""  # sanitised HTML
    logo_type: str | None = None  # the logo's media type; None: no logo


# Every column but the logo's bytes, which only the logo's own address reads.
PROFILE = [c for c in communities.c if c.name != "logo"]


def _community_of(row: sa.Row[Any]) -> Community:
    return Community(row.id, row.slug, row.title, row.owner_id, row.created, row.description or "", row.logo_type)


TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 60  # as Zenodo's: 60 letters and digits, about 357 bits


def new_token() -> str:
    """A token of letters and digits only: one beginning with "-" (1 in 64 of URL-safe base64's) is taken
    for an option by argparse-based tools, and "_" or "-" at either end is easily lost in a copy."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


class AccountService:
    def __init__(self, db: Database, now: str | None = None) -> None:
        self.db = db
        # Called after a user or token was added (the accounts sidecar of preservation/accounts.py).
        self.on_change: list[Callable[[], None]] = []

    def _changed(self) -> None:
        for hook in self.on_change:
            try:
                hook()
            except Exception as exc:  # the token exists: say what was not updated, do not undo it
                log.warning("accounts changed but %s was not updated: %s", hook, exc)

    def ensure_user(self, conn: sa.Connection, email: str, now: str) -> int:
        email = email.strip().lower()
        if not EMAIL.match(email):
            raise ValidationError([FieldError("email", (f"Not a valid e-mail address: {email!r}",))])
        found = conn.execute(sa.select(users.c.id).where(users.c.email == email)).scalar()
        if found is not None:
            return int(found)
        return int(conn.execute(users.insert().values(email=email, created=now)).inserted_primary_key[0])  # type: ignore[index]

    def create_token(self, email: str, now: str, name: str = "cli",
                     scopes: Iterable[str] = token_scopes.DEFAULT) -> str:
        """Create the user if needed and a new token for them with ``scopes``; only the token's hash is stored."""
        token = new_token()
        with self.db.write() as conn:
            user_id = self.ensure_user(conn, email, now)
            conn.execute(tokens.insert().values(user_id=user_id, token_hash=hash_token(token), name=name, created=now,
                                                scopes=token_scopes.serialize(scopes)))
        self._changed()
        return token

    def identity_for_token(self, token: str) -> Identity | None:
        """The user and scopes of ``token``; None for an unknown token."""
        with self.db.read() as conn:
            found = conn.execute(sa.select(tokens.c.user_id, tokens.c.scopes)
                                 .where(tokens.c.token_hash == hash_token(token))).first()
        return None if found is None else Identity(int(found.user_id), token_scopes.deserialize(found.scopes))

    def create_community(self, slug: str, title: str, owner_email: str, now: str, *, description: str = "",
                         logo: bytes | None = None) -> Community:
        if not SLUG.match(slug):
            raise ValidationError([FieldError("slug", (
                "A community identifier is 1-100 lower-case letters, digits, '-' or '_'.",))])
        description = sanitize(description)
        logo_type = None
        if logo is not None:
            try:
                logo_type = check_logo(logo)
            except ValueError as exc:
                raise ValidationError([FieldError("logo", (str(exc),))]) from None
        with self.db.write() as conn:
            if conn.execute(sa.select(communities.c.id).where(communities.c.slug == slug)).first():
                raise ConflictError(f"A community with identifier {slug!r} already exists.")
            owner = self.ensure_user(conn, owner_email, now)
            cid = str(uuid.uuid4())
            conn.execute(communities.insert().values(id=cid, slug=slug, title=title or slug, owner_id=owner,
                                                     created=now, description=description, logo=logo,
                                                     logo_type=logo_type))
        self._changed()
        return Community(cid, slug, title or slug, owner, now, description, logo_type)

    def community_logo(self, id_or_slug: str) -> tuple[bytes, str]:
        """The logo's bytes and media type; ``NotFoundError`` for no community or no logo."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(communities.c.logo, communities.c.logo_type).where(
                sa.or_(communities.c.id == id_or_slug, communities.c.slug == id_or_slug))).first()
        if row is None or row.logo is None:
            raise NotFoundError("This community has no logo.")
        return bytes(row.logo), str(row.logo_type)

    def get_community(self, id_or_slug: str) -> Community:
        with self.db.read() as conn:
            row = conn.execute(sa.select(*PROFILE).where(
                sa.or_(communities.c.id == id_or_slug, communities.c.slug == id_or_slug))).first()
        if row is None:
            raise NotFoundError("Community does not exist.")
        return _community_of(row)

    def list_communities(self) -> list[Community]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(*PROFILE).order_by(communities.c.slug)).all()
        return [_community_of(r) for r in rows]
