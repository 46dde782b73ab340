"""New versions when files come and go: a lossless master added next to the JPEG, then the JPEG withdrawn.

Driven through the ledger and the runner (the shipped sources give one image per specimen) against a real
`depot serve`, counting the requests each sync sends.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import httpx

from depot.deposit.client import RepositoryClient
from depot.deposit.ledger import Ledger
from depot.deposit.models import FileSpec, PlannedRecord
from depot.deposit.progress import Stats
from depot.deposit.run_settings import RunSettings
from depot.deposit.runner import Runner

from conftest import serve_repository


def record(folder: Path, *names: str) -> PlannedRecord:
    meta = {"title": "Fucus vesiculosus L. (SYNC-1)", "upload_type": "image", "image_type": "photo",
            "creators": [{"name": "Test Herbarium"}], "license": "cc-by-4.0",
            "related_identifiers": [{"identifier": "urn:catalog:SYNC:1", "relation": "isAlternateIdentifier",
                                     "scheme": "urn"}]}
    return PlannedRecord("urn:catalog:SYNC:1", meta, tuple(FileSpec(str(folder / n), n) for n in names))


def work(ledger: Ledger, base: str, token: str) -> int:
    async def go() -> int:
        stats = Stats()
        async with RepositoryClient(f"{base}/api", token) as client:
            await Runner(ledger, client, RunSettings(transfers=1, probe_delay=0), stats).run()
        return stats.requests

    return asyncio.run(go())


def latest_files(base: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    deps = httpx.get(f"{base}/api/deposit/depositions", params={"all_versions": 1}, headers=headers).json()
    assert all(d["state"] == "done" for d in deps)  # no draft left
    newest = max(deps, key=lambda d: d["id"])
    return len(deps), {f["filename"]: f["checksum"] for f in newest["files"]}


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_added_and_withdrawn_files_make_versions_with_only_those_requests(tmp_path: Path) -> None:
    (tmp_path / "sheet.jpg").write_bytes(b"\xff\xd8\xff" + b"j" * 3000)
    (tmp_path / "sheet.tif").write_bytes(b"II*\x00" + b"t" * 9000)
    with serve_repository(tmp_path) as repo:
        ledger = Ledger.open(tmp_path / "ledger.sqlite3")
        try:
            ledger.plan([record(tmp_path, "sheet.jpg")])
            assert work(ledger, repo.base, repo.token) == 3
            # The master comes: newversion, PUT sheet.tif, PUT metadata, publish. The JPEG is not sent again.
            plan = ledger.plan([record(tmp_path, "sheet.jpg", "sheet.tif")], sync=True)
            assert (plan.versions, plan.requests) == (1, 4)
            assert work(ledger, repo.base, repo.token) == 4
            count, files = latest_files(repo.base, repo.headers)
            assert count == 2 and files == {"sheet.jpg": md5(tmp_path / "sheet.jpg"),
                                            "sheet.tif": md5(tmp_path / "sheet.tif")}
            # The JPEG withdrawn: newversion, DELETE sheet.jpg, PUT metadata, publish.
            plan = ledger.plan([record(tmp_path, "sheet.tif")], sync=True)
            assert (plan.versions, plan.requests) == (1, 4)
            assert work(ledger, repo.base, repo.token) == 4
            count, files = latest_files(repo.base, repo.headers)
            assert count == 3 and files == {"sheet.tif": md5(tmp_path / "sheet.tif")}
            history: list[dict[str, Any]] = list(ledger.iter_versions())
            assert [sorted(f["name"] for f in v["files"]) for v in history] == \
                [["sheet.jpg"], ["sheet.jpg", "sheet.tif"], ["sheet.tif"]]
            assert len({v["concept_doi"] for v in history}) == 1 and len({v["doi"] for v in history}) == 3
        finally:
            ledger.close()
