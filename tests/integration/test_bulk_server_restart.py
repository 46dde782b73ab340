"""`depot run --bulk` while its repository is killed and restarted: the run waits for it and finishes, each
specimen published once. Before, a refused connection of a batch's POST (or of the look for its job that
follows) ended the run with "Cannot connect to host"."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from test_bulk_job import specimen

from depot.deposit.bulk import BulkRunner
from depot.deposit.client import RepositoryClient
from depot.deposit.ledger import Ledger
from depot.deposit.ledger.batches import PACKING, Batch, BatchLedger
from depot.deposit.models import FileSpec, PlannedRecord
from depot.deposit.patient import Unavailable
from depot.deposit.progress import Stats

from conftest import free_port, png_image, specimen_table, start_server

SPECIMENS = 400


def failed_attempts(ledger: Path) -> int:
    """Requests of the run that got no answer (the ledger's attempts; 0 while the ledger is not there yet)."""
    try:
        with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM attempts WHERE status IS NULL").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_a_bulk_run_waits_for_its_repository_to_come_back(tmp_path: Path) -> None:
    csv, images = specimen_table(tmp_path, SPECIMENS, "RESTART")
    data = tmp_path / "repo"
    data.mkdir()
    proc, base = start_server(data, None, "--rate-limit", "0", "--search-rate-limit", "0")
    token = subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "restart@example.org",
                            "--data-dir", str(data)], capture_output=True, text=True, check=True).stdout.strip()
    ledger = tmp_path / "ledger.sqlite3"
    args = [sys.executable, "-m", "depot", "run", str(csv), "--images", str(images), "--path-template",
            "{images}/{catalogNumber}.png", "--profile", "specimen", "--var", "license=cc-by-4.0",
            "--target", f"{base}/api", "--ledger", str(ledger), "--bulk", "--batch-size", "5",
            "--progress", "quiet"]
    h = {"Authorization": f"Bearer {token}"}
    runner = subprocess.Popen(args, env={**os.environ, "DEPOT_TOKEN": token}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while httpx.get(f"{base}/api/records", params={"size": 1}).json()["hits"]["total"] == 0:
            assert time.monotonic() < deadline and runner.poll() is None, runner.stderr.read()  # type: ignore[union-attr]
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # mid-run: 80 batches of 5, one or a few published
        proc.wait(10)
        assert runner.poll() is None, "the run ended before the repository was killed: give it more to send"
        while failed_attempts(ledger) == 0:  # the run has met the closed port
            assert time.monotonic() < deadline and runner.poll() is None, runner.stderr.read()  # type: ignore[union-attr]
            time.sleep(0.05)
        assert runner.poll() is None  # still waiting: before, it had ended with "Cannot connect to host"
        proc, base = start_server(data, None, "--rate-limit", "0", "--search-rate-limit", "0",
                                  port=int(base.rsplit(":", 1)[1]))
        _, err = runner.communicate(timeout=300)
        assert runner.returncode == 0, err
        deps: list[dict[str, object]] = []
        for page in range(1, 6):
            deps += httpx.get(f"{base}/api/deposit/depositions", params={"size": 100, "page": page},
                              headers=h).json()
        keys = [r["identifier"] for d in deps for r in d["metadata"]["related_identifiers"]  # type: ignore[index]
                if r["identifier"].startswith("urn:catalog:RESTART:")]
        assert len(keys) == len(set(keys)) == SPECIMENS and all(d["submitted"] for d in deps)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
        proc.terminate()
        proc.wait(10)


def test_a_batch_whose_post_finds_the_repository_down_is_sent_once_it_is_back(tmp_path: Path) -> None:
    """The batch's POST meets a closed port (a repository killed or restarting), and so does the look for its
    job: the runner waits and sends it when the repository is back, instead of ending the run."""
    data = tmp_path / "repo"
    data.mkdir()
    token = subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "down@example.org",
                            "--data-dir", str(data)], capture_output=True, text=True, check=True).stdout.strip()
    ledger_path = tmp_path / "ledger.sqlite3"
    ledger = Ledger.open(str(ledger_path))
    records = []
    for i in range(3):
        image = tmp_path / f"{i}.png"
        image.write_bytes(png_image(i))
        records.append(PlannedRecord(f"urn:catalog:Q:{i}", specimen(i), (FileSpec(str(image), image.name),)))
    ledger.plan(records)
    claims = BatchLedger(ledger).form("down-1", 3, "2026-12-04T00:00:00+00:00")
    port = free_port()
    served: list[subprocess.Popen[bytes]] = []

    async def scenario() -> str | None:
        async with RepositoryClient(f"http://127.0.0.1:{port}/api", token) as client:
            runner = BulkRunner(ledger, client, Stats(), batch_size=3, target_name="url", work_dir=tmp_path)
            sending = asyncio.create_task(runner._send(Batch("down-1", PACKING, 3, None), claims, tmp_path))
            deadline = time.monotonic() + 60
            while failed_attempts(ledger_path) < 2:  # the POST and the look for its job, both unanswered
                assert time.monotonic() < deadline and not sending.done(), sending.exception()
                await asyncio.sleep(0.05)
            proc, _ = await asyncio.to_thread(start_server, data, None, "--rate-limit", "0", port=port)
            served.append(proc)
            return await asyncio.wait_for(sending, 120)

    try:
        url = asyncio.run(scenario())
        assert url is not None and "/api/bulk/" in url
        h = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 120
        while (job := httpx.get(url, headers=h).json())["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert [r["state"] for r in job["records"]] == ["published"] * 3
        batch = BatchLedger(ledger).open_batches()[0]
        assert (batch.id, batch.state, batch.job_url) == ("down-1", "sent", url)
    finally:
        ledger.close()
        for proc in served:
            proc.terminate()
            proc.wait(10)


def test_a_repository_that_stays_down_ends_the_run_with_the_batch_kept(tmp_path: Path) -> None:
    ledger = Ledger.open(str(tmp_path / "ledger.sqlite3"))
    image = tmp_path / "0.png"
    image.write_bytes(png_image(0))
    ledger.plan([PlannedRecord("urn:catalog:Q:0", specimen(0), (FileSpec(str(image), image.name),))])
    claims = BatchLedger(ledger).form("gone-1", 1, "2026-12-04T00:00:00+00:00")
    api = f"http://127.0.0.1:{free_port()}/api"

    async def scenario() -> None:
        async with RepositoryClient(api, "t") as client:
            runner = BulkRunner(ledger, client, Stats(), batch_size=1, target_name="url", max_outage=1.0)
            await runner._send(Batch("gone-1", PACKING, 1, None), claims, tmp_path)

    try:
        with pytest.raises(Unavailable) as caught:
            asyncio.run(scenario())
        assert api in str(caught.value) and "batch gone-1 is kept" in str(caught.value)
        assert [(b.id, b.state) for b in BatchLedger(ledger).open_batches()] == [("gone-1", PACKING)]
        assert ledger.get("urn:catalog:Q:0").state == "batched"  # type: ignore[union-attr]
    finally:
        ledger.close()
