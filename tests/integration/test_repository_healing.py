"""Self-healing storage: a file that failed fixity is never served as if good. Its verified bag copy is
served instead, and the store is repaired from it (``depot repo audit --repair``, the fixity cycle); with
no good copy anywhere, the download is a 410 that says so."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bagit
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from contract.payloads import metadata, published, put_file
from depot.repository.app import create_app
from depot.repository.config import RepositoryConfig
from depot.repository.preservation.service import Preservation, of
from depot.repository.store.tables import file_instances

ADMIN = {"Authorization": "Bearer fixity-admin"}
SHEET = bytes(range(256)) * 40
LABEL = b"Label: Carex lachenalii, Troms 1911"


def _config(tmp_path: Path, **extra: Any) -> RepositoryConfig:
    return RepositoryConfig(data_dir=tmp_path / "repo", base_url="http://testserver", user_limit_per_minute=0,
                            user_limit_per_hour=0, search_limit_per_minute=0, fsync=False,
                            admin_token="fixity-admin", **extra)


def flip(path: Path) -> None:
    """One bit flipped in the middle of a file, its size unchanged (what bit rot does)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


class Repo:
    def __init__(self, client: TestClient, config: RepositoryConfig) -> None:
        self.client, self.config = client, config
        self.ctx = client.app.context  # type: ignore[attr-defined]
        preservation = of(self.ctx)
        assert preservation is not None
        self.preservation: Preservation = preservation

    def stored(self, size: int) -> Path:
        with self.ctx.deposits.db.read() as conn:
            uri = conn.execute(sa.select(file_instances.c.uri).where(file_instances.c.size == size)).scalar_one()
        return self.ctx.blobs.path(uri)  # type: ignore[no-any-return]

    def bag_copies(self, name: str) -> list[Path]:
        return sorted((self.config.data_dir / "bags").rglob(f"data/{name}"))

    def audit(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "depot", "repo", "audit", *extra,
                               "--data-dir", str(self.config.data_dir)], capture_output=True, text=True)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[tuple[Repo, dict[str, Any]]]:
    config = _config(tmp_path, fixity_cycle=False)
    app = create_app(config)
    with TestClient(app, base_url="http://testserver") as client:
        r = Repo(client, config)
        headers = {"Authorization": "Bearer " + r.ctx.accounts.create_token("a@example.org", "2026-01-01")}
        record = published(client, headers, files={"sheet.jpg": SHEET, "label.txt": LABEL})
        assert r.preservation.bags is not None and r.preservation.bags.drain(30)
        yield r, record


def _download(r: Repo, record: dict[str, Any], key: str) -> Any:
    return r.client.get(f"/api/records/{record['id']}/files/{key}/content")


def test_a_flagged_file_is_served_from_its_verified_bag_copy(repo: Any) -> None:
    r, record = repo
    flip(r.stored(len(SHEET)))
    done = r.audit()
    assert done.returncode == 1 and done.stdout.startswith("MISMATCH")
    got = _download(r, record, "sheet.jpg")
    assert got.status_code == 200
    assert got.content == SHEET  # the good bytes, not the rotten ones
    assert got.headers["etag"] == f'"md5:{hashlib.md5(SHEET).hexdigest()}"'
    # The bucket API and the deposit's download link serve the same good copy.
    bucket = r.client.get(record["links"]["bucket"]).json()
    [sheet] = [f for f in bucket["contents"] if f["key"] == "sheet.jpg"]
    assert r.client.get(sheet["links"]["self"]).content == SHEET
    assert _download(r, record, "label.txt").content == LABEL  # an unflagged file: the store, as before


def test_a_truncated_or_missing_file_is_served_from_the_bag_before_any_audit(repo: Any) -> None:
    r, record = repo
    path = r.stored(len(SHEET))
    path.write_bytes(SHEET[:100])
    assert _download(r, record, "sheet.jpg").content == SHEET
    r.stored(len(LABEL)).unlink()
    assert _download(r, record, "label.txt").content == LABEL


def test_without_a_good_copy_the_download_is_a_410_that_says_so(repo: Any) -> None:
    r, record = repo
    flip(r.stored(len(SHEET)))
    [copy] = r.bag_copies("sheet.jpg")
    flip(copy)  # the bag's copy rotted too: it no longer matches the bag's manifest
    assert r.audit().returncode == 1
    got = _download(r, record, "sheet.jpg")
    assert got.status_code == 410
    body = got.json()
    assert body["status"] == 410 and "sheet.jpg" in body["message"] and "fixity" in body["message"]
    assert got.content != SHEET and b"\x00\x01\x02" not in got.content
    repaired = r.audit("--repair")
    assert repaired.returncode == 1
    assert any(line.startswith("UNREPAIRED") for line in repaired.stdout.splitlines())


def test_audit_repair_restores_the_store_from_the_bags(repo: Any) -> None:
    r, record = repo
    sheet, label = r.stored(len(SHEET)), r.stored(len(LABEL))
    flip(sheet)
    label.unlink()
    done = r.audit("--repair")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.startswith("REPAIRED") for line in lines) == 2, lines
    assert "repaired 2 of 2 file(s)" in done.stderr
    assert sheet.read_bytes() == SHEET and label.read_bytes() == LABEL
    assert _download(r, record, "sheet.jpg").content == SHEET
    again = r.audit()
    assert again.returncode == 0 and "0 problem(s)" in again.stderr
    body = r.client.get("/api/admin/fixity", headers=ADMIN).json()
    assert body["problems"] == []


