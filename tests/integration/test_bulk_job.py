"""run_bulk_job(ctx, job_id) on its own, as a job queue would run it: stopped between groups and run again
(a restart), run twice, or run with its unpacked files gone; each record is published exactly once."""

from __future__ import annotations

import io
import shutil
import tarfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import bagit
import pytest
import sqlalchemy as sa

from depot.deposit.bulkbag import BatchRecord, write_batch
from depot.repository.app import build_context
from depot.repository.bulk import job as bulk_job
from depot.repository.bulk.job import bulk_service, run_bulk_job, unpack_job
from depot.repository.bulk.package import safe_member, unpack
from depot.repository.config import RepositoryConfig
from depot.repository.errors import BulkPackageError
from depot.repository.jobs import register
from depot.repository.preservation import bagfiles, bagspec
from depot.repository.preservation.bags import bags_of, snapshot, snapshots
from depot.repository.preservation.service import of
from depot.repository.services.views import load_deposit
from depot.repository.store.tables import concepts, deposits, file_instances, objects, pids, record_keys, terms

from conftest import png_image


def specimen(i: int) -> dict[str, Any]:
    key = f"urn:catalog:Q:{i}"
    return {"title": f"Specimen {i}", "upload_type": "image", "image_type": "photo", "description": "A sheet.",
            "creators": [{"name": "Herbarium"}], "license": "cc-by-4.0", "keywords": ["Algae"],
            "related_identifiers": [{"identifier": key, "relation": "isAlternateIdentifier", "scheme": "urn"}]}


def accepted_job(tmp_path: Path, n: int, **settings: Any) -> tuple[Any, str]:
    settings = {"bags": False} | settings
    ctx = build_context(RepositoryConfig(data_dir=tmp_path / "repo", fixity_cycle=False, **settings))
    return ctx, accept(ctx, tmp_path, "q1", range(n))


def accept(ctx: Any, tmp_path: Path, batch_id: str, indices: Iterable[int]) -> str:
    """A job of the specimens ``indices`` (keys urn:catalog:Q:<i>), accepted for queue@example.org."""
    identity = ctx.accounts.identity_for_token(ctx.accounts.create_token("queue@example.org", "2026-12-03"))
    records = []
    for i in indices:
        image = tmp_path / f"{i}.png"
        image.write_bytes(png_image(i))
        records.append(BatchRecord(f"urn:catalog:Q:{i}", specimen(i), ((f"{i}.png", image),)))
    service = bulk_service(ctx)
    part = service.incoming() / "upload.part"
    write_batch(part, batch_id, records)
    job, created = service.accept(identity, batch_id, "tar", part, part.stat().st_size)
    assert created
    return str(job.id)


def published_keys(ctx: Any) -> list[str]:
    with ctx.deposits.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(deposits)).scalar_one() == \
            conn.execute(sa.select(sa.func.count()).select_from(record_keys)).scalar_one()
        return list(conn.execute(sa.select(record_keys.c.key)).scalars())


def test_a_stopped_job_resumes_where_it_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_job, "GROUP", 5)
    ctx, job_id = accepted_job(tmp_path, 12)
    stop = threading.Event()
    ctx.actions.on_publish.append(lambda _conn, _deposit: stop.set())  # stop once the first group is done
    run_bulk_job(ctx, job_id, stop)
    first = published_keys(ctx)
    assert len(first) == 5 and bulk_service(ctx).load(job_id).state == "running"  # type: ignore[union-attr]
    run_bulk_job(ctx, job_id)  # the restart
    keys = published_keys(ctx)
    assert sorted(keys) == sorted(f"urn:catalog:Q:{i}" for i in range(12))
    assert bulk_service(ctx).load(job_id).state == "done"  # type: ignore[union-attr]
    run_bulk_job(ctx, job_id)  # a done job is left alone
    assert len(published_keys(ctx)) == 12
    assert not (tmp_path / "repo" / "bulk" / f"{job_id}.archive").exists()


@pytest.mark.parametrize(("name", "ok"), [
    ("data/records.jsonl", True), ("bag/data/files/1/0", True), ("./bagit.txt", True),
    ("../x", False), ("/etc/passwd", False), ("data/../../x", False), ("a\\..\\b", False), ("C:/x", False),
    ("", False), (".", False), ("a\x00b", False),
])
def test_safe_member(name: str, ok: bool) -> None:
    if ok:
        assert ".." not in safe_member(name).parts
    else:
        with pytest.raises(BulkPackageError):
            safe_member(name)


