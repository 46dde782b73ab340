"""Opening the ledger's database: SQLite (WAL) from a path, PostgreSQL from a URL, migrated on open."""

from __future__ import annotations

import ast
import re
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from depot.deposit.errors import LedgerError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

VERSION_TABLE = "depot_ledger_version"


def database_url(path_or_url: str | Path) -> str:
    text = str(path_or_url)
    if "://" in text:
        return "postgresql+psycopg://" + text[len("postgresql://"):] if text.startswith("postgresql://") else text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def create_engine(url: str) -> sa.Engine:
    dumps = lambda v: orjson.dumps(v).decode()  # noqa: E731
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, json_serializer=dumps, json_deserializer=orjson.loads,
                                  connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transition survives kill -9 of the depositor (the
            # stated requirement); only an OS crash could lose the last few, never corrupt the file.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            # Every ledger transaction may write: take the write lock up front so two depositors on one
            # ledger queue instead of failing on a read-to-write upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, json_serializer=dumps, json_deserializer=orjson.loads, pool_pre_ping=True)


def _alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(files("depot.deposit.ledger") / "migrations"))
    return cfg


_REVISION = re.compile(r"^(down_)?revision\s*=\s*(.+?)\s*$", re.M)


def shipped_heads() -> set[str]:
    """The heads of the shipped revisions, read from their files' ``revision``/``down_revision`` lines."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (files("depot.deposit.ledger") / "migrations" / "versions").iterdir():
        if not path.name.endswith(".py"):
            continue
        for match in _REVISION.finditer(path.read_text(encoding="utf-8")):
            value = ast.literal_eval(match.group(2))
            found = {value} if isinstance(value, str) else set(value or ())
            (parents if match.group(1) else revisions).update(found)
    return revisions - parents


def _up_to_date(engine: sa.Engine) -> bool:
    try:
        with engine.connect() as conn:
            current = set(conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalars())
    except sa.exc.DBAPIError:
        return False  # a new database: Alembic creates it
    return bool(current) and current == shipped_heads()


def migrate(engine: sa.Engine, url: str) -> None:
    """Upgrade to the newest schema; a ledger written by a newer Depot is refused, not touched.

    Features add independent revisions (each revising 0002 or a later one), so the schema is upgraded
    to every head, as the repository's is."""
    if _up_to_date(engine):
        return  # the common case, answered without importing Alembic (half of `depot status`'s time)
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = _alembic_config()
    script = ScriptDirectory.from_config(cfg)
    heads = set(script.get_heads())
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
                          .get_current_heads())
            known = {rev.revision for rev in script.walk_revisions()}
            if current - known:
                raise LedgerError(url, f"written by a newer Depot (schema {', '.join(sorted(current - known))}, "
                                       f"this one knows up to {', '.join(sorted(heads))})")
            if current != heads:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "heads")
                conn.commit()
    except sa.exc.SQLAlchemyError as exc:
        raise LedgerError(url, f"cannot open: {exc.__class__.__name__}: {str(exc).splitlines()[0]}") from exc
