"""Opening SQLite or PostgreSQL and bringing a schema up to date: one module for the ledger and the store.

Each half keeps its own tables, version table, migrations and error model (``deposit/ledger/engine.py``,
``repository/store/db.py``); what is the same lives here: the URL (a path is SQLite, ``postgresql://`` is
psycopg 3), the engine (SQLite in WAL mode with explicit ``BEGIN``, so two processes on one file queue on
the lock instead of failing half-way on a read-to-write upgrade), and Alembic upgrades to every head
that refuse a database written by a newer Depot instead of touching it.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig


class NewerSchemaError(Exception):
    """The database holds revisions this Depot does not know: it was written by a newer one."""

    def __init__(self, unknown: set[str], heads: set[str]) -> None:
        super().__init__(f"written by a newer Depot (schema {', '.join(sorted(unknown))}, "
                         f"this one knows up to {', '.join(sorted(heads))})")


def sqlalchemy_url(path_or_url: str | Path) -> str:
    """A SQLAlchemy URL: a path becomes an absolute SQLite URL, ``postgresql://`` uses psycopg 3."""
    text = str(path_or_url)
    if text.startswith("postgresql://"):
        return "postgresql+psycopg://" + text[len("postgresql://"):]
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(url: str, *, lock: Literal["always", "on_write"], busy_timeout_s: int, private: bool = False,
                  **pool: Any) -> sa.Engine:
    """An engine for ``url``. On SQLite: WAL, synchronous NORMAL (a commit survives kill -9 of the process;
    only an OS crash can lose the last ones, never corrupt the file), foreign keys, a busy timeout, and
    ``BEGIN IMMEDIATE`` for ``lock="always"`` or for connections with the ``depot_write`` execution option
    (``lock="on_write"``; the others ``BEGIN DEFERRED``). ``private`` creates the file 0600 before SQLite
    opens it (its -wal and -shm files take the same mode). ``pool`` goes to PostgreSQL's pool."""
    url = sqlalchemy_url(url)
    if not url.startswith("sqlite"):
        return sa.create_engine(url, json_serializer=_dumps, json_deserializer=orjson.loads, pool_pre_ping=True,
                                **pool)
    path = sa.engine.make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if private:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    engine = sa.create_engine(url, json_serializer=_dumps, json_deserializer=orjson.loads,
                              connect_args={"check_same_thread": False, "timeout": busy_timeout_s})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # BEGIN is ours (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = lock == "always" or conn.get_execution_options().get("depot_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")

    return engine


_REVISION = re.compile(r"^(down_)?revision\s*=\s*(.+?)\s*$", re.M)


@dataclass(frozen=True)
class Schema:
    """The migrations in package ``package``'s ``migrations`` folder, versioned in ``version_table``.

    Features add independent revisions that each revise the same parent, so a schema is upgraded to
    every head (``heads``), never to one."""

    package: str
    version_table: str

    def alembic_config(self) -> AlembicConfig:
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(files(self.package) / "migrations"))
        return cfg

    def shipped_heads(self) -> set[str]:
        """The heads, read from the revision files' ``revision``/``down_revision`` lines (no Alembic import:
        it is half of a short command's start-up)."""
        revisions: set[str] = set()
        parents: set[str] = set()
        for path in (files(self.package) / "migrations" / "versions").iterdir():
            if not path.name.endswith(".py"):
                continue
            for match in _REVISION.finditer(path.read_text(encoding="utf-8")):
                value = ast.literal_eval(match.group(2))
                found = {value} if isinstance(value, str) else set(value or ())
                (parents if match.group(1) else revisions).update(found)
        return revisions - parents

    def current(self, conn: sa.Connection) -> set[str]:
        from alembic.runtime.migration import MigrationContext

        return set(MigrationContext.configure(conn, opts={"version_table": self.version_table})
                   .get_current_heads())

    def is_current(self, engine: sa.Engine) -> bool:
        """True when the database is at every shipped head (a missing version table: False)."""
        try:
            with engine.connect() as conn:
                found = set(conn.exec_driver_sql(f"SELECT version_num FROM {self.version_table}").scalars())
        except sa.exc.DBAPIError:
            return False
        return bool(found) and found == self.shipped_heads()

    def upgrade(self, engine: sa.Engine) -> None:
        """Upgrade to every head; NewerSchemaError if the database knows revisions this code does not."""
        if self.is_current(engine):
            return  # the common case, answered without importing Alembic
        from alembic import command
        from alembic.script import ScriptDirectory

        cfg = self.alembic_config()
        script = ScriptDirectory.from_config(cfg)
        heads = set(script.get_heads())
        with engine.connect() as conn:
            current = self.current(conn)
            unknown = current - {rev.revision for rev in script.walk_revisions()}
            if unknown:
                raise NewerSchemaError(unknown, heads)
            if current != heads:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "heads")
                conn.commit()
