"""Database engine for the repository: SQLite (WAL) by default, PostgreSQL by URL, same code.

Writes use short ``BEGIN IMMEDIATE`` transactions on SQLite so that two server processes on one file
queue on the lock instead of failing half-way with "database is locked" on an upgrade from read to write.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

VERSION_TABLE = "depot_repository_version"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url``; on SQLite, sets WAL, a busy timeout and explicit transaction control."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Created 0600 before SQLite opens it (its -wal and -shm files take the same mode): it holds
            # token hashes and unpublished drafts.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        engine = sa.create_engine(
            url,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            connect_args={"check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(
        url, json_serializer=_json_dumps, json_deserializer=orjson.loads, pool_size=10, max_overflow=20
    )


def _configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a crash of the process; only an OS crash or power loss can lose
        # the last commits (never corrupt the file). Stored files are fsynced separately.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("depot_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


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
        with self.engine.connect() as conn:
            conn = conn.execution_options(depot_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        cfg = _alembic_config()
        with self.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            # "heads": independent features add migrations that each revise the same parent.
            command.upgrade(cfg, "heads")
            conn.commit()

    def schema_is_current(self) -> bool:
        heads = set(ScriptDirectory.from_config(_alembic_config()).get_heads())
        with self.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return set(ctx.get_current_heads()) == heads

    def dispose(self) -> None:
        self.engine.dispose()


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(files("depot.repository.store") / "migrations"))
    return cfg
