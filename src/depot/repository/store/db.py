"""Database engine for the repository: SQLite (WAL) by default, PostgreSQL by URL, same code.

The engine and the migrations are the shared ones (``depot/database.py``). The store's own: reads begin
``DEFERRED`` and writes ``IMMEDIATE`` on SQLite (``write()`` marks them), so readers never wait on the
write lock and two server processes on one file queue on it instead of failing half-way; the file is
created 0600 (it holds token hashes and unpublished drafts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from depot import database
from depot.database import NewerSchemaError

VERSION_TABLE = "depot_repository_version"
SCHEMA = database.Schema("depot.repository.store", VERSION_TABLE)
__all__ = ["SCHEMA", "VERSION_TABLE", "Database", "NewerSchemaError", "create_engine"]


def create_engine(url: str) -> sa.Engine:
    return database.create_engine(url, lock="on_write", busy_timeout_s=10, private=True, pool_size=10,
                                  max_overflow=20)


class Database:
    """The engine plus the two ways services touch it: a read and a write transaction."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Database:
        db = cls(create_engine(url))
        if migrate:
            db.migrate()
        return db

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction; callbacks added to ``jobs.after_commit(conn)`` run once it has committed."""
        after: list[Callable[[], None]] = []
        with self.engine.connect() as conn:
            conn = conn.execution_options(depot_write=True, depot_after_commit=after)
            with conn.begin():
                yield conn
        for callback in after:
            callback()

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent); NewerSchemaError if a newer Depot wrote it."""
        SCHEMA.upgrade(self.engine)

    def schema_is_current(self) -> bool:
        return SCHEMA.is_current(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
