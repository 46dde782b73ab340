"""run_bulk_job(ctx, job_id) on its own, as a job queue would run it: stopped between groups and run again
(a restart), run twice, or run with its unpacked files gone; each record is published exactly once."""

from __future__ import annotations

import io
import tarfile
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from depot.deposit.bulkbag import BatchRecord, write_batch
from depot.repository.app import build_context
from depot.repository.bulk import job as bulk_job
from depot.repository.bulk.job import bulk_service, run_bulk_job
from depot.repository.bulk.package import safe_member, unpack
from depot.repository.config import RepositoryConfig
from depot.repository.errors import BulkPackageError
from depot.repository.store.tables import deposits, record_keys

from conftest import png_image


def accepted_job(tmp_path: Path, n: int) -> tuple[Any, str]:
    ctx = build_context(RepositoryConfig(data_dir=tmp_path / "repo", fixity_cycle=False, bags=False))
    token = ctx.accounts.create_token("queue@example.org", "2026-12-03")
    identity = ctx.accounts.identity_for_token(token)
    records = []
    for i in range(n):
        image = tmp_path / f"{i}.png"
        image.write_bytes(png_image(i))
        key = f"urn:catalog:Q:{i}"
        records.append(BatchRecord(key, {
            "title": f"Specimen {i}", "upload_type": "image", "image_type": "photo", "description": "A sheet.",
            "creators": [{"name": "Herbarium"}], "license": "cc-by-4.0",
            "related_identifiers": [{"identifier": key, "relation": "isAlternateIdentifier", "scheme": "urn"}]},
            ((f"{i}.png", image),)))
    service = bulk_service(ctx)
    part = service.incoming() / "upload.part"
    write_batch(part, "q1", records)
    job, created = service.accept(identity, "q1", "tar", part, part.stat().st_size)
    assert created
    return ctx, job.id


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
