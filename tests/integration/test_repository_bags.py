"""Every publish writes a valid BagIt 1.0 bag; a repository rebuilt from the bags alone serves the same records."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bagit
import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from contract.payloads import metadata, published, put_file
from depot.repository.app import create_app
from depot.repository.config import RepositoryConfig
from depot.repository.preservation.bags import bags_of
from depot.repository.preservation.service import Preservation, of

from conftest import serve_repository, start_server

ADMIN = "admin-secret"


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Preservation, Path]]:
    config = RepositoryConfig(data_dir=tmp_path / "repo", base_url="http://testserver", user_limit_per_minute=0,
                              user_limit_per_hour=0, search_limit_per_minute=0, admin_token=ADMIN, fsync=False)
    app = create_app(config)
    with TestClient(app, base_url="http://testserver") as client:
        ctx = app.context  # type: ignore[attr-defined]
        token = ctx.accounts.create_token("depositor@example.org", datetime.now(UTC).isoformat())
        preservation = of(ctx)
        assert preservation is not None and preservation.bags is not None
        yield client, {"Authorization": f"Bearer {token}"}, preservation, config.data_dir / "bags"


def _drain(p: Preservation) -> None:
    assert p.bags is not None and p.bags.drain(30)


def _new_version(client: TestClient, headers: dict[str, str], record: dict[str, Any],
                 replace: dict[str, bytes], meta: dict[str, Any]) -> dict[str, Any]:
    r = client.post(record["links"]["newversion"], headers=headers)
    assert r.status_code == 201, r.text
    draft = client.get(r.json()["links"]["latest_draft"], headers=headers).json()
    for name, content in replace.items():
        assert put_file(client, headers, draft, name, content).status_code == 201
    assert client.put(draft["links"]["self"], json={"metadata": meta}, headers=headers).status_code == 200
    r = client.post(draft["links"]["publish"], headers=headers)
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def test_publish_edit_and_new_version_each_write_a_valid_bagit_1_0_bag(repo: Any) -> None:
    client, headers, preservation, bags = repo
    first = published(client, headers, files={"sheet.jpg": b"\xff\xd8 sheet v1", "label.txt": b"label"})
    _drain(preservation)
    # An edit of the metadata, published: a second bag of the same record.
    assert client.post(first["links"]["edit"], headers=headers).status_code == 201
    meta = metadata(title="Fucus vesiculosus L. (TROM-A-8528), corrected")
    assert client.put(first["links"]["latest_draft"], json={"metadata": meta}, headers=headers).status_code == 200
    assert client.post(first["links"]["publish"], headers=headers).status_code == 202
    # A new version replacing one file and keeping the other.
    second = _new_version(client, headers, first, {"sheet.jpg": b"\xff\xd8 sheet v2"}, {**meta, "version": "2"})
    _drain(preservation)

    first_bags, second_bags = bags_of(bags, first["id"]), bags_of(bags, second["id"])
    assert len(first_bags) == 2 and len(second_bags) == 1
    for bag_dir in [*first_bags, *second_bags]:
        bag = bagit.Bag(str(bag_dir))
        bag.validate()  # full: every payload and tag checksum
        assert bag.version_info == (1, 0) and set(bag.algorithms) == {"md5", "sha256"}
        assert {"metadata/record.json", "metadata/depot-aip.json", "metadata/datacite.xml"} <= set(
            bag.tagfile_entries())
        text = b"".join(p.read_bytes() for p in bag_dir.rglob("*") if p.is_file())
        assert b"depositor@example.org" not in text  # no depositor e-mail anywhere in the AIP

    latest = second_bags[-1]
    info = bagit.Bag(str(latest)).info
    assert info["Depot-DOI"] == second["doi"] and info["Depot-Concept-DOI"] == second["conceptdoi"]
    assert info["Depot-Version-Index"] == "2" and info["Depot-Version"] == "2"
    assert info["Source-Organization"] == "Depot repository" and info["Payload-Oxum"] == "16.2"  # 5 + 11 bytes
    record_json = orjson.loads((latest / "metadata" / "record.json").read_bytes())
    assert record_json == client.get(f"/api/records/{second['id']}").json()
    assert b"corrected" in (latest / "metadata" / "datacite.xml").read_bytes()
    # The unchanged file is a hard link to the earlier bag, the changed one a fresh copy; neither is the blob.
    earlier = first_bags[-1]
    assert (latest / "data" / "label.txt").stat().st_ino == (earlier / "data" / "label.txt").stat().st_ino
    assert (latest / "data" / "sheet.jpg").read_bytes() == b"\xff\xd8 sheet v2"
    stored = {p.stat().st_ino for p in (bags.parent / "files").rglob("*") if p.is_file()}
    assert not stored & {p.stat().st_ino for p in bags.rglob("data/*")}
    # The edit's bag carries the corrected title, the first bag the original one.
    titles = [orjson.loads((b / "metadata" / "record.json").read_bytes())["title"] for b in first_bags]
    assert titles == ["Fucus vesiculosus L. (TROM-A-8528)", "Fucus vesiculosus L. (TROM-A-8528), corrected"]


def test_a_failed_bag_write_never_fails_the_publish_and_is_retried(repo: Any) -> None:
    client, headers, preservation, bags = repo
    bags.parent.mkdir(parents=True, exist_ok=True)
    bags.write_text("not a directory")  # every bag write fails
    record = published(client, headers)
    assert record["state"] == "done"
    _drain(preservation)
    status = client.get("/api/admin/fixity", headers={"Authorization": f"Bearer {ADMIN}"}).json()["bags"]
    assert [f["recid"] for f in status["failed"]] == [record["id"]]
    bags.unlink()
    preservation.tick()  # the cycle's tick retries failed bags
    _drain(preservation)
    assert preservation.bags is not None and preservation.bags.failed == {}
    [bag] = bags_of(bags, record["id"])
    bagit.Bag(str(bag)).validate()


def test_bags_missing_at_start_up_are_written(tmp_path: Path) -> None:
    config = RepositoryConfig(data_dir=tmp_path / "repo", base_url="http://testserver", user_limit_per_minute=0,
                              user_limit_per_hour=0, search_limit_per_minute=0, fsync=False)
    app = create_app(config)
    with TestClient(app, base_url="http://testserver") as client:
        ctx = app.context  # type: ignore[attr-defined]
        headers = {"Authorization": "Bearer " + ctx.accounts.create_token("a@example.org", "2026-01-01")}
        record = published(client, headers)
        _drain(of(ctx))  # type: ignore[arg-type]
    [bag] = bags_of(config.data_dir / "bags", record["id"])
    shutil.rmtree(bag)
    app = create_app(config)
    with TestClient(app, base_url="http://testserver"):
        _drain(of(app.context))  # type: ignore[arg-type,attr-defined]
    [again] = bags_of(config.data_dir / "bags", record["id"])
    assert again.name == bag.name  # same published state, same name
    bagit.Bag(str(again)).validate()


# -- rebuild over a real server -------------------------------------------------------------------------
def _wait_for_bags(client: httpx.Client, expected: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        bags = client.get("/api/admin/fixity", headers={"Authorization": f"Bearer {ADMIN}"}).json()["bags"]
        assert not bags["failed"], bags
        if bags["queued"] == 0 and bags["written"] >= expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"bags not written: {bags}")


def _snapshot(client: httpx.Client, ids: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rid in ids:
        out[f"record {rid}"] = client.get(f"/api/records/{rid}").json()
        out[f"versions {rid}"] = client.get(f"/api/records/{rid}/versions").json()
        for f in out[f"record {rid}"]["files"]:
            body = client.get(httpx.URL(f["links"]["self"]).raw_path.decode()).content  # this server, old links
            out[f"file {rid} {f['key']}"] = (hashlib.md5(body).hexdigest(), body)
    search = client.get("/api/records", params={"all_versions": "1", "sort": "mostrecent"}).json()
    out["search"] = search["hits"]
    out["aggregations"] = search["aggregations"]  # a rebuild indexes the facets too
    out["community"] = client.get("/api/records", params={"communities": "trom"}).json()["hits"]["total"]
    return out


def test_rebuild_from_bags_serves_the_same_records_and_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPOT_ADMIN_TOKEN", ADMIN)
    with serve_repository(tmp_path) as served:
        subprocess.run([sys.executable, "-m", "depot", "repo", "create-community", "trom", "--owner",
                        "museum@example.org", "--title", "TROM herbarium", "--data-dir", str(served.data)],
                       check=True, capture_output=True)
        with httpx.Client(base_url=served.base, timeout=30) as client:
            h = served.headers
            a = published(client, h, metadata(communities=[{"identifier": "trom"}]),
                          {"a.jpg": b"\xff\xd8 A sheet", "a.txt": b"A label"})
            b = published(client, h, metadata(title="Second sheet"), {"b.jpg": b"\xff\xd8 B sheet"})
            assert client.post(a["links"]["edit"], headers=h).status_code == 201
            edited = metadata(title="First sheet, edited", communities=[{"identifier": "trom"}])
            assert client.put(a["links"]["latest_draft"], json={"metadata": edited}, headers=h).status_code == 200
            assert client.post(a["links"]["publish"], headers=h).status_code == 202
            b2 = _new_version(client, h, b, {"b.jpg": b"\xff\xd8 B sheet, rescanned"},
                              metadata(title="Second sheet", version="2"))
            _wait_for_bags(client, 4)
            ids = [a["id"], b["id"], b2["id"]]
            before = _snapshot(client, ids)
    assert before["community"] == 1 and len(before["versions " + str(b["id"])]["hits"]["hits"]) == 2

    # Nothing but the bags survives: database and stored files are gone.
    bags = tmp_path / "bags"
    shutil.move(served.data / "bags", bags)
    shutil.rmtree(served.data)
    for bag in bags.glob("*/*"):
        bagit.Bag(str(bag)).validate()
    new = tmp_path / "rebuilt"
    done = subprocess.run([sys.executable, "-m", "depot", "repo", "rebuild", "--from-bags", str(bags),
                           "--data-dir", str(new)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "rebuilt 3 record(s) of 2 concept(s), 4 file(s)" in done.stderr

    proc, base = start_server(new, None, "--rate-limit", "0", "--search-rate-limit", "0", "--base-url", served.base)
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            after = _snapshot(client, ids)
            for key in [k for k in after if k.startswith("file ")]:
                assert before[key] == after[key], key
            assert before == after
            # The rebuilt repository takes new deposits without id clashes.
            token = subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "new@example.org",
                                    "--data-dir", str(new)], capture_output=True, text=True, check=True).stdout.strip()
            r = client.post("/api/deposit/depositions", json={"metadata": metadata()},
                            headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 201 and r.json()["id"] > max(ids)
    finally:
        proc.terminate()
        proc.wait(10)
