"""A bulk batch settled in the ledger (BatchLedger.settle), on SQLite and PostgreSQL: each outcome lands as
its own per-record counterpart would (mark_published, a failure, back to planned), in one transaction."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from depot.deposit.ledger import Ledger
from depot.deposit.ledger.batches import BatchLedger, Outcome
from depot.deposit.ledger.tables import specimens
from depot.deposit.models import FileSpec, PlannedRecord


def planned(ledger: Ledger, tmp_path: Path, n: int) -> None:
    records = []
    for i in range(n):
        image = tmp_path / f"{i}.png"
        image.write_bytes(b"png %d" % i)
        records.append(PlannedRecord(f"k{i}", {"title": f"Sheet {i}"}, (FileSpec(str(image), image.name),)))
    ledger.plan(records)


def test_settle_gives_each_specimen_its_outcome(ledger_url: str, tmp_path: Path) -> None:
    ledger = Ledger.open(ledger_url)
    planned(ledger, tmp_path, 5)
    batches = BatchLedger(ledger)
    assert [c.key for c in batches.form("b1", 5, "2026-12-03T00:00:00+00:00")] == [f"k{i}" for i in range(5)]
    counts = batches.settle("b1", [
        Outcome("k0", "published", 10, "10.5072/depot.10", "10.5072/depot.9", "http://x/records/10"),
        Outcome("k1", "exists", 12, "10.5072/depot.12", "10.5072/depot.11", "http://x/records/12",
                "A record with this key is already published."),
        Outcome("k2", "failed", message="metadata.title: required"),
        Outcome("k3", "published", 14, "10.5072/depot.14", "10.5072/depot.13", "http://x/records/14"),
    ], batch_message=None)  # k4: the job did not reach it
    assert counts == {"published": 2, "exists": 1, "failed": 1, "pending": 1}
    rows = {k: ledger.get(k) for k in ("k0", "k1", "k2", "k3", "k4")}
    assert {k: r.state for k, r in rows.items()} == {
        "k0": "published", "k1": "published", "k2": "failed", "k3": "published", "k4": "planned"}
    assert (rows["k0"].doi, rows["k0"].record_id, rows["k3"].deposition_id) == ("10.5072/depot.10", 10, 14)
    with ledger.engine.connect() as conn:
        urls = dict(conn.execute(sa.select(specimens.c.key, specimens.c.record_url)).all())
        batch_ids = set(conn.execute(sa.select(specimens.c.batch_id)).scalars())
    assert urls["k0"] == "/records/10" and urls["k1"] == "/records/12" and urls["k2"] is None
    assert batch_ids == {None}
    assert rows["k2"].last_error == "metadata.title: required" and rows["k2"].attempts == 1
    assert all(f.uploaded for k in ("k0", "k1", "k3") for f in rows[k].files)
    assert not any(f.uploaded for f in rows["k2"].files)
    versions = {v["key"]: v for v in ledger.iter_versions()}
    assert sorted(versions) == ["k0", "k1", "k3"]
    assert versions["k0"]["version"] == 1 and versions["k0"]["deposition_id"] == 10
    assert versions["k1"]["concept_doi"] == "10.5072/depot.11"
    assert [f["name"] for f in versions["k3"]["files"]] == ["3.png"]
    assert batches.open_batches() == []
    ledger.close()


def test_a_settled_record_that_was_published_before_keeps_one_version(ledger_url: str, tmp_path: Path) -> None:
    """A batch settled twice (a rerun asks the server for the job again) leaves one version per record."""
    ledger = Ledger.open(ledger_url)
    planned(ledger, tmp_path, 1)
    batches = BatchLedger(ledger)
    batches.form("b1", 1, "2026-12-03T00:00:00+00:00")
    outcome = Outcome("k0", "published", 10, "10.5072/depot.10", "10.5072/depot.9", "http://x/records/10")
    batches.settle("b1", [outcome])
    ledger.mark_published("k0", doi=outcome.doi, concept_doi=outcome.concept_doi, record_url=outcome.record_url,
                          record={"id": 10})
    assert [(v["key"], v["version"]) for v in ledger.iter_versions()] == [("k0", 1)]
    ledger.close()


def test_a_batched_specimen_rejected_by_a_later_plan_stays_in_its_batch(ledger_url: str, tmp_path: Path) -> None:
    """A rerun that finds a problem (an images folder not given, a file gone) while a batch of an earlier
    run may be published already: the specimen keeps its batch, with the reason stored, so settling that
    batch publishes it instead of a new batch sending it again."""
    ledger = Ledger.open(ledger_url)
    planned(ledger, tmp_path, 2)
    batches = BatchLedger(ledger)
    assert len(batches.form("b1", 2, "2026-12-03T00:00:00+00:00")) == 2
    batches.mark_sent("b1", "http://x/api/bulk/j1")
    summary = ledger.plan([PlannedRecord("k1", {"title": "Sheet 1"}, problems=("image not found: 1.png",))])
    assert summary.skipped == 1
    row = ledger.get("k1")
    assert row is not None and row.state == "batched"
    assert batches.form("b2", 2, "2026-12-03T00:00:01+00:00") == []  # nothing to send again
    batches.settle("b1", [Outcome(f"k{i}", "published", 10 + 2 * i, f"10.5072/depot.{10 + 2 * i}",
                                  f"10.5072/depot.{9 + 2 * i}", f"http://x/records/{10 + 2 * i}") for i in range(2)])
    assert [ledger.get(k).state for k in ("k0", "k1")] == ["published", "published"]  # type: ignore[union-attr]
    ledger.close()
