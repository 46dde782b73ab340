"""The accounts sidecar: users and token hashes beside the bags, for the operator's eyes only.

Bags are the public archival copy (AIPs that may be handed to another archive) and hold no personal data:
an owner is a numeric id there. A rebuild from bags alone therefore cannot tell who owned a record, nor
let anyone back in. The sidecar fills that gap without putting accounts in a bag: one JSON file,
``DATA_DIR/admin/accounts.json`` (0600 in a 0700 folder), with every user (id, e-mail) and every token
(its SHA-256 only, name, scopes). It is rewritten whole, atomically, whenever a user or token is made and
at each start of ``depot serve``; ``depot repo rebuild --from-bags`` reads it (``--accounts``, by default
``admin/accounts.json`` beside the bags directory), so records go back to their owners and old tokens
keep working. It holds no token itself: a leaked sidecar leaks e-mails, not credentials.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from depot.repository.services import scopes
from depot.repository.store.blobs import fsync_dir
from depot.repository.store.db import Database
from depot.repository.store.tables import tokens, users

SCHEMA = "depot-accounts/1"
FOLDER = "admin"
NAME = "accounts.json"


def sidecar_path(data_dir: Path) -> Path:
    return data_dir / FOLDER / NAME


def default_for(bags: Path) -> Path:
    """Where a rebuild looks by default: ``admin/accounts.json`` beside the bags directory."""
    return sidecar_path(bags.parent)


@dataclass(frozen=True)
class Accounts:
    users: list[dict[str, Any]]
    tokens: list[dict[str, Any]]


class SidecarError(Exception):
    """The sidecar cannot be read or is not one (the message names the file and the field)."""


def snapshot(conn: sa.Connection) -> dict[str, Any]:
    """Every user and token row, in id order (a pure function of the tables)."""
    return {
        "schema": SCHEMA,
        "users": [{"id": r.id, "email": r.email, "created": r.created}
                  for r in conn.execute(sa.select(users).order_by(users.c.id))],
        "tokens": [{"user_id": r.user_id, "token_hash": r.token_hash, "name": r.name, "created": r.created,
                    "scopes": r.scopes} for r in conn.execute(sa.select(tokens).order_by(tokens.c.id))],
    }


class AccountsSidecar:
    """Writes the sidecar of one database; callable, so that it can be an ``AccountService`` hook."""

    def __init__(self, db: Database, path: Path, *, fsync: bool = True) -> None:
        self.db, self.path, self.fsync = db, path, fsync

    def __call__(self) -> None:
        self.write()

    def __str__(self) -> str:
        return f"the accounts sidecar {self.path}"

    def write(self) -> None:
        """Read the tables and replace the file, under a lock: two processes (the server and a CLI making a
        token) each write a snapshot taken after their own commit, and the later rename wins, so the lock
        keeps an older snapshot from landing last."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_fd = os.open(self.path.parent / f".{NAME}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            with self.db.read() as conn:
                data = orjson.dumps(snapshot(conn), option=orjson.OPT_INDENT_2)
            part = self.path.parent / f".{NAME}.part"
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, data)
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(part, self.path)
            if self.fsync:
                fsync_dir(self.path.parent)
        finally:
            os.close(lock_fd)  # releases the lock


def read(path: Path) -> Accounts:
    """The users and tokens of a sidecar, checked field by field."""
    try:
        doc = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise SidecarError(f"{path}: cannot read the accounts sidecar: {exc.strerror or exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise SidecarError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise SidecarError(f"{path}: field 'schema' is {found!r}, expected {SCHEMA!r}")
    user_rows = _rows(path, doc, "users", {"id": int, "email": str, "created": str})
    token_rows = _rows(path, doc, "tokens", {"user_id": int, "token_hash": str, "name": str, "created": str,
                                             "scopes": str})
    ids = {u["id"] for u in user_rows}
    for i, t in enumerate(token_rows):
        if t["user_id"] not in ids:
            raise SidecarError(f"{path}: tokens[{i}].user_id {t['user_id']} is not a user of the sidecar")
        t["scopes"] = scopes.serialize(scopes.deserialize(t["scopes"]))
    return Accounts(user_rows, token_rows)


def _rows(path: Path, doc: dict[str, Any], name: str, fields: dict[str, type]) -> list[dict[str, Any]]:
    rows = doc.get(name)
    if not isinstance(rows, list):
        raise SidecarError(f"{path}: field {name!r} is missing or not a list")
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise SidecarError(f"{path}: {name}[{i}] is not an object")
        for field, kind in fields.items():
            value = row.get(field)
            if not isinstance(value, kind) or isinstance(value, bool):
                expected = "an integer" if kind is int else "a string"
                raise SidecarError(f"{path}: {name}[{i}].{field} is missing or not {expected}")
        out.append({f: row[f] for f in fields})
    return out
