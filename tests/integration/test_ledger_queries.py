"""`depot status`, `depot report` and verify's planning at scale: every query is served by an index.

A 1,000,000-row ledger took more than 300 s to report (each page of `seq > ? ORDER BY seq` scanned and
sorted the whole table) and 2.1 s for status (its throughput scanned specimens and attempts). Timing
a million rows does not belong in the suite (bench/ledger_scale.py does it); what makes it fast does:
here SQLite's own query plan for every statement those commands send, on a real ledger.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from depot.deposit.commands.status import show_status, write_report, write_versions
from depot.deposit.ledger import Ledger
from depot.deposit.models import FileSpec, PlannedRecord

# A full pass over a table's rows (a pass over an index, as a grouped count, is fine): what made a page
# of the report cost as much as the whole ledger.
FULL_SCAN = re.compile(r"SCAN (specimens|attempts|versions|files)( |$)(?!USING)")


def make_ledger(path: Path, tmp_path: Path, n: int = 30) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(b"png")
    ledger = Ledger.open(path)
    ledger.plan([PlannedRecord(f"k{i}", {"title": f"Sheet {i}"}, (FileSpec(str(image), f"k{i}.png"),))
                 for i in range(n)])
    for i in range(0, n, 2):
        ledger.mark_created(f"k{i}", deposition_id=100 + i, bucket_url="http://x/api/files/b")
        ledger.mark_file_uploaded(f"k{i}", f"k{i}.png", server_checksum="md5:a", md5="a", sha256="b", size=3)
        ledger.mark_published(f"k{i}", doi=f"10.5072/x.{i}", concept_doi=None,
                              record_url=f"http://x/records/{100 + i}")
        ledger.record_attempt(f"k{i}", "publish", 502 if i % 4 else 202, None, 0.1)
    ledger.mark_failed("k1", step="publish", status=400, message="metadata.title: too short")
    ledger.close()


def plans_of(path: Path, action: Any) -> list[str]:
    """Run ``action`` and return SQLite's query plan of every SELECT it sent to the ledger at ``path``."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "depot_ledger_version" not in statement:
            statements.append((statement, parameters))

    sa.event.listen(sa.Engine, "before_cursor_execute", capture)
    try:
        action()
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", capture)
    engine = sa.create_engine(f"sqlite:///{path}")
    plans = []
    with engine.connect() as conn:
        for statement, parameters in statements:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            plans.append(statement.split("FROM")[0][:60] + " => " + " | ".join(r[-1] for r in rows))
    engine.dispose()
    assert statements, "no statement captured"
    return plans


def test_status_reads_no_table_in_full(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    make_ledger(path, tmp_path)
    out = io.StringIO()
    plans = plans_of(path, lambda: show_status(str(path), True, out))
    assert [p for p in plans if FULL_SCAN.search(p)] == [], plans
    assert '"errors_by_status":{"502":7}' in out.getvalue() and '"requests":15' in out.getvalue()


def test_report_pages_by_an_index(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    make_ledger(path, tmp_path)
    out = io.StringIO()
    plans = plans_of(path, lambda: write_report(str(path), "csv", out))
    assert [p for p in plans if FULL_SCAN.search(p)] == [], plans
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["key"] for r in rows] == [f"k{i}" for i in range(30)]  # source order, one row per file
    # the ledger keeps record paths; with no target remembered (made by hand here) the link is a path too
    assert rows[0]["link"] == "/api/records/100/files/k0.png/content"
    assert rows[1]["error"] == "metadata.title: too short"
    versions = io.StringIO()
    assert [p for p in plans_of(path, lambda: write_versions(str(path), "csv", versions))
            if FULL_SCAN.search(p)] == []
    assert versions.getvalue().count("10.5072/x.") == 15


def test_verify_planning_pages_by_an_index(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    make_ledger(path, tmp_path)

    def plan() -> None:
        ledger = Ledger.open(path)
        assert [c.key for page in ledger.iter_to_verify() for c in page] == [f"k{i}" for i in range(0, 30, 2)]
        ledger.close()

    plans = plans_of(path, plan)
    assert [p for p in plans if FULL_SCAN.search(p)] == [], plans


def test_throughput_counts_from_the_first_request_not_the_first_publication(tmp_path: Path) -> None:
    """Two records published 4 ms apart after 10 s of requests: about 720 an hour, not 1.8 million."""
    from depot.deposit.ledger.tables import attempts, specimens

    path = tmp_path / "ledger.sqlite3"
    make_ledger(path, tmp_path, n=4)  # k0 and k2 published
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.update(specimens).where(specimens.c.key == "k0")
                     .values(published_at="2026-12-04T10:00:10.000+00:00"))
        conn.execute(sa.update(specimens).where(specimens.c.key == "k2")
                     .values(published_at="2026-12-04T10:00:10.004+00:00"))
        first = conn.execute(sa.select(sa.func.min(attempts.c.id))).scalar_one()
        conn.execute(sa.update(attempts).where(attempts.c.id == first)
                     .values(at="2026-12-04T10:00:00.500+00:00", duration_ms=500))
    engine.dispose()
    ledger = Ledger.open(path)
    try:
        speed = ledger.throughput()
    finally:
        ledger.close()
    assert speed["published"] == 2 and speed["records_per_hour"] == round(2 / 10.004 * 3600, 1)  # 719.7
