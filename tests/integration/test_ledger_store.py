"""The ledger on SQLite and PostgreSQL: plans, claims and leases, transitions, versions, durability."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from depot.deposit.errors import LedgerError
from depot.deposit.ledger import Ledger
from depot.deposit.models import FileSpec, PlannedRecord

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)




def record(key: str, title: str = "A sheet", path: Path | None = None) -> PlannedRecord:
    files = (FileSpec(str(path), path.name),) if path else ()
    return PlannedRecord(key, {"title": title}, files)


def test_plan_is_incremental(ledger_url: str, tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(b"png")
    ledger = Ledger.open(ledger_url)
    first = ledger.plan([record("k1", path=image), record("k2"), PlannedRecord("k3", {}, problems=("no image",))])
    assert (first.new, first.skipped, first.problems) == (2, 1, [("k3", "no image")])
    again = ledger.plan([record("k1", path=image), record("k2", title="Renamed")])
    assert (again.new, again.unchanged, again.changed) == (0, 1, 1)
    assert ledger.get("k2").metadata == {"title": "Renamed"}
    image.write_bytes(b"a new scan")  # a changed file is a changed record too
    assert ledger.plan([record("k1", path=image)]).changed == 1
    ledger.close()


def test_state_machine_and_versions(ledger_url: str, tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(b"png")
    ledger = Ledger.open(ledger_url)
    ledger.plan([record("k1", path=image)])
    (claim,) = ledger.claim(5, owner="w1", lease_seconds=60, now=NOW)
    assert claim.state == "planned" and claim.files[0].name == "a.png"
    ledger.mark_uncertain("k1", "create")
    assert ledger.get("k1").state == "uncertain" and ledger.get("k1").step == "create"
    ledger.mark_created("k1", deposition_id=7, bucket_url="http://x/api/files/b")
    ledger.mark_file_uploaded("k1", "a.png", server_checksum="md5:abc", md5="abc", sha256="def", size=3)
    assert ledger.get("k1").state == "uploaded"
    ledger.mark_published("k1", doi="10.5072/depot.7", concept_doi="10.5072/depot.6",
                          record_url="http://x/records/7")
    assert ledger.counts_by_state() == {"published": 1}
    ledger.record_attempt("k1", "publish", 504, "Gateway Timeout", 1.5)
    ledger.record_attempt("k1", "create", None, "reset", 0.1)
    assert ledger.errors_by_status() == {"network": 1, "504": 1}
    (row, url, concept) = next(ledger.iter_report())
    assert row.doi == "10.5072/depot.7" and url == "/records/7" and concept == "10.5072/depot.6"
    with ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version, doi FROM versions").all() == [(1, "10.5072/depot.7")]
    ledger.close()


def test_leases_expire_and_are_not_shared(ledger_url: str) -> None:
    a, b = Ledger.open(ledger_url), Ledger.open(ledger_url)  # two connections, as two workers would have
    a.plan([record(f"k{i}") for i in range(4)])
    got_a = a.claim(3, owner="a", lease_seconds=60, now=NOW)
    got_b = b.claim(3, owner="b", lease_seconds=60, now=NOW)
    assert [c.key for c in got_a] == ["k0", "k1", "k2"] and [c.key for c in got_b] == ["k3"]
    assert b.claim(3, owner="b", lease_seconds=60, now=NOW + timedelta(seconds=30)) == []
    later = b.claim(3, owner="b", lease_seconds=60, now=NOW + timedelta(seconds=61))
    assert [c.key for c in later] == ["k0", "k1", "k2"]
    assert a.next_ready_in(now=NOW + timedelta(seconds=61)) == 0.0  # k3's lease has run out
    assert a.next_ready_in(now=NOW + timedelta(seconds=62)) == 0.0
    a.claim(1, owner="a", lease_seconds=60, now=NOW + timedelta(seconds=61))
    assert b.next_ready_in(now=NOW + timedelta(seconds=61)) == pytest.approx(60, abs=1)
    a.close()
    b.close()


def test_a_replan_counts_what_an_earlier_run_left_to_send(ledger_url: str) -> None:
    """A rerun after a kill plans nothing new, but says how many unchanged specimens still have requests
    to come (before, "0 new ... 3 unchanged" was followed by 2 records published)."""
    ledger = Ledger.open(ledger_url)
    ledger.plan([record("k1"), record("k2"), record("k3")])
    ledger.mark_published("k1", doi="10.5281/zenodo.1", concept_doi=None, record_url=None, record={"id": 1})
    ledger.mark_uncertain("k2", "create")
    again = ledger.plan([record("k1"), record("k2"), record("k3")])
    assert (again.new, again.unchanged, again.left) == (0, 3, 2)
    ledger.close()


def test_retry_waits_and_failure_is_kept(ledger_url: str) -> None:
    ledger = Ledger.open(ledger_url)
    ledger.plan([record("k1"), record("k2")])
    ledger.mark_retry("k1", step="create", status=503, message="Service Unavailable",
                      retry_at=NOW + timedelta(seconds=30))
    assert [c.key for c in ledger.claim(5, owner="w", lease_seconds=300, now=NOW)] == ["k2"]
    assert [c.key for c in ledger.claim(5, owner="w", lease_seconds=300, now=NOW + timedelta(seconds=31))] == ["k1"]
    ledger.mark_failed("k2", step="publish", status=400, message="metadata.title: too short")
    assert ledger.failures() == [("k2", "publish", 400, "metadata.title: too short")]
    # A record the repository refused is not planned again unchanged, but is once changed.
    assert ledger.plan([record("k2")]).unchanged == 1
    assert ledger.plan([record("k2", title="A longer title")]).retried == 1
    ledger.close()


def test_dead_leases_of_this_host_are_freed(ledger_url: str) -> None:
    ledger = Ledger.open(ledger_url)
    ledger.plan([record("k1")])
    ledger.claim(1, owner="here:999999:x", lease_seconds=300, now=NOW)
    assert ledger.release_dead_leases("elsewhere", lambda pid: False) == 0
    assert ledger.release_dead_leases("here", lambda pid: True) == 0
    assert ledger.release_dead_leases("here", lambda pid: False) == 1
    assert ledger.claim(1, owner="me", lease_seconds=1, now=NOW)
    ledger.close()


def test_a_killed_writer_leaves_nothing_half_written(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    Ledger.open(path).plan([record("k1")])
    code = (
        "import os, sqlalchemy as sa\n"
        "from depot.deposit.ledger import Ledger\n"
        f"l = Ledger.open({str(path)!r})\n"
        "conn = l.engine.connect(); tx = conn.begin()\n"
        "conn.exec_driver_sql(\"UPDATE specimens SET state='published', doi='x' WHERE key='k1'\")\n"
        "os._exit(9)  # die inside the transaction, as kill -9 would\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False)
    ledger = Ledger.open(path)
    assert ledger.get("k1").state == "planned" and ledger.get("k1").doi is None
    ledger.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    Ledger.open(path).close()
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        # one row per head (features add independent revisions): a newer Depot's schema is one unknown head
        conn.exec_driver_sql("DELETE FROM depot_ledger_version")
        conn.exec_driver_sql("INSERT INTO depot_ledger_version (version_num) VALUES ('9999')")
    engine.dispose()
    with pytest.raises(LedgerError, match="newer Depot"):
        Ledger.open(path)


def test_unusable_ledger_path_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-db.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="cannot open"):
        Ledger.open(bad)


def test_failed_records_resume_their_deposition_never_a_new_one(ledger_url: str) -> None:
    ledger = Ledger.open(ledger_url)
    ledger.plan([record("k1"), record("k2"), record("k3"), record("k4")])
    ledger.mark_created("k1", deposition_id=1, bucket_url="b1")
    ledger.mark_failed("k1", step="publish", status=504, message="Gateway Timeout")  # may have published
    ledger.mark_created("k2", deposition_id=2, bucket_url="b2")
    ledger.mark_failed("k2", step="upload", status=502, message="Bad Gateway")
    ledger.mark_failed("k3", step="create", status=None, message="connection refused")
    ledger.mark_failed("k4", step="create", status=400, message="metadata.title")  # refused: stays failed
    assert ledger.retry_failed() == 3
    states = {k: (ledger.get(k).state, ledger.get(k).step) for k in ("k1", "k2", "k3", "k4")}
    assert states == {"k1": ("uncertain", "publish"), "k2": ("created", None), "k3": ("planned", None),
                      "k4": ("failed", "create")}
    ledger.mark_failed("k2", step="upload", status=502, message="Bad Gateway")
    assert ledger.plan([record("k2", title="changed")]).retried == 1
    assert ledger.get("k2").state == "created" and ledger.get("k2").deposition_id == 2
    ledger.close()


def test_a_database_failure_in_a_transition_is_a_ledger_error(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # The same file opened read-only: every write fails inside the transaction (SQLite "attempt to write
    # a readonly database"), which used to escape as a bare sqlalchemy OperationalError.
    path = tmp_path / "ledger.sqlite3"
    Ledger.open(path).plan([record("k1")])
    ledger = Ledger.open(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert ledger.counts_by_state() == {"planned": 1}  # reading still works
    with pytest.raises(LedgerError, match="readonly"):
        ledger.mark_failed("k1", step="create", status=500, message="x")
    with pytest.raises(LedgerError):
        ledger.claim(1, owner="h:1:a", lease_seconds=60, now=NOW)
    ledger.close()


def test_run_on_an_unwritable_ledger_exits_fatal_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    Ledger.open(path).close()
    csv = tmp_path / "sheets.csv"
    csv.write_text("catalogNumber,scientificName\nBR1,Quercus robur L.\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "depot", "run", str(csv), "--ledger",
                             f"sqlite:///file:{path}?mode=ro&uri=true", "--target", "local", "--repo-dir",
                             str(tmp_path / "repo"),
                             "--var", "institution=Meise Botanic Garden", "--var", "license=cc-by-4.0",
                             "--progress", "quiet"], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={"DEPOT_TOKEN": "t", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 3, result.stderr  # ExitCode.FATAL, as docs/errors.md promises
    assert "ledger" in result.stderr and "readonly" in result.stderr
    assert "Traceback" not in result.stderr
