"""Listing past the search window, and `depot reconcile --fix` adopting orphans and discarding stray drafts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from depot.deposit.client import RepositoryClient
from depot.deposit.ledger import Ledger
from depot.deposit.listing import all_depositions
from depot.deposit.models import FileSpec, PlannedRecord

from conftest import png_image, start_server


@pytest.fixture
def served(tmp_path: Path) -> Any:
    data = tmp_path / "repo"
    data.mkdir()
    proc, base = start_server(data, None, "--rate-limit", "0", "--search-rate-limit", "0")
    token = subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "r@example.org", "--data-dir",
                            str(data)], capture_output=True, text=True, check=True).stdout.strip()
    yield base, token
    proc.terminate()
    proc.wait(10)


def meta(key: str) -> dict[str, Any]:
    return {"title": f"Sheet {key}", "upload_type": "image", "image_type": "photo", "creators": [{"name": "Herb"}],
            "related_identifiers": [{"identifier": key, "relation": "isAlternateIdentifier", "scheme": "other"}]}


def test_listing_slices_past_the_window(served: Any) -> None:
    base, token = served
    h = {"Authorization": f"Bearer {token}"}
    ids = [httpx.post(f"{base}/api/deposit/depositions", json={"metadata": meta(f"K{i}")}, headers=h).json()["id"]
           for i in range(7)]

    async def collect() -> list[int]:
        async with RepositoryClient(f"{base}/api", token) as client:
            return [int(d["id"]) async for d in all_depositions(client, page_size=2, window=4)]

    assert sorted(asyncio.run(collect())) == sorted(ids)


def test_reconcile_fix_adopts_orphans_and_discards_stray_drafts(served: Any, tmp_path: Path) -> None:
    base, token = served
    h = {"Authorization": f"Bearer {token}"}
    image = tmp_path / "s.png"
    image.write_bytes(png_image("s"))
    ledger_path = tmp_path / "ledger.sqlite3"
    ledger = Ledger.open(ledger_path)
    ledger.plan([PlannedRecord(k, meta(k), (FileSpec(str(image), "s.png"),)) for k in ("A", "B", "C")])
    ledger.close()
    # A was published but its answer was lost; B was created twice by blind retries; C never happened.
    a = httpx.post(f"{base}/api/deposit/depositions", json={"metadata": meta("A")}, headers=h).json()
    httpx.put(f"{a['links']['bucket']}/s.png", content=image.read_bytes(), headers=h)
    httpx.post(a["links"]["publish"], headers=h)
    for _ in range(2):
        httpx.post(f"{base}/api/deposit/depositions", json={"metadata": meta("B")}, headers=h)
    env = {**os.environ, "DEPOT_TOKEN": token}
    check = subprocess.run([sys.executable, "-m", "depot", "reconcile", "--ledger", str(ledger_path), "--target",
                            f"{base}/api"], env=env, capture_output=True, text=True, timeout=60)
    assert check.returncode == 1
    marks = dict(line.split(" ", 2)[:2][::-1] for line in check.stdout.splitlines()[:-1])
    assert marks == {"A": "*", "B": "*", "C": "-"}
    fix = subprocess.run([sys.executable, "-m", "depot", "reconcile", "--ledger", str(ledger_path), "--target",
                          f"{base}/api", "--fix"], env=env, capture_output=True, text=True, timeout=60)
    assert fix.returncode == 0 and "fixed 2" in fix.stdout, fix.stdout + fix.stderr
    states = Ledger.open(ledger_path).counts_by_state()
    assert states == {"published": 1, "created": 1, "planned": 1}
    run = subprocess.run([sys.executable, "-m", "depot", "run", str(tmp_path), "--kind", "folder", "--limit", "0",
                          "--target", f"{base}/api", "--ledger", str(ledger_path), "--progress", "quiet",
                          "--var", "license=cc-by-4.0"], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    final = subprocess.run([sys.executable, "-m", "depot", "reconcile", "--ledger", str(ledger_path), "--target",
                            f"{base}/api"], env=env, capture_output=True, text=True, timeout=60)
    assert final.stdout.splitlines()[-1] == "= 3 + 0 - 0 * 0 ! 0", final.stdout
    deps = httpx.get(f"{base}/api/deposit/depositions", params={"all_versions": 1}, headers=h).json()
    assert len(deps) == 3 and all(d["submitted"] for d in deps)
