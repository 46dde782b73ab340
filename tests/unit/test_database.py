"""The shared engine-and-migrations module: both schemas' heads as Alembic sees them, a database written
by a newer Depot refused and left untouched, the SQLite file private where asked."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from depot import database
from depot.deposit.errors import LedgerError
from depot.deposit.ledger import engine as ledger_engine
from depot.repository.store import db as store_db


@pytest.mark.parametrize("schema", [ledger_engine.SCHEMA, store_db.SCHEMA], ids=["ledger", "store"])
def test_heads_read_from_the_files_are_alembics(schema: database.Schema) -> None:
    heads = set(ScriptDirectory.from_config(schema.alembic_config()).get_heads())
    assert heads and schema.shipped_heads() == heads


@pytest.mark.parametrize("schema", [ledger_engine.SCHEMA, store_db.SCHEMA], ids=["ledger", "store"])
def test_upgrade_reaches_every_head_once(tmp_path: Path, schema: database.Schema) -> None:
    engine = database.create_engine(str(tmp_path / "x.sqlite3"), lock="on_write", busy_timeout_s=5)
    assert not schema.is_current(engine)
    schema.upgrade(engine)
    assert schema.is_current(engine)
    schema.upgrade(engine)  # idempotent
    with engine.connect() as conn:
        assert schema.current(conn) == schema.shipped_heads()
    engine.dispose()


def _stamp_unknown(engine: sa.Engine, table: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO {table} (version_num) VALUES ('9999_from_the_future')")


def test_a_store_written_by_a_newer_depot_is_refused_and_untouched(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'repo.sqlite3'}"
    store_db.Database.open(url).dispose()
    engine = store_db.create_engine(url)
    _stamp_unknown(engine, store_db.VERSION_TABLE)
    with pytest.raises(database.NewerSchemaError, match="9999_from_the_future"):
        store_db.Database.open(url)
    with engine.connect() as conn:
        assert "9999_from_the_future" in store_db.SCHEMA.current(conn)
    engine.dispose()


def test_a_ledger_written_by_a_newer_depot_is_a_ledger_error(tmp_path: Path) -> None:
    url = ledger_engine.database_url(tmp_path / "ledger.sqlite3")
    engine = ledger_engine.create_engine(url)
    ledger_engine.migrate(engine, url)
    _stamp_unknown(engine, ledger_engine.VERSION_TABLE)
    with pytest.raises(LedgerError, match="newer Depot"):
        ledger_engine.migrate(engine, url)
    engine.dispose()


def test_the_store_file_is_private_and_a_path_is_an_absolute_sqlite_url(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "repo.sqlite3"
    store_db.create_engine(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert database.sqlalchemy_url("ledger.db") == f"sqlite:///{Path('ledger.db').resolve()}"
    assert database.sqlalchemy_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
