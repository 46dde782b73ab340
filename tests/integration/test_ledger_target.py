"""The ledger remembers its target (revision 0005_target), keeps links as paths, and is never created by a read."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from depot.deposit.errors import ConfigError
from depot.deposit.ledger import Ledger
from depot.deposit.ledger.engine import SCHEMA, VERSION_TABLE, create_engine, database_url
from depot.deposit.ledger.remembered import LedgerMissing, RememberedTarget
from depot.deposit.models import PlannedRecord


def old_ledger(url: str, last_target: str) -> None:
    """A ledger as Depot wrote it before 0005_target: schema 0002, one run, an absolute bucket URL."""
    engine = create_engine(database_url(url))
    cfg = SCHEMA.alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.commit()
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO runs (started, target, source, profile, published, failed) "
                             "VALUES ('2026-11-01T00:00:00+00:00', :t, 'src', 'specimen', 0, 0)"), {"t": last_target})
    engine.dispose()


@pytest.mark.parametrize(("last", "expected"), [
    ("https://zenodo.org/api", "zenodo"),
    ("https://repo.example.org/api", "https://repo.example.org/api"),
    ("http://127.0.0.1:41234/api", None),  # the embedded repository's port of the day, or a depot serve: unknown
])
def test_an_old_ledger_learns_its_target_from_its_last_run(ledger_url: str, last: str, expected: str | None) -> None:
    old_ledger(ledger_url, last)
    ledger = Ledger.open(ledger_url)
    remembered = ledger.target()
    assert (remembered.name if remembered else None) == expected
    ledger.remember_target(RememberedTarget("local", Path("/data/repo")))
    ledger.remember_target(RememberedTarget("sandbox"))
    assert ledger.target() == RememberedTarget("sandbox")
    ledger.close()


def test_links_are_stored_without_host_or_port(ledger_url: str) -> None:
    ledger = Ledger.open(ledger_url)
    ledger.plan([PlannedRecord("k1", {"title": "Sheet 1"})])
    ledger.mark_created("k1", deposition_id=7, bucket_url="http://127.0.0.1:41234/api/files/b-uuid")
    assert ledger.get("k1").bucket_url == "/api/files/b-uuid"
    ledger.mark_published("k1", doi="10.5072/depot.7", concept_doi=None, record_url="http://127.0.0.1:41234/records/7")
    (claim, record_url, _concept) = next(ledger.iter_report())
    assert record_url == "/records/7" and claim.bucket_url == "/api/files/b-uuid"
    sample = ledger.sample_deposit()
    assert sample is not None and (sample.key, sample.deposition_id, sample.doi, sample.title, sample.bucket) == \
        ("k1", 7, "10.5072/depot.7", "Sheet 1", "/api/files/b-uuid")
    ledger.close()


def test_a_read_never_creates_a_ledger(tmp_path: Path) -> None:
    missing = tmp_path / "typo.sqlite3"
    with pytest.raises(LedgerMissing, match="does not exist"):
        Ledger.open(missing, create=False)
    assert not missing.exists()
    other = tmp_path / "other.sqlite3"  # someone else's SQLite database: not touched, not a ledger
    engine = sa.create_engine(f"sqlite:///{other}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    engine.dispose()
    before = other.read_bytes()
    with pytest.raises(ConfigError, match="not a Depot ledger"):
        Ledger.open(other, create=False)
    assert other.read_bytes() == before
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all " * 20)
    with pytest.raises(ConfigError, match="not a Depot ledger"):
        Ledger.open(text, create=False)
    Ledger.open(tmp_path / "real.sqlite3").close()
    Ledger.open(tmp_path / "real.sqlite3", create=False).close()


@pytest.mark.parametrize("ledger_url", ["postgres"], indirect=True)  # an empty database exists only there
def test_a_read_of_an_empty_postgres_database_says_no_ledger(ledger_url: str) -> None:
    assert "://" in ledger_url
    with pytest.raises(LedgerMissing):
        Ledger.open(ledger_url, create=False)
    engine = create_engine(database_url(ledger_url))
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table(VERSION_TABLE)
    engine.dispose()


def test_a_ledger_file_killed_before_its_tables_is_started_again(tmp_path: Path) -> None:
    """kill -9 while `depot run` creates its ledger leaves a SQLite file with no table yet (WAL set, nothing
    committed): the next run starts the ledger in it, a read-only command says there is none."""
    import sqlite3

    path = tmp_path / "ledger.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    assert path.stat().st_size > 0
    with pytest.raises(LedgerMissing):
        Ledger.open(str(path), create=False)
    Ledger.open(str(path)).close()  # as `depot run` opens it: created, not refused
    Ledger.open(str(path), create=False).close()


def test_the_source_options_are_remembered_and_whether_anything_was_sent(ledger_url: str) -> None:
    """Table source_options (revision 0010) and the test a changed option meets (depot.deposit.source_options)."""
    ledger = Ledger.open(ledger_url)
    assert ledger.source_options() is None and not ledger.has_sent()
    ledger.remember_source_options({"profile_name": "minimal", "profile_vars": ["a=1"]})
    ledger.remember_source_options({"profile_name": "specimen", "profile_vars": []})
    assert ledger.source_options() == {"profile_name": "specimen", "profile_vars": []}
    ledger.plan([PlannedRecord("k1", {"title": "Sheet 1"})])
    assert not ledger.has_sent()  # planned only: nothing went to the target
    ledger.mark_created("k1", deposition_id=7, bucket_url="/api/files/b")
    assert ledger.has_sent()
    ledger.close()


def test_a_ledger_whose_only_work_is_a_bulk_batch_has_sent_and_is_not_probed(ledger_url: str) -> None:
    """A bulk run killed with kill -9 after sending its first batch: the rerun's ledger holds only batched
    specimens, which the server may have published. It must not take itself for a new ledger (the probe for
    the source's keys would find its own records and stop the rerun)."""
    from depot.deposit.ledger.batches import BatchLedger

    ledger = Ledger.open(ledger_url)
    ledger.plan([PlannedRecord(f"k{i}", {"title": f"Sheet {i}"}) for i in range(4)])
    assert ledger.first_keys_if_unused(20) == ["k0", "k1", "k2", "k3"]
    assert [c.key for c in BatchLedger(ledger).form("b1", 2, "2026-12-04T00:00:00+00:00")] == ["k0", "k1"]
    assert ledger.has_sent() and ledger.first_keys_if_unused(20) == []
    ledger.close()
