"""Resume on every target, and a look before the leap (issue 11, items 1 and 2), as a data manager runs them.

Each test runs the real `depot` commands in subprocesses against the embedded repository or a real
`depot serve` on loopback, and waits on conditions (a row in the ledger), never on a fixed sleep.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from depot.deposit.commands.demo import stage
from depot.repository.preservation.bags import bags_of

from conftest import free_port, png_image, serve_repository, start_server

INSTITUTION = "institution=The Arctic University Museum of Norway"
KEYS = 24  # specimens in the bundled TROM subset


def published_keys(base: str, token: str) -> tuple[list[str], int]:
    """The specimen keys of the server's published depositions, and how many drafts it holds."""
    deps: list[dict[str, Any]] = []
    while len(deps) % 100 == 0:
        batch = httpx.get(f"{base}/api/deposit/depositions", params={"size": 100, "page": len(deps) // 100 + 1},
                          headers={"Authorization": f"Bearer {token}"}).json()
        deps += batch
        if not batch:
            break
    keys = [r["identifier"] for d in deps if d["submitted"] for r in d["metadata"].get("related_identifiers", [])
            if r["relation"] == "isAlternateIdentifier" and r["identifier"].startswith("urn:catalog:TROM")]
    return keys, sum(1 for d in deps if not d["submitted"])


def depot(*args: str, cwd: Path, env: dict[str, str] | None = None,
          timeout: float = 240) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "depot", *args], capture_output=True, text=True, cwd=cwd,
                            env=env, timeout=timeout)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def source_args(archive: Path, images: Path) -> list[str]:
    return [str(archive), "--images", str(images), "--path-template", "{images}/{catalogNumber}.png",
            "--var", INSTITUTION, "--progress", "quiet"]


def states(ledger: Path) -> dict[str, int]:
    """The ledger's counts by state, read without writing (the run is writing it)."""
    if not ledger.exists():
        return {}
    try:
        with contextlib.closing(sqlite3.connect(ledger.as_uri() + "?mode=ro", uri=True, timeout=5)) as conn:
            return dict(conn.execute("SELECT state, count(*) FROM specimens GROUP BY state").fetchall())
    except sqlite3.OperationalError:  # not created yet
        return {}


