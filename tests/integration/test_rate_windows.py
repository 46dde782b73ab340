"""Every rate window honoured, against a real `depot serve` whose minute and hour windows are shortened
(user_limit_minute_seconds / user_limit_hour_seconds): its 429 on the hour carries the minute window's
headers, as Zenodo's limiter does, so the depositor must learn the hour from the refusal itself."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from depot.deposit import DepositJob, ExitCode, JobSettings, Ledger, RepositoryClient
from depot.deposit.commands.demo import stage
from depot.deposit.errors import HTTPStatusError
from depot.deposit.ratelimit import RateLimiter

from conftest import planned_ledger, serve_repository

MINUTE, HOUR = 3, 10  # seconds: the server's "minute" and "hour" windows


def plan(tmp_path: Path, n: int) -> Ledger:
    return planned_ledger(tmp_path, n, "RATE")


@pytest.fixture
def short_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPOT_USER_LIMIT_MINUTE_SECONDS", str(MINUTE))
    monkeypatch.setenv("DEPOT_USER_LIMIT_HOUR_SECONDS", str(HOUR))


def limiter() -> RateLimiter:
    # A plain API URL: no limits assumed; the windows' lengths are the server's shortened ones.
    return RateLimiter(None, None, windows=(float(MINUTE), float(HOUR)), margin=0.3)


@pytest.mark.usefixtures("short_windows")
def test_workers_learn_the_hour_from_one_429_and_resume_when_it_ends(tmp_path: Path) -> None:
    accepted: list[float] = []
    refused: list[float] = []
    pacer = limiter()

    async def main(api: str, token: str) -> None:
        async with RepositoryClient(api, token, limiter=pacer) as client:
            async def worker() -> None:
                while len(accepted) < 40:
                    try:
                        await client.list_depositions(size=1)
                        accepted.append(time.monotonic())
                    except HTTPStatusError as exc:
                        assert exc.status == 429, exc
                        refused.append(time.monotonic())

            await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(4))), 60)

    with serve_repository(tmp_path, "--rate-limit", "10/20") as served:
        asyncio.run(main(served.base + "/api", served.token))
    # One 429 when the hour ran out, none after: the hour was learnt from it (20 accepted in it).
    t0 = accepted[0]
    seen = [round(t - t0, 3) for t in accepted], [round(t - t0, 3) for t in refused], pacer.learnt
    assert len(refused) == 1 and pacer.throttled == 1, str(seen)
    assert pacer.windows["default"][1].limit == 20
    # Resumed when the hour's oldest request aged out, not one "Retry-After" (a minute) later.
    first, resumed = accepted[0], accepted[20]
    assert first + HOUR <= resumed <= first + HOUR + MINUTE, (resumed - first)
    # Spread evenly: no minute window saw more than its 10, and none was sent in one burst.
    assert all(sum(1 for t in accepted if s - MINUTE < t <= s) <= 10 for s in accepted)
    # (one every 3.3 / 10 s: ten take about 3.3 s; a burst would take a few ms)
    assert accepted[12] - accepted[2] > 0.8 * (MINUTE + 0.3)
    # and no stall in between (a burst-then-wait pacer leaves gaps of about 3 s; a loaded machine, about 1 s)
    assert max(b - a for a, b in itertools.pairwise(accepted[2:12])) < 2.0


@pytest.mark.usefixtures("short_windows")
def test_a_deposit_publishes_everything_across_an_hour_window_with_one_429(tmp_path: Path) -> None:
    ledger = plan(tmp_path, n=10)  # 30 requests against 20 an "hour"
    pacer = limiter()
    with serve_repository(tmp_path, "--rate-limit", "10/20") as served:
        (tmp_path / "token").write_text(served.token)
        job = DepositJob(ledger, JobSettings(target=served.base + "/api", token_file=tmp_path / "token",
                                             transfers=4), limiter=pacer)
        result = asyncio.run(asyncio.wait_for(job.run(), 90))
    assert result.code is ExitCode.OK and result.published == 10, result
    assert pacer.throttled <= 1, pacer.learnt
    ledger.close()


def test_stop_ends_a_run_waiting_on_the_rate_limit_within_2_seconds(tmp_path: Path) -> None:
    ledger = plan(tmp_path, n=4)
    waits: list[float] = []

    async def main(job: DepositJob) -> tuple[ExitCode, float]:
        task = asyncio.create_task(job.run())
        while not any(w > 10 for w in waits):  # waiting on the minute's quota (2 a minute)
            assert not task.done(), task.result()
            await asyncio.sleep(0.05)
        started = time.monotonic()
        job.stop()  # what Ctrl-C's handler calls
        result = await asyncio.wait_for(task, 10)
        return result.code, time.monotonic() - started

    def attach(pacer: RateLimiter) -> None:
        pacer.on_wait = lambda _now, delay: waits.append(delay)

    with serve_repository(tmp_path, "--rate-limit", "2/100") as served:
        (tmp_path / "token").write_text(served.token)
        job = DepositJob(ledger, JobSettings(target=served.base + "/api", token_file=tmp_path / "token",
                                             transfers=4), on_limiter=attach)
        code, took = asyncio.run(main(job))
    assert code is ExitCode.INTERRUPTED and took < 2.0, (code, took)
    ledger.close()


def test_ctrl_c_stops_depot_run_waiting_on_the_rate_limit_within_2_seconds(tmp_path: Path) -> None:
    archive, images = stage(tmp_path)
    ledger = tmp_path / "ledger.sqlite3"
    with serve_repository(tmp_path, "--rate-limit", "3/600") as served:
        proc = subprocess.Popen(
            [sys.executable, "-m", "depot", "run", str(archive), "--images", str(images), "--path-template",
             "{images}/{catalogNumber}.png", "--target", f"{served.base}/api", "--ledger", str(ledger),
             "--profile", "specimen", "--var", "institution=The Arctic University Museum of Norway",
             "--progress", "json", "--transfers", "4"], env=served.env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            # Three requests a minute, paced: once one deposition is created the next request waits ~20 s.
            deadline = time.monotonic() + 60
            while not _created(ledger):
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.05)
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
            took = time.monotonic() - started
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "Traceback" not in err
    # 2 s is the goal on an idle machine (the bench's concern); on a loaded one the shutdown's CPU work
    # stretches with the run queue, so the bound grows with the load per core, but stays far below the ~20 s
    # rate-limit wait that a run ignoring Ctrl-C would sit out.
    assert took < min(10.0, 2.0 * max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))), took


def _created(ledger: Path) -> bool:
    with contextlib.suppress(sqlite3.Error), \
            contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=1)) as db:
        return bool(db.execute("SELECT count(*) FROM specimens WHERE state = 'created'").fetchone()[0])
    return False
