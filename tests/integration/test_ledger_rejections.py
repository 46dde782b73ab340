"""Planning rejects what the verdict blocks and every row of a duplicate key; the runner never claims them."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import pytest

from depot.deposit.commands.status import show_status, write_report
from depot.deposit.ledger import Ledger
from depot.deposit.ledger.states import State
from depot.deposit.models import FileSpec, PlannedRecord
from depot.deposit.verdict import judge

from conftest import png_image

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
JUDGE = partial(judge, today=date(2026, 1, 1))




@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "sheet.png"
    path.write_bytes(png_image("sheet"))
    return path


def rec(key: str, image: Path, row: int, title: str | None = None) -> PlannedRecord:
    meta = {"title": title or f"Quercus robur L. ({key})", "upload_type": "image", "image_type": "photo",
            "description": "A sheet.", "creators": [{"name": "Meise Botanic Garden"}], "access_right": "open",
            "license": "cc-by-4.0"}
    return PlannedRecord(key, meta, (FileSpec(str(image), image.name),), row=row)


def claimed(ledger: Ledger) -> list[str]:
    keys = [c.key for c in ledger.claim(10_000, owner="w", lease_seconds=60, now=NOW)]
    for key in keys:
        ledger.release(key, "w")
    return keys


def test_a_specimen_with_a_problem_is_rejected_never_claimed_and_eligible_once_fixed(
        ledger_url: str, tmp_path: Path, image: Path) -> None:
    empty = tmp_path / "BR2.png"
    empty.write_bytes(b"")
    ledger = Ledger.open(ledger_url)
    summary = ledger.plan([rec("BR1", image, 1), rec("BR2", empty, 2)], judge=JUDGE)
    assert (summary.new, summary.skipped) == (1, 1)
    assert ledger.counts_by_state() == {State.PLANNED: 1, State.REJECTED: 1}
    got = ledger.get("BR2")
    assert (got.state, got.source_row, got.rejected_file) == (State.REJECTED, 2, str(empty))
    assert got.rejected_reason and "empty" in got.rejected_reason
    assert claimed(ledger) == ["BR1"]  # never the rejected one
    assert ledger.next_ready_in(now=NOW) == 0.0
    # Unchanged source: still rejected. Fixed source: planned, the reason gone.
    assert ledger.plan([rec("BR1", image, 1), rec("BR2", empty, 2)], judge=JUDGE).skipped == 1
    empty.write_bytes(image.read_bytes())
    again = ledger.plan([rec("BR1", image, 1), rec("BR2", empty, 2)], judge=JUDGE)
    assert (again.skipped, again.retried, again.unchanged) == (0, 1, 1)
    fixed = ledger.get("BR2")
    assert (fixed.state, fixed.rejected_reason) == (State.PLANNED, None)
    assert sorted(claimed(ledger)) == ["BR1", "BR2"]
    ledger.close()


def test_adjacent_duplicate_keys_reject_both_rows_without_an_integrity_error(ledger_url: str, image: Path) -> None:
    ledger = Ledger.open(ledger_url)
    summary = ledger.plan([rec("BR1", image, 1), rec("BR2", image, 2), rec("BR2", image, 3, "Other title")],
                          judge=JUDGE)
    assert (summary.new, summary.skipped, summary.duplicates) == (1, 1, 1)
    got = ledger.get("BR2")
    assert got.state == State.REJECTED and got.source_row == 2
    assert got.rejected_reason and "rows 2, 3" in got.rejected_reason
    assert claimed(ledger) == ["BR1"]
    ledger.close()


def test_duplicates_far_apart_reject_the_first_too_and_nothing_is_replaced(ledger_url: str, image: Path) -> None:
    ledger = Ledger.open(ledger_url)
    records = [rec(f"K{i:04d}", image, i) for i in range(1, 1201)]
    records.insert(1100, rec("K0005", image, 9999, "A different specimen"))
    summary = ledger.plan(records, judge=JUDGE)
    assert (summary.new, summary.skipped, summary.duplicates) == (1199, 1, 1)
    got = ledger.get("K0005")
    assert got.state == State.REJECTED and got.metadata["title"] == "Quercus robur L. (K0005)"  # not replaced
    assert got.rejected_reason and "rows 5, 9999" in got.rejected_reason
    assert "K0005" not in claimed(ledger)
    # The source fixed (the second row removed): the specimen is planned again.
    del records[1100]
    again = ledger.plan(records, judge=JUDGE)
    assert (again.skipped, again.retried) == (0, 1) and ledger.get("K0005").state == State.PLANNED
    ledger.close()


def test_a_published_specimen_keeps_its_state_when_its_source_goes_bad(ledger_url: str, image: Path) -> None:
    ledger = Ledger.open(ledger_url)
    ledger.plan([rec("BR1", image, 1)], judge=JUDGE)
    ledger.mark_created("BR1", deposition_id=7, bucket_url="http://x/b")
    md5 = hashlib.md5(image.read_bytes()).hexdigest()
    ledger.mark_file_uploaded("BR1", image.name, server_checksum=f"md5:{md5}", md5=md5, sha256="y",
                              size=image.stat().st_size)
    ledger.mark_published("BR1", doi="10.5072/depot.7", concept_doi="10.5072/depot.6", record_url="http://x/r/7")
    # A sync whose source now holds BR1 twice, the first row changed, the second 600 rows later (so the
    # first was planned as an edit before the second was read): the edit is undone.
    fillers = [rec(f"F{i}", image, i + 2) for i in range(600)]
    summary = ledger.plan([rec("BR1", image, 1, "Quercus petraea (BR1)"), *fillers, rec("BR1", image, 602)],
                          sync=True, judge=JUDGE)
    assert summary.duplicates == 1
    with ledger.engine.connect() as conn:
        hashes = conn.exec_driver_sql("SELECT s.metadata_hash, v.metadata_hash FROM specimens s "
                                      "JOIN versions v ON v.specimen_key = s.key").one()
    assert hashes[0] == hashes[1]  # what was published, so a later sync still sees the change
    got = ledger.get("BR1")
    assert got.state == State.PUBLISHED and got.op is None and not got.pending_put
    assert got.rejected_reason and "rows 1, 602" in got.rejected_reason
    assert "BR1" not in claimed(ledger)
    # The duplicate removed: the next sync edits the published record, and the reason is gone.
    fixed = ledger.plan([rec("BR1", image, 1, "Quercus petraea (BR1)"), *fillers], sync=True, judge=JUDGE)
    assert fixed.edits == 1 and fixed.skipped == 0
    assert ledger.get("BR1").op == "edit" and ledger.get("BR1").rejected_reason is None
    ledger.close()


def test_status_and_report_show_rejected_specimens(tmp_path: Path, image: Path) -> None:
    url = str(tmp_path / "ledger.sqlite3")
    missing = tmp_path / "BR3.png"
    ledger = Ledger.open(url)
    ledger.plan([rec("BR1", image, 1), rec("BR2", image, 2), rec("BR2", image, 4), rec("BR3", missing, 3)],
                judge=JUDGE)
    ledger.close()
    out = io.StringIO()
    show_status(url, False, out)
    text = out.getvalue()
    assert "rejected          2" in text and "left to do: 1; 2 rejected" in text
    assert f"rejected BR3 (row 3, {missing}): " in text and "rejected BR2 (row 2): duplicate key" in text
    out = io.StringIO()
    show_status(url, True, out)
    as_json = json.loads(out.getvalue())
    assert as_json["states"]["rejected"] == 2 and {r["key"] for r in as_json["rejected"]} == {"BR2", "BR3"}
    report = io.StringIO()
    write_report(url, "csv", report)
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(report.getvalue()))}
    assert rows["BR3"]["state"] == "rejected" and rows["BR3"]["row"] == "3" and "no such file" in rows["BR3"]["error"]
    assert rows["BR3"]["problem_file"] == str(missing) and rows["BR1"]["error"] == ""


def test_a_rerun_that_lost_the_images_says_where_an_earlier_run_found_them(
        ledger_url: str, tmp_path: Path, image: Path) -> None:
    """The everyday slip: a rerun without the first run's --images or --path-template. Each specimen's image
    is then "not found" where this run looks; where an earlier plan found it, still there, is said too."""
    ledger = Ledger.open(ledger_url)
    gone = tmp_path / "old" / "BR2.png"
    gone.parent.mkdir()
    gone.write_bytes(png_image("BR2"))
    ledger.plan([rec("BR1", image, 1), rec("BR2", gone, 2)], judge=JUDGE)
    ledger.mark_published("BR1", doi="10.5072/x.1", concept_doi=None, record_url=None, record={"id": 1})
    gone.unlink()  # BR2's image is gone from where the first plan found it too: nothing to point at
    elsewhere = tmp_path / "elsewhere"
    summary = ledger.plan([rec("BR1", elsewhere / "sheet.png", 1), rec("BR2", elsewhere / "BR2.png", 2)],
                          judge=JUDGE)
    assert summary.skipped == 2
    hint = (f"an earlier run found its image at {image}, which is still there: give this run the same --images "
            "and --path-template as that one")
    assert ledger.get("BR1").rejected_reason.endswith(hint)  # type: ignore[union-attr]
    assert ledger.get("BR1").state is State.PUBLISHED  # the record keeps its state; only the reason is told
    assert (("BR1", hint) in summary.problems) and not any(k == "BR2" and "earlier run" in m
                                                          for k, m in summary.problems)
    assert "earlier run" not in (ledger.get("BR2").rejected_reason or "")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    again = ledger.plan([rec("BR1", empty, 1)], judge=JUDGE)  # found, but refused for another reason
    assert again.skipped == 1 and "earlier run" not in (ledger.get("BR1").rejected_reason or "")
    ledger.close()