def kill_when_created(cmd: list[str], ledger: Path, cwd: Path, env: dict[str, str] | None = None) -> None:
    """Start a run and kill -9 it once a deposit is created on the server and waits for its upload."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not states(ledger).get("created"):
            assert proc.poll() is None, "the run ended before anything was created"
            assert time.monotonic() < deadline, "nothing was created within 120 s"
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait(10)


@contextlib.contextmanager
def occupied(port: int) -> Iterator[None]:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
        yield


def test_kill_9_during_a_local_run_then_the_rerun_finishes(tmp_path: Path) -> None:
    archive, images = stage(tmp_path)
    ledger, repo = tmp_path / "ledger.sqlite3", tmp_path / "repo"
    # One request a minute: the first deposit is created, then its upload waits for the limit: kill it there.
    first = [sys.executable, "-m", "depot", "run", *source_args(archive, images), "--ledger", str(ledger),
             "--target", "local", "--repo-dir", str(repo), "--rate-limit", "1"]
    kill_when_created(first, ledger, tmp_path)
    # As Depot wrote them before (and as a ledger of then still holds them): absolute, with a port now dead.
    with contextlib.closing(sqlite3.connect(ledger)) as conn, conn:
        rewritten = conn.execute(f"UPDATE specimens SET bucket_url = 'http://127.0.0.1:{free_port()}' || bucket_url "
                                 "WHERE bucket_url LIKE '/%'").rowcount
    assert rewritten >= 1
    remembered = repo / "embedded-port"
    port = int(remembered.read_text()) if remembered.exists() else free_port()
    # The rerun names neither target nor folder (the ledger remembers them), and the remembered port is
    # taken: it runs on another one, and the deposit created before the kill is still resumed.
    unfinished = sum(n for state, n in states(ledger).items() if state != "published")
    with occupied(port):
        rerun = depot("run", *source_args(archive, images), "--ledger", str(ledger), cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    # The plan line counts what the killed run left as the rerun starts, not as its planner reaches rows
    # the deposit beside it may have finished already.
    assert f"{KEYS} unchanged, {unfinished} left unfinished by an earlier run (resumed)" in rerun.stderr
    assert states(ledger) == {"published": KEYS}
    # The run waited for its repository's bags: every record is preserved when the command returns, not at
    # the repository's next start.
    bagged = [f for f in (repo / "bags").iterdir() if f.name.isdigit() and bags_of(repo / "bags", int(f.name))]
    assert len(bagged) == KEYS
    check = depot("reconcile", "--ledger", str(ledger), cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert check.stdout.splitlines()[-1] == f"= {KEYS} + 0 - 0 * 0 ! 0"  # each once, nothing stray
    assert not (tmp_path / "depot-data").exists()
    report = depot("report", "--ledger", str(ledger), "--format", "json", cwd=tmp_path)
    urls = [row["record_url"] for row in json.loads(report.stdout)]
    assert all(u.startswith(f"http://127.0.0.1:{port}/records/") for u in urls)  # the folder's address


def test_a_run_interrupted_on_one_port_resumes_on_another(tmp_path: Path) -> None:
    archive, images = stage(tmp_path)
    ledger = tmp_path / "ledger.sqlite3"
    with serve_repository(tmp_path) as repo:
        env, token, data = repo.env, repo.token, repo.data
        kill_when_created([sys.executable, "-m", "depot", "run", *source_args(archive, images), "--ledger",
                           str(ledger), "--target", f"{repo.base}/api", "--rate-limit", "1"], ledger, tmp_path, env)
    proc, base = start_server(data, None, "--rate-limit", "0", "--search-rate-limit", "0")
    try:
        resumed = depot("run", *source_args(archive, images), "--ledger", str(ledger), "--target", f"{base}/api",
                        cwd=tmp_path, env=env)
        assert resumed.returncode == 0, resumed.stderr
        assert "holds this ledger's deposits" in resumed.stderr
        keys, drafts = published_keys(base, token)
        assert len(keys) == KEYS and len(set(keys)) == KEYS and drafts == 0
        # Later commands default to the ledger's target (now this port), not to a new local repository.
        verify = depot("verify", "--ledger", str(ledger), cwd=tmp_path, env=env)
        assert verify.returncode == 0 and f"verified {KEYS} of {KEYS}" in verify.stdout, verify.stderr
        elsewhere = depot("verify", "--ledger", str(ledger), "--target", "local", cwd=tmp_path, env=env)
        assert elsewhere.returncode == 2 and "does not exist" in elsewhere.stderr
        assert not (tmp_path / "depot-data").exists()
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with serve_repository(tmp_path) as repo:
        yield repo.base, repo.env


def test_preflight_stops_a_wrong_target_or_token_before_the_source_is_read(tmp_path: Path, served: tuple[
        str, dict[str, str]]) -> None:
    base, env = served
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")  # were it read, the error would be about the source
    ledger = tmp_path / "ledger.sqlite3"
    cases = [
        ({}, base, f"did you mean --target {base}/api"),
        ({}, f"{base}/api/deposit/depositions", f"did you mean --target {base}/api"),
        ({}, f"http://127.0.0.1:{free_port()}/api", "connection refused"),
        ({}, "http://no-such-host.invalid/api", "cannot find the host 'no-such-host.invalid'"),
        ({"DEPOT_TOKEN": "not-a-token"}, f"{base}/api", "depot repo create-token"),
    ]
    for extra, target, expected in cases:
        started = time.monotonic()
        result = depot("run", str(broken), "--kind", "dwca", "--ledger", str(ledger), "--target", target,
                       cwd=tmp_path, env={**env, **extra})
        assert result.returncode == 2 and expected in result.stderr, (target, result.stderr)
        assert time.monotonic() - started < 60
        assert not ledger.exists()
    token = depot("run", str(broken), "--ledger", str(ledger), "--target", f"{base}/api", cwd=tmp_path,
                  env={**env, "DEPOT_TOKEN": "not-a-token"})
    assert "refused the token (HTTP 403" in token.stderr and "DEPOT_TOKEN" in token.stderr


def test_read_only_commands_never_create_a_ledger(tmp_path: Path) -> None:
    archive, images = stage(tmp_path)
    for args in (["status"], ["status", "--json"], ["report", "-o", "out.csv"], ["report", "--all-versions"],
                 ["verify"], ["reconcile"], ["check", *source_args(archive, images)[:-2]]):
        result = depot(*args, "--ledger", "typo.sqlite3", cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "no ledger at typo.sqlite3: it does not exist" in result.stderr, (args, result.stderr)
        assert not (tmp_path / "typo.sqlite3").exists() and not (tmp_path / "out.csv").exists()
        assert not (tmp_path / "depot-data").exists()


def test_a_new_ledger_stops_before_depositing_what_the_target_already_holds(tmp_path: Path, served: tuple[
        str, dict[str, str]]) -> None:
    """A typo in --ledger (or a lost ledger) would deposit every specimen a second time, with new DOIs: a
    ledger that never created anything first looks for its first specimens on the target."""
    base, env = served
    archive, images = stage(tmp_path)
    target = ["--target", f"{base}/api"]
    first = depot("run", *source_args(archive, images), *target, "--ledger", "a.sqlite3", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    token = env["DEPOT_TOKEN"]
    before = published_keys(base, token)
    assert len(before[0]) == KEYS

    typo = depot("run", *source_args(archive, images), *target, "--ledger", "b.sqlite3", cwd=tmp_path, env=env)
    assert typo.returncode == 2, typo.stderr
    # all of the first batch, however many planning had written by then
    assert re.search(r"already holds (\d+) of the \1 specimens of this source looked for", typo.stderr), typo.stderr
    assert "--allow-duplicates" in typo.stderr and "Nothing was sent" in typo.stderr
    again = depot("run", *source_args(archive, images), *target, "--ledger", "b.sqlite3", cwd=tmp_path, env=env)
    assert again.returncode == 2 and "already holds" in again.stderr  # the refused ledger stays careful
    assert published_keys(base, token) == before

    # The ledger of the earlier deposit goes on without a look (it has deposited), and so does a run told to.
    assert depot("run", *source_args(archive, images), *target, "--ledger", "a.sqlite3", cwd=tmp_path,
                 env=env).returncode == 0
    assert published_keys(base, token) == before
    forced = depot("run", *source_args(archive, images), *target, "--ledger", "b.sqlite3", "--allow-duplicates",
                   cwd=tmp_path, env=env)
    assert forced.returncode == 0, forced.stderr
    assert sorted(published_keys(base, token)[0]) == sorted(before[0] * 2)


def test_a_new_ledger_finds_an_earlier_deposit_of_another_part_of_the_source(tmp_path: Path, served: tuple[
        str, dict[str, str]]) -> None:
    """The earlier deposit (its ledger lost) held only the last rows of today's export: none of the first
    20 keys is on the target, but keys spread through the source are looked for too."""
    base, env = served
    images = tmp_path / "images"
    images.mkdir()
    header = "occurrenceID,catalogNumber,scientificName\n"
    rows = []
    for i in range(60):
        (images / f"S{i}.png").write_bytes(png_image(i))
        rows.append(f"urn:catalog:TROM:S{i},S{i},Fucus vesiculosus L.\n")
    (tmp_path / "last.csv").write_text(header + "".join(rows[40:]), encoding="utf-8")
    (tmp_path / "all.csv").write_text(header + "".join(rows), encoding="utf-8")
    common = ["--images", str(images), "--path-template", "{images}/{catalogNumber}.png", "--license", "cc-by-4.0",
              "--var", INSTITUTION, "--progress", "quiet", "--target", f"{base}/api"]
    first = depot("run", "last.csv", *common, "--ledger", "lost.sqlite3", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    before = published_keys(base, env["DEPOT_TOKEN"])
    assert len(before[0]) == 20

    again = depot("run", "all.csv", *common, "--ledger", "new.sqlite3", cwd=tmp_path, env=env)
    assert again.returncode == 2, again.stderr
    found = re.search(r"already holds (\d+) of the (\d+) specimens of this source looked for", again.stderr)
    assert found is not None and 0 < int(found.group(1)) < int(found.group(2)), again.stderr
    assert "urn:catalog:TROM:S4" in again.stderr and "Nothing was sent" in again.stderr
    assert published_keys(base, env["DEPOT_TOKEN"]) == before  # no second DOI for any of the 20
