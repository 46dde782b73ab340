"""Contract: the bulk-ingest API (POST /api/bulk, GET /api/bulk/ID), issue 14, docs/api.md "Bulk ingest"."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from depot.deposit.bulkbag import BatchRecord, write_batch

from conftest import Api, png_image
from payloads import metadata, published, stored_files

TAR = {"Content-Type": "application/x-tar"}


@pytest.fixture(params=["inprocess-sqlite", "inprocess-postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """The in-process repository only (a loopback server adds nothing to a job that runs in the server)."""
    return request.getfixturevalue("api")


def records(tmp_path: Path, n: int, prefix: str = "B") -> list[BatchRecord]:
    out = []
    for i in range(n):
        image = tmp_path / f"{prefix}{i}.png"
        image.write_bytes(png_image(f"{prefix}{i}"))
        key = f"urn:catalog:{prefix}:{i}"
        meta = metadata(title=f"Specimen {i}", related_identifiers=[
            {"identifier": key, "relation": "isAlternateIdentifier", "scheme": "urn"}])
        out.append(BatchRecord(key, meta, ((f"{prefix} {i}.png", image),)))
    return out


def bag_bytes(tmp_path: Path, recs: list[BatchRecord], batch_id: str = "b") -> bytes:
    path = tmp_path / f"{uuid.uuid4().hex}.tar"
    write_batch(path, batch_id, recs)
    return path.read_bytes()


def post(api: Api, h: dict[str, str], body: bytes, batch_id: str, ctype: dict[str, str] = TAR) -> Any:
    return api.client.post(f"/api/bulk?batch_id={batch_id}", content=body, headers={**h, **ctype})


def wait_job(api: Api, h: dict[str, str], url: str, deadline_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        body: dict[str, Any] = api.client.get(url, headers=h).json()
        if body["state"] in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"bulk job {url} not finished within {deadline_s} s")


def test_batch_is_published_with_per_record_results(api: Api, tmp_path: Path) -> None:
    h = api.auth()
    r = post(api, h, bag_bytes(tmp_path, records(tmp_path, 3)), "batch-1")
    assert r.status_code == 202, r.text
    assert r.headers["location"] == r.json()["links"]["self"]
    job = wait_job(api, h, r.headers["location"])
    assert job["state"] == "done" and job["total"] == 3 and job["errors"] == []
    assert job["counts"] == {"pending": 0, "published": 3, "exists": 0, "failed": 0}
    first = job["records"][0]
    assert first["key"] == "urn:catalog:B:0" and first["doi"].endswith(f".{first['id']}")
    assert first["conceptdoi"] and first["links"]["html"].endswith(f"/records/{first['id']}")
    record = api.client.get(f"/api/records/{first['id']}").json()
    assert record["metadata"]["title"] == "Specimen 0"
    files = api.client.get(f"/api/records/{first['id']}/files").json()
    entries = files.get("entries", files) if isinstance(files, dict) else files
    assert [e["key"] for e in entries] == ["B 0.png"]
    deadline = time.monotonic() + 10  # the upload is removed right after the job is marked done
    while list((api.config.data_dir / "bulk").glob("*.archive")) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not list((api.config.data_dir / "bulk").glob("*.archive"))


def test_replayed_batch_id_makes_no_second_batch(api: Api, tmp_path: Path) -> None:
    h = api.auth()
    body = bag_bytes(tmp_path, records(tmp_path, 2))
    first = post(api, h, body, "same")
    wait_job(api, h, first.headers["location"])
    again = post(api, h, body, "same")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    found = api.client.get("/api/bulk?batch_id=same", headers=h)
    assert found.status_code == 200 and found.json()["id"] == first.json()["id"]
    listed = api.client.get("/api/deposit/depositions?size=100", headers=h).json()
    assert len(listed) == 2
    other = api.auth()  # another user's batch id is their own
    assert api.client.get(first.headers["location"], headers=other).status_code == 404
    assert api.client.get("/api/bulk?batch_id=same", headers=other).status_code == 404


def test_record_key_already_published_is_reported_not_duplicated(api: Api, tmp_path: Path) -> None:
    h = api.auth()
    recs = records(tmp_path, 2)
    # The first key published through the per-record API, with the key as an alternate identifier.
    done = published(api.client, h, recs[0].metadata)
    job = wait_job(api, h, post(api, h, bag_bytes(tmp_path, recs), "one").headers["location"])
    states = {r["key"]: r for r in job["records"]}
    assert states["urn:catalog:B:0"]["state"] == "exists" and states["urn:catalog:B:0"]["id"] == done["id"]
    assert states["urn:catalog:B:1"]["state"] == "published"
    # A second batch (new batch id) with both keys publishes nothing new.
    job2 = wait_job(api, h, post(api, h, bag_bytes(tmp_path, recs), "two").headers["location"])
    assert [r["state"] for r in job2["records"]] == ["exists", "exists"]
    assert job2["records"][1]["id"] == states["urn:catalog:B:1"]["id"]
    assert len(api.client.get("/api/deposit/depositions?size=100", headers=h).json()) == 2


def test_bad_record_fails_alone_with_its_reason(api: Api, tmp_path: Path) -> None:
    h = api.auth()
    recs = records(tmp_path, 3)
    bad = dict(recs[1].metadata)
    del bad["creators"]
    recs[1] = BatchRecord(recs[1].key, bad, recs[1].files)
    job = wait_job(api, h, post(api, h, bag_bytes(tmp_path, recs), "mixed").headers["location"])
    assert [r["state"] for r in job["records"]] == ["published", "failed", "published"]
    assert "creators" in job["records"][1]["message"]
    assert "id" not in job["records"][1]


def test_record_the_database_refuses_leaves_no_blob(api: Api, tmp_path: Path) -> None:
    """An unknown community is refused inside the record's savepoint, after its file was moved into the
    store: the blob goes once the batch's transaction has committed, and the others' stay."""
    h = api.auth()
    recs = records(tmp_path, 3)
    recs[1] = BatchRecord(recs[1].key, {**recs[1].metadata, "communities": [{"identifier": "no-such-community"}]},
                          recs[1].files)
    before = stored_files(api)
    job = wait_job(api, h, post(api, h, bag_bytes(tmp_path, recs), "refused").headers["location"])
    assert [r["state"] for r in job["records"]] == ["published", "failed", "published"]
    assert "no-such-community" in job["records"][1]["message"]
    assert len(stored_files(api) - before) == 2


def zip_bag(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return out.getvalue()


def tar_members(body: bytes) -> dict[str, bytes]:
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


def refused(api: Api, h: dict[str, str], body: bytes, batch_id: str, ctype: dict[str, str]) -> dict[str, Any]:
    r = post(api, h, body, batch_id, ctype)
    assert r.status_code == 202, r.text
    job = wait_job(api, h, r.headers["location"])
    assert job["state"] == "failed" and job["records"] == [], job
    assert api.client.get("/api/deposit/depositions", headers=h).json() == []
    return job


def test_not_a_bag_is_refused(api: Api, tmp_path: Path) -> None:
    h = api.auth()
    job = refused(api, h, zip_bag({"hello.txt": b"hi"}), "nobag", {"Content-Type": "application/zip"})
    assert "bagit.txt" in job["errors"][0]
    job = refused(api, h, b"not an archive at all", "garbage", TAR)
    assert "tar archive" in job["errors"][0]


def test_bad_manifest_is_refused(api: Api, tmp_path: Path) -> None:
    h = api.auth()
    members = tar_members(bag_bytes(tmp_path, records(tmp_path, 2)))
    members["data/files/1-0"] = b"tampered" + members["data/files/1-0"][8:]  # same size, other bytes
    job = refused(api, h, zip_bag(members), "tampered", {"Content-Type": "application/zip"})
    assert "data/files/1-0" in job["errors"][0] and "checksum" in job["errors"][0]
    members = tar_members(bag_bytes(tmp_path, records(tmp_path, 1)))
    members["data/extra.txt"] = b"not in any manifest"
    job = refused(api, h, zip_bag(members), "extra", {"Content-Type": "application/zip"})
    assert "Payload-Oxum" in job["errors"][0] and "3 files" in job["errors"][0]


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/evil", "data/../../escape.txt"])
def test_path_traversal_in_the_bag_is_refused(api: Api, tmp_path: Path, name: str) -> None:
    h = api.auth()
    members = tar_members(bag_bytes(tmp_path, records(tmp_path, 1)))
    members[name] = b"x"
    job = refused(api, h, zip_bag(members), "trav", {"Content-Type": "application/zip"})
    assert "unsafe path" in job["errors"][0]
    assert not (api.config.data_dir / "escape.txt").exists()
    assert not (api.config.data_dir.parent / "escape.txt").exists()


def test_symlink_in_the_bag_is_refused(api: Api, tmp_path: Path) -> None:
    import tarfile

    h = api.auth()
    body = io.BytesIO(bag_bytes(tmp_path, records(tmp_path, 1)))
    out = io.BytesIO()
    with tarfile.open(fileobj=body) as src, tarfile.open(fileobj=out, mode="w") as tar:
        for m in src:
            tar.addfile(m, src.extractfile(m) if m.isfile() else None)
        link = tarfile.TarInfo("data/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    job = refused(api, h, out.getvalue(), "link", TAR)
    assert "link" in job["errors"][0]


def test_too_many_records_is_refused(api: Api, tmp_path: Path) -> None:
    h = api.auth()
    import dataclasses

    ctx = api.client.app.context  # type: ignore[attr-defined]
    limit = ctx.config.bulk_max_records
    ctx.config = dataclasses.replace(ctx.config, bulk_max_records=2)
    try:
        job = refused(api, h, bag_bytes(tmp_path, records(tmp_path, 3)), "many", TAR)
    finally:
        ctx.config = dataclasses.replace(ctx.config, bulk_max_records=limit)
    assert "at most 2" in job["errors"][0]


def test_too_large_is_413_before_anything_is_stored(api: Api, tmp_path: Path) -> None:
    import dataclasses

    h = api.auth()
    ctx = api.client.app.context  # type: ignore[attr-defined]
    old = ctx.config
    ctx.config = dataclasses.replace(old, bulk_max_bytes=1000)
    try:
        r = post(api, h, bag_bytes(tmp_path, records(tmp_path, 1)), "big")
        assert r.status_code == 413

        def chunks() -> Any:  # no Content-Length: refused once the stream passes the limit
            yield b"x" * 800
            yield b"x" * 800

        r = api.client.post("/api/bulk?batch_id=big2", content=chunks(), headers={**h, **TAR})
        assert r.status_code == 413
    finally:
        ctx.config = old
    assert api.client.get("/api/bulk?batch_id=big", headers=h).status_code == 404
    assert list((api.config.data_dir / "bulk" / "incoming").glob("*")) == []


def test_requests_are_checked(api: Api, tmp_path: Path) -> None:
    h = api.auth()
    body = bag_bytes(tmp_path, records(tmp_path, 1))
    assert post(api, {}, body, "anon").status_code == 403
    assert post(api, api.auth(scopes=("deposit:write",)), body, "noactions").status_code == 403
    assert post(api, h, body, "").status_code == 400
    assert post(api, h, body, "../x").status_code == 400
    assert post(api, h, body, "ok", {"Content-Type": "text/plain"}).status_code == 415
    assert api.client.get("/api/bulk/not-a-job", headers=h).status_code == 404
    assert api.client.get(f"/api/bulk/{uuid.uuid4()}", headers=h).status_code == 404