def test_the_fixity_cycle_repairs_what_it_finds(tmp_path: Path) -> None:
    config = _config(tmp_path, fixity_period_days=0, fixity_tick_seconds=1, fixity_mb_per_s=0)
    app = create_app(config)
    with TestClient(app, base_url="http://testserver") as client:
        r = Repo(client, config)
        headers = {"Authorization": "Bearer " + r.ctx.accounts.create_token("a@example.org", "2026-01-01")}
        published(client, headers, files={"sheet.jpg": SHEET})
        assert r.preservation.bags is not None and r.preservation.bags.drain(30)
        path = r.stored(len(SHEET))
        flip(path)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and path.read_bytes() != SHEET:
            time.sleep(0.2)
        assert path.read_bytes() == SHEET
        assert r.client.get("/api/admin/fixity", headers=ADMIN).json()["problems"] == []


# -- rebuild from bags with a damaged bag ----------------------------------------------------------------
def _new_version(client: TestClient, headers: dict[str, str], record: dict[str, Any], name: str,
                 content: bytes) -> dict[str, Any]:
    r = client.post(record["links"]["newversion"], headers=headers)
    assert r.status_code == 201, r.text
    draft = client.get(r.json()["links"]["latest_draft"], headers=headers).json()
    assert put_file(client, headers, draft, name, content).status_code == 201
    meta = metadata(version="2")
    assert client.put(draft["links"]["self"], json={"metadata": meta}, headers=headers).status_code == 200
    r = client.post(draft["links"]["publish"], headers=headers)
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.fixture
def shared_rot(tmp_path: Path) -> Iterator[tuple[Path, list[int]]]:
    """Two versions sharing sheet.jpg (one inode, hard-linked in both bags), plus an unrelated record; the
    shared bag copy gets a flipped bit, the stored file stays sound. Yields the data dir and the record ids."""
    config = _config(tmp_path, fixity_cycle=False)
    app = create_app(config)
    with TestClient(app, base_url="http://testserver") as client:
        r = Repo(client, config)
        headers = {"Authorization": "Bearer " + r.ctx.accounts.create_token("a@example.org", "2026-01-01")}
        v1 = published(client, headers, files={"sheet.jpg": SHEET, "label.txt": LABEL})
        v2 = _new_version(client, headers, v1, "label.txt", LABEL + b" (revised)")
        other = published(client, headers, files={"other.txt": b"another specimen"})
        assert r.preservation.bags is not None and r.preservation.bags.drain(30)
        copies = r.bag_copies("sheet.jpg")
        assert len(copies) == 2 and copies[0].stat().st_ino == copies[1].stat().st_ino
        flip(copies[0])
        yield config.data_dir, [v1["id"], v2["id"], other["id"]]


def _rebuild(source: Path, target: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "depot", "repo", "rebuild", "--from-bags", str(source),
                           "--data-dir", str(target), *extra], capture_output=True, text=True)


def test_rebuild_takes_a_good_copy_from_the_file_store_when_bags_are_damaged(shared_rot: Any,
                                                                             tmp_path: Path) -> None:
    data, ids = shared_rot
    done = _rebuild(data / "bags", tmp_path / "rebuilt")  # files/ beside bags/ is found by default
    assert done.returncode == 0, done.stderr
    assert "rebuilt 3 record(s) of 2 concept(s), 4 file(s)" in done.stderr
    assert "damaged payload" in done.stderr and "sheet.jpg taken from" in done.stderr
    app = create_app(RepositoryConfig(data_dir=tmp_path / "rebuilt", base_url="http://testserver", fsync=False,
                                      fixity_cycle=False))
    with TestClient(app, base_url="http://testserver") as client:
        for recid in ids[:2]:
            got = client.get(f"/api/records/{recid}/files/sheet.jpg/content")
            assert got.status_code == 200 and got.content == SHEET


def test_rebuild_without_any_good_copy_leaves_those_records_out_and_says_so(shared_rot: Any,
                                                                           tmp_path: Path) -> None:
    data, ids = shared_rot
    bags = tmp_path / "only-bags"
    shutil.copytree(data / "bags", bags)  # no file store beside it
    done = _rebuild(bags, tmp_path / "rebuilt")
    assert done.returncode == 1
    assert "rebuilt 1 record(s) of 1 concept(s), 1 file(s)" in done.stderr
    for recid in ids[:2]:
        assert f"record {recid}: no good copy of sheet.jpg" in done.stderr


def test_a_new_versions_bag_never_links_a_rotten_earlier_copy(tmp_path: Path) -> None:
    config = _config(tmp_path, fixity_cycle=False)
    app = create_app(config)
    with TestClient(app, base_url="http://testserver") as client:
        r = Repo(client, config)
        headers = {"Authorization": "Bearer " + r.ctx.accounts.create_token("a@example.org", "2026-01-01")}
        v1 = published(client, headers, files={"sheet.jpg": SHEET, "label.txt": LABEL})
        assert r.preservation.bags is not None and r.preservation.bags.drain(30)
        [rotten] = r.bag_copies("sheet.jpg")
        flip(rotten)
        _new_version(client, headers, v1, "label.txt", LABEL + b" (revised)")
        assert r.preservation.bags.drain(30)
        [fresh] = [p for p in r.bag_copies("sheet.jpg") if p != rotten]
        assert fresh.read_bytes() == SHEET and fresh.stat().st_ino != rotten.stat().st_ino
        bagit.Bag(str(fresh.parent.parent)).validate()
