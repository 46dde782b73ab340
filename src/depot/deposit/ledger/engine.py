"""Opening the ledger's database: SQLite (WAL) from a path, PostgreSQL from a URL, migrated on open.

The engine and the migrations are the shared ones (``depot/database.py``); what is the ledger's own: every
transaction takes the write lock up front (any may write, and two depositors on one ledger then queue),
a 30 s busy timeout, and its error model.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from depot import database
from depot.deposit.errors import LedgerError

VERSION_TABLE = "depot_ledger_version"
SCHEMA = database.Schema("depot.deposit.ledger", VERSION_TABLE)


def database_url(path_or_url: str | Path) -> str:
    return database.sqlalchemy_url(path_or_url)


def create_engine(url: str) -> sa.Engine:
    return database.create_engine(url, lock="always", busy_timeout_s=30)


def migrate(engine: sa.Engine, url: str) -> None:
    """Upgrade to the newest schema; a ledger written by a newer Depot is refused, not touched."""
    try:
        SCHEMA.upgrade(engine)
    except database.NewerSchemaError as exc:
        raise LedgerError(url, str(exc)) from exc
    except sa.exc.SQLAlchemyError as exc:
        raise LedgerError(url, f"cannot open: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from exc
