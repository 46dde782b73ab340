"""End to end: `depot run` against a real `depot serve` on loopback, checked on the server's side."""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from depot.deposit.commands.demo import stage

from conftest import serve_repository

KEYS = 24  # specimens in the bundled TROM subset


def depot(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "depot", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.fixture
def served(tmp_path: Path) -> Any:
    with serve_repository(tmp_path) as repo:
        yield repo.base, repo.env, repo.headers


def server_depositions(base: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        batch = httpx.get(f"{base}/api/deposit/depositions", params={"size": 100, "page": page, "all_versions": 1},
                          headers=headers).json()
        out += batch
        if len(batch) < 100:
            return out
        page += 1


def keys_of(deposition: dict[str, Any]) -> list[str]:
    return [r["identifier"] for r in deposition["metadata"].get("related_identifiers", [])
            if r["relation"] == "isAlternateIdentifier" and r["identifier"].startswith("urn:catalog:TROM")]


def wait_for_published(ledger: Path, proc: subprocess.Popen[str], timeout: float = 120) -> bool:
    """Poll the ledger (read-only) until a specimen is published there; False if the run ends or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(sqlite3.Error), \
                contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=1)) as db:
            if db.execute("SELECT count(*) FROM specimens WHERE state = 'published'").fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


def run_args(tmp_path: Path, base: str, archive: Path, images: Path, *extra: str) -> list[str]:
    return ["run", str(archive), "--images", str(images), "--path-template", "{images}/{catalogNumber}.png",
            "--target", f"{base}/api", "--ledger", str(tmp_path / "ledger.sqlite3"), "--profile", "specimen",
            "--var", "institution=The Arctic University Museum of Norway", "--progress", "json", *extra]


def test_run_publishes_each_specimen_once_with_k_plus_2_requests(served: Any, tmp_path: Path) -> None:
    base, env, headers = served
    archive, images = stage(tmp_path)
    result = depot(*run_args(tmp_path, base, archive, images, "--transfers", "6"), env=env)
    assert result.returncode == 0, result.stderr
    progress = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert progress[-1]["published"] == KEYS and progress[-1]["failed"] == 0
    # create (with metadata) + one PUT + publish; and the new ledger's one look for its first specimens
    assert progress[-1]["requests"] == KEYS * 3 + 1
    deps = server_depositions(base, headers)
    assert len(deps) == KEYS and all(d["state"] == "done" and d["doi"] for d in deps)
    assert sorted(k for d in deps for k in keys_of(d)) == sorted({k for d in deps for k in keys_of(d)})
    local_md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in images.iterdir()}
    for d in deps:
        (f,) = d["files"]
        assert f["checksum"] == local_md5[f["filename"]]
    # A second run finds nothing to do and sends nothing.
    again = depot(*run_args(tmp_path, base, archive, images), env=env)
    assert again.returncode == 0 and "0 new" in again.stderr
    assert [json.loads(x) for x in again.stderr.splitlines() if x.startswith("{")][-1]["requests"] == 0
    status = json.loads(depot("status", "--ledger", str(tmp_path / "ledger.sqlite3"), "--json", env=env).stdout)
    assert status["states"] == {"published": KEYS} and status["left"] == 0
    report = depot("report", "--ledger", str(tmp_path / "ledger.sqlite3"), "--format", "json", env=env)
    rows = json.loads(report.stdout)
    assert len(rows) == KEYS and all(r["doi"] and r["files"][0]["link"] for r in rows)
    r = httpx.get(rows[0]["files"][0]["link"])
    assert r.status_code == 200 and hashlib.md5(r.content).hexdigest() == rows[0]["files"][0]["md5"]


def test_kill_and_resume_publishes_each_specimen_exactly_once(tmp_path: Path) -> None:
    profile = tmp_path / "slow.toml"
    profile.write_text("[rules.publish]\nlatency = { median_ms = 150, sigma = 0.3 }\n")
    with serve_repository(tmp_path, "--faults", str(profile)) as repo:
        base, env, token = repo.base, repo.env, repo.token
        archive, images = stage(tmp_path)
        for pause in (1.0, 1.5):
            runner = subprocess.Popen([sys.executable, "-m", "depot", *run_args(tmp_path, base, archive, images,
                                                                                "--transfers", "3")],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(pause)
            runner.send_signal(signal.SIGKILL)
            runner.wait(10)
        final = depot(*run_args(tmp_path, base, archive, images), env=env)
        assert final.returncode == 0, final.stderr
        deps = server_depositions(base, {"Authorization": f"Bearer {token}"})
        published = [d for d in deps if d["submitted"]]
        keys = [k for d in published for k in keys_of(d)]
        assert len(keys) == KEYS and len(set(keys)) == KEYS  # every specimen, none twice
        assert [d for d in deps if not d["submitted"]] == []  # no stray draft


def test_demo_deposits_the_bundled_dataset(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    # A relative --output, as `make demo` gives, run from another folder.
    result = subprocess.run([sys.executable, "-m", "depot", "demo", "--output", "demo"], capture_output=True,
                            text=True, timeout=180, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert len(lines) == KEYS and all(parts[0].startswith("10.5072/depot.") for parts in lines)
    assert len({parts[0] for parts in lines}) == KEYS  # one DOI per specimen
    report = (out / "report.csv").read_text(encoding="utf-8").splitlines()
    assert report[0].startswith("key,state,doi") and len(report) == 1 + KEYS  # one stand-in image each
    assert "stand-in" in (out / "repository" / "repository.sqlite3").read_bytes().decode("latin-1")


def published(ledger: Path) -> int:
    """Published specimens in a ledger being written, read without writing."""
    try:
        with contextlib.closing(sqlite3.connect(ledger.as_uri() + "?mode=ro", uri=True, timeout=5)) as conn:
            return int(conn.execute("SELECT count(*) FROM specimens WHERE state = 'published'").fetchone()[0])
    except sqlite3.Error:  # not written yet
        return 0


def test_ctrl_c_stops_cleanly_and_a_second_run_resumes(tmp_path: Path) -> None:
    profile = tmp_path / "slow.toml"
    profile.write_text("[rules.create]\nlatency = { median_ms = 100, sigma = 0.1 }\n")
    with serve_repository(tmp_path, "--faults", str(profile)) as repo:
        base, env, token = repo.base, repo.env, repo.token
        archive, images = stage(tmp_path)
        runner = subprocess.Popen([sys.executable, "-m", "depot", *run_args(tmp_path, base, archive, images,
                                                                            "--transfers", "2")],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # Interrupt once the ledger shows a published record (a condition, not a guess at a time).
        assert wait_for_published(tmp_path / "ledger.sqlite3", runner), "nothing was published in 120 s"
        runner.send_signal(signal.SIGINT)
        _, stderr = runner.communicate(timeout=60)
        assert runner.returncode == 4, stderr  # INTERRUPTED
        status = json.loads(depot("status", "--ledger", str(tmp_path / "ledger.sqlite3"), "--json", env=env).stdout)
        assert 0 < status["states"].get("published", 0) < KEYS
        assert set(status["states"]) <= {"published", "planned"}  # nothing left half-way
        final = depot(*run_args(tmp_path, base, archive, images), env=env)
        assert final.returncode == 0, final.stderr
        keys = [k for d in server_depositions(base, {"Authorization": f"Bearer {token}"}) for k in keys_of(d)]
        assert sorted(keys) == sorted(set(keys)) and len(keys) == KEYS
