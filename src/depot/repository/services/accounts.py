"""Users, personal access tokens and communities, created without a browser."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from depot.metadata import FieldError
from depot.repository.errors import ConflictError, NotFoundError, ValidationError
from depot.repository.services import scopes as token_scopes
from depot.repository.services.permissions import Identity
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
        token = secrets.token_urlsafe(45)
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

    def create_community(self, slug: str, title: str, owner_email: str, now: str) -> Community:
        if not SLUG.match(slug):
            raise ValidationError([FieldError("slug", (
                "A community identifier is 1-100 lower-case letters, digits, '-' or '_'.",))])
        with self.db.write() as conn:
            if conn.execute(sa.select(communities.c.id).where(communities.c.slug == slug)).first():
                raise ConflictError(f"A community with identifier {slug!r} already exists.")
            owner = self.ensure_user(conn, owner_email, now)
            cid = str(uuid.uuid4())
            conn.execute(communities.insert().values(id=cid, slug=slug, title=title or slug, owner_id=owner,
                                                     created=now))
        self._changed()
        return Community(cid, slug, title or slug, owner, now)

    def get_community(self, id_or_slug: str) -> Community:
        with self.db.read() as conn:
            row = conn.execute(sa.select(communities).where(
                sa.or_(communities.c.id == id_or_slug, communities.c.slug == id_or_slug))).first()
        if row is None:
            raise NotFoundError("Community does not exist.")
        return Community(row.id, row.slug, row.title, row.owner_id, row.created)

    def list_communities(self) -> list[Community]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(communities).order_by(communities.c.slug)).all()
        return [Community(r.id, r.slug, r.title, r.owner_id, r.created) for r in rows]