@pytest.mark.parametrize("names", [
    ["bagit.txt", "data/x", "data/x/y"],  # a file, then a file inside it
    ["bagit.txt", "data/x/y", "data/x"],  # a folder, then a file of its name
    ["bagit.txt", "data/a", "data/a"],  # one name twice
])
def test_an_archive_whose_paths_collide_is_refused_with_the_path(tmp_path: Path, names: list[str]) -> None:
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(BulkPackageError, match="data/"):
        unpack(archive, "tar", tmp_path / "out", max_bytes=1 << 20, max_members=100)


def bagged_job(tmp_path: Path, n: int, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str, list[int]]:
    """A job on a repository with bags on, written on the queue's thread, its syncfs calls counted."""
    ctx, job_id = accepted_job(tmp_path, n, bags=True, bag_processes=0)
    syncs: list[int] = []
    real = bagfiles.sync_filesystem
    monkeypatch.setattr(bagfiles, "sync_filesystem", lambda path: (syncs.append(1), real(path)))
    return ctx, job_id, syncs


def recids(ctx: Any) -> dict[str, int]:
    with ctx.deposits.db.read() as conn:
        return dict(conn.execute(sa.select(record_keys.c.key, record_keys.c.deposit_id)).all())


def test_the_bags_of_a_group_are_written_together_with_one_syncfs(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_job, "GROUP", 5)
    ctx, job_id, syncs = bagged_job(tmp_path, 12, monkeypatch)
    try:
        run_bulk_job(ctx, job_id)
        assert ctx.jobs.drain(60)
        root = tmp_path / "repo" / "bags"
        assert all(len(bags_of(root, recid)) == 1 for recid in recids(ctx).values())
        assert len(recids(ctx)) == 12
        assert len(syncs) == 3  # one per group of 5, 5 and 2 records, not one per bag
        assert of(ctx).bags.written == 12  # type: ignore[union-attr]
        for bag in (b for recid in recids(ctx).values() for b in bags_of(root, recid)):
            bagit.Bag(str(bag)).validate()
        # the group's snapshots (three queries for all) are each record's own, and its bag holds that state
        with ctx.deposits.db.read() as conn:
            group = [load_deposit(conn, recid) for recid in recids(ctx).values()]
            taken = snapshots(conn, ctx.links, group)  # type: ignore[arg-type]
            created = dict(conn.execute(sa.select(concepts.c.id, concepts.c.created)).all())
            for deposit, (aip, record_json) in zip(group, taken, strict=True):
                assert deposit is not None and (aip, record_json) == snapshot(conn, ctx.links, deposit)
                assert aip["record"]["id"] == deposit.id and record_json["doi"] == deposit.doi
                assert aip["record"]["concept_created"] == created[deposit.concept_id] is not None
                name = bags_of(root, deposit.id)[0].name
                assert bagspec.digest_of_name(name) == bagspec.state_digest(aip)
    finally:
        ctx.jobs.stop()


def test_a_bag_that_fails_in_its_group_is_retried_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, job_id, _ = bagged_job(tmp_path, 4, monkeypatch)
    gate = threading.Event()
    register("test_bag_gate", lambda _ctx: gate.wait(30))
    try:
        ctx.jobs.enqueue("test_bag_gate")  # the group's bag job waits behind it
        run_bulk_job(ctx, job_id)
        broken = recids(ctx)["urn:catalog:Q:2"]
        with ctx.deposits.db.read() as conn:
            stored = load_deposit(conn, broken)
        assert stored is not None
        ctx.blobs.path(stored.files[0].uri).write_bytes(b"rotten")  # the stored copy no longer matches
        gate.set()
        assert ctx.jobs.drain(60)
        root = tmp_path / "repo" / "bags"
        written = {recid: len(bags_of(root, recid)) for recid in recids(ctx).values()}
        assert written == {recid: 0 if recid == broken else 1 for recid in recids(ctx).values()}
        failed = of(ctx).bags.failed  # type: ignore[union-attr]
        assert list(failed) == [broken] and "does not match its checksums" in failed[broken]
    finally:
        gate.set()
        ctx.jobs.stop()


