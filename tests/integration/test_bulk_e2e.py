"""End to end: `depot run --bulk` against a real `depot serve` on loopback: batches of BagIt bags, the same
ledger, and `status`, `report`, `reconcile` and `verify` on what they made."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import httpx
from test_deposit_e2e import KEYS, depot, keys_of, run_args, server_depositions

from depot.deposit.commands.demo import stage

from conftest import serve_repository


def test_bulk_run_publishes_each_specimen_once_in_batches(tmp_path: Path) -> None:
    with serve_repository(tmp_path) as repo:
        archive, images = stage(tmp_path)
        ledger = str(tmp_path / "ledger.sqlite3")
        result = depot(*run_args(tmp_path, repo.base, archive, images, "--bulk", "--batch-size", "10"), env=repo.env)
        assert result.returncode == 0, result.stderr
        progress = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
        assert progress[-1]["published"] == KEYS and progress[-1]["failed"] == 0
        # The lookups of a batch id that is not there yet (404) are expected answers, not errors to show.
        assert progress[-1]["errors"] == {}, progress[-1]
        deps = server_depositions(repo.base, repo.headers)
        assert len(deps) == KEYS and all(d["state"] == "done" and d["doi"] for d in deps)
        keys = [k for d in deps for k in keys_of(d)]
        assert len(keys) == len(set(keys)) == KEYS
        local_md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in images.iterdir()}
        for d in deps:
            (f,) = d["files"]
            assert f["checksum"] == local_md5[f["filename"]]
        # Batches of at most 10 (planning streams beside the run, so a batch takes what is planned), all done.
        batches = json.loads(_sql(ledger, "SELECT id, state, records FROM batches ORDER BY created_at"))
        assert {b[1] for b in batches} == {"done"} and sum(b[2] for b in batches) == KEYS
        assert len(batches) >= 3 and max(b[2] for b in batches) <= 10
        # A second run sends nothing.
        again = depot(*run_args(tmp_path, repo.base, archive, images, "--bulk"), env=repo.env)
        assert again.returncode == 0 and "0 new" in again.stderr
        assert len(server_depositions(repo.base, repo.headers)) == KEYS
        status = json.loads(depot("status", "--ledger", ledger, "--json", env=repo.env).stdout)
        assert status["states"] == {"published": KEYS} and status["left"] == 0
        # Every request is counted, as for a per-record run: at least a POST per batch and a look at its job.
        assert status["throughput"]["requests"] >= 2 * len(batches), status["throughput"]  # before: 0
        report = depot("report", "--ledger", ledger, "--format", "json", env=repo.env)
        rows = json.loads(report.stdout)
        assert len(rows) == KEYS and all(r["doi"] and r["files"][0]["link"] for r in rows)
        r = httpx.get(rows[0]["files"][0]["link"])
        assert r.status_code == 200 and hashlib.md5(r.content).hexdigest() == rows[0]["files"][0]["md5"]
        target = f"{repo.base}/api"
        reconcile = depot("reconcile", "--ledger", ledger, "--target", target, env=repo.env)
        assert reconcile.returncode == 0 and reconcile.stdout.splitlines()[-1] == f"= {KEYS} + 0 - 0 * 0 ! 0"
        verify = depot("verify", "--ledger", ledger, "--target", target, env=repo.env)
        assert verify.returncode == 0 and f"verified {KEYS} of {KEYS}" in verify.stdout, verify.stdout


def test_bulk_against_zenodo_is_a_clear_error_before_anything_is_sent(tmp_path: Path) -> None:
    archive, images = stage(tmp_path)
    env: dict[str, Any] = {**os.environ, "DEPOT_TOKEN": "not-used"}
    args = [("zenodo" if a == "x/api" else a) for a in run_args(tmp_path, "x", archive, images, "--bulk")]
    assert "zenodo" in args
    result = depot(*args, env=env)
    assert result.returncode != 0
    assert "--target zenodo has no bulk-ingest API" in result.stderr and "run without --bulk" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "ledger.sqlite3").exists()  # nothing planned, nothing sent


def _sql(ledger: str, query: str) -> str:
    import sqlite3

    with sqlite3.connect(ledger) as db:
        return json.dumps(db.execute(query).fetchall())