def test_bags_of_publishes_waiting_together_are_written_as_one_group(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-record publishes whose bag jobs wait in the in-process queue together are bagged in one group
    (one syncfs); a record published twice meanwhile gets both its bags, each state its own."""
    ctx, _, syncs = bagged_job(tmp_path, 0, monkeypatch)
    gate = threading.Event()
    register("test_bag_gate2", lambda _ctx: gate.wait(30))
    ident = ctx.accounts.identity_for_token(ctx.accounts.create_token("group@example.org", "2026-12-04"))
    try:
        ctx.jobs.enqueue("test_bag_gate2")
        published = []
        for i in range(5):
            draft = ctx.deposits.create(ident, {"metadata": {**specimen(100 + i), "publication_date": "2026-01-01"}})
            ctx.files.commit_upload(ident, draft.bucket_id, f"{i}.png",
                                    ctx.blobs.write_file(io.BytesIO(png_image(100 + i))))
            published.append(ctx.actions.publish(ident, draft.id))
        twice = published[0]
        ctx.actions.edit(ident, twice.id)
        ctx.deposits.update(ident, twice.id, {"metadata": {**specimen(100), "title": "Edited",
                                                           "publication_date": "2026-01-01"}})
        ctx.actions.publish(ident, twice.id)
        syncs.clear()
        gate.set()
        assert ctx.jobs.drain(60)
        root = tmp_path / "repo" / "bags"
        assert {d.id: len(bags_of(root, d.id)) for d in published} == {
            d.id: 2 if d.id == twice.id else 1 for d in published}
        assert len(syncs) == 2  # the five first states in one group; the second state of a record after it
        for bag in (b for d in published for b in bags_of(root, d.id)):
            bagit.Bag(str(bag)).validate()
        assert of(ctx).bags.failed == {}  # type: ignore[union-attr]
    finally:
        gate.set()
        ctx.jobs.stop()


def test_a_bulk_record_is_indexed_as_the_per_record_path_indexes_it(tmp_path: Path) -> None:
    """Bulk ingest writes a new record's search terms and facets in one insert: the same rows as a publish
    through the per-record API of the same metadata and file."""
    ctx, job_id = accepted_job(tmp_path, 1)
    run_bulk_job(ctx, job_id)
    ident = ctx.accounts.identity_for_token(ctx.accounts.create_token("api@example.org", "2026-12-03"))
    draft = ctx.deposits.create(ident, {"metadata": specimen(0)})
    ctx.files.commit_upload(ident, draft.bucket_id, "0.png", ctx.blobs.write_file(io.BytesIO(png_image(0))))
    ctx.actions.publish(ident, draft.id)

    def indexed(deposit_id: int) -> set[tuple[str, str, str]]:
        with ctx.deposits.db.read() as conn:
            return {tuple(r) for r in conn.execute(sa.select(terms.c.scope, terms.c.field, terms.c.value)
                                                    .where(terms.c.deposit_id == deposit_id))}

    bulk = indexed(recids(ctx)["urn:catalog:Q:0"])
    assert ("record", "facet.file_type", "png") in bulk and ("deposit", "keywords", "algae") in bulk
    assert bulk == indexed(draft.id)
    ctx.jobs.stop()


def test_a_job_unpacked_ahead_and_never_published_is_resumed(tmp_path: Path) -> None:
    """The server's worker unpacks the next job while one publishes: a stop (or a crash) between the two
    halves leaves the job running, and running it again publishes every record once."""
    ctx, job_id = accepted_job(tmp_path, 3)
    unpacked = unpack_job(ctx, job_id)
    assert unpacked is not None and bulk_service(ctx).load(job_id).state == "running"  # type: ignore[union-attr]
    assert published_keys(ctx) == []
    shutil.rmtree(bulk_service(ctx).work_dir(job_id))  # a restart: the unpacked files are gone
    assert bulk_service(ctx).open_jobs() == [job_id]
    run_bulk_job(ctx, job_id)
    assert sorted(published_keys(ctx)) == [f"urn:catalog:Q:{i}" for i in range(3)]
    assert unpack_job(ctx, job_id) is None  # done: nothing to unpack again
    ctx.jobs.stop()


def rows(ctx: Any) -> dict[str, list[tuple[Any, ...]]]:
    """What publishing wrote, without the values that differ between two runs (uuids, clocks)."""
    tables = {"pids": (pids, ()), "concepts": (concepts, ("created",)),
              "deposits": (deposits, ("bucket_id", "created", "modified", "published")),
              "objects": (objects, ("id", "bucket_id", "version_id", "file_id", "created", "updated")),
              "record_keys": (record_keys, ()), "terms": (terms, ("id",))}
    out = {}
    with ctx.deposits.db.read() as conn:
        for name, (table, skip) in tables.items():
            columns = [c for c in table.c if c.name not in skip]
            out[name] = sorted(tuple(str(v) for v in row) for row in conn.execute(sa.select(*columns)))
    return out


def test_a_group_published_together_writes_what_one_by_one_writes(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A group's records are published with one statement per table; the per-record path (its fallback)
    writes the same rows."""
    together, job_id = accepted_job(tmp_path / "together", 4)
    run_bulk_job(together, job_id)
    monkeypatch.setattr(bulk_job._Ingest, "_publish_together", lambda self, conn, items, now: None)
    alone, job_id = accepted_job(tmp_path / "alone", 4)
    run_bulk_job(alone, job_id)
    first, second = rows(together), rows(alone)
    assert len(first["deposits"]) == 4 and len(first["terms"]) > 40
    assert first == second
    for ctx in (together, alone):
        with ctx.deposits.db.read() as conn:
            for recid in recids(ctx).values():
                deposit = load_deposit(conn, recid)
                assert deposit is not None and deposit.state == "done"
                assert deposit.doi and deposit.doi.endswith(f".{recid}") and deposit.files[0].key.endswith(".png")
        ctx.jobs.stop()


def test_a_key_published_meanwhile_fails_alone_when_the_group_is_refused(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another job publishes a key after this group looked for it: the database refuses the group's
    statements, and each record is published alone; only that key is reported as existing."""
    ctx, first = accepted_job(tmp_path, 1, bags=False)
    run_bulk_job(ctx, first)  # urn:catalog:Q:0 is published
    looked = []
    real = bulk_job._Ingest._existing

    def stale(self: Any, keys: list[str], conn: Any = None) -> dict[str, int]:
        looked.append(keys)
        return {} if len(looked) == 1 else real(self, keys, conn)  # the group's look misses Q:0

    monkeypatch.setattr(bulk_job._Ingest, "_existing", stale)
    second = accept(ctx, tmp_path, "q2", range(3))
    run_bulk_job(ctx, second)
    job = bulk_service(ctx).load(second)
    assert job is not None and job.state == "done"
    with ctx.deposits.db.read() as conn:
        states = dict(conn.execute(sa.select(bulk_job.bulk_items.c.key, bulk_job.bulk_items.c.state)
                                   .where(bulk_job.bulk_items.c.job_id == second)).all())
    assert states == {"urn:catalog:Q:0": "exists", "urn:catalog:Q:1": "published", "urn:catalog:Q:2": "published"}
    assert sorted(published_keys(ctx)) == [f"urn:catalog:Q:{i}" for i in range(3)]
    ctx.jobs.stop()


def test_a_group_whose_transaction_fails_leaves_no_stored_file_and_the_retry_publishes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, job_id = accepted_job(tmp_path, 3)
    files_root = tmp_path / "repo" / "files"

    def stored() -> list[Path]:
        return [p for p in files_root.rglob("*") if p.is_file()] if files_root.exists() else []

    def fails(conn: Any, published: list[Any]) -> None:
        raise RuntimeError("the group's transaction fails")

    try:
        with monkeypatch.context() as patch:
            patch.setattr(ctx.actions, "run_on_publish_group", fails)
            with pytest.raises(RuntimeError, match="transaction fails"):
                run_bulk_job(ctx, job_id)
        assert stored() == [] and published_keys(ctx) == []
        run_bulk_job(ctx, job_id)
        assert sorted(published_keys(ctx)) == [f"urn:catalog:Q:{i}" for i in range(3)]
        with ctx.deposits.db.read() as conn:
            uris = set(conn.execute(sa.select(file_instances.c.uri)).scalars())
        assert {str(p.relative_to(files_root)) for p in stored()} == uris and len(uris) == 3
    finally:
        ctx.jobs.stop()
