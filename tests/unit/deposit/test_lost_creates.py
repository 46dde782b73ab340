"""A repository that declares its listing's lag lets a lost create be settled at once (search_lag.py); one
that does not (Zenodo) keeps the configured waits. In-process: the repository app on loopback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from test_runner import plan, run_runner, serve, server_keys

from depot.deposit import RepositoryClient, Runner, RunSettings, State
from depot.deposit.job import initial_stats
from depot.deposit.ratelimit import RateLimiter
from depot.deposit.search_lag import LINGER, SearchLag, declared_lag


def test_the_declared_lag_is_read_from_the_header_and_the_largest_is_kept() -> None:
    assert declared_lag({"x-depot-search-lag": "1.5"}) == 1.5
    assert declared_lag({"X-Depot-Search-Lag": "0"}) == 0.0
    for bad in ("-1", "nan", "inf", "soon"):
        assert declared_lag({"x-depot-search-lag": bad}) is None
    assert declared_lag({"content-type": "application/json"}) is None
    lag = SearchLag()
    lag.observe(2.0)
    lag.observe(0.5)
    lag.observe(None)
    assert lag.declared == 2.0


def test_a_miss_is_conclusive_only_from_the_bound_on() -> None:
    lag = SearchLag()
    lag.lost("a", 100.0, timed_out=False)
    assert lag.first_look_in("a", 100.0, 2.0) == 2.0  # nothing declared yet: the configured wait
    assert not lag.conclusive("a", 200.0)
    lag.observe(0.5)
    bound = 100.0 + LINGER + 0.5
    assert lag.first_look_in("a", 100.0, 9.0) == pytest.approx(LINGER + 0.5)
    assert lag.first_look_in("a", 100.0, 1.0) == 1.0  # never longer than configured
    assert not lag.conclusive("a", bound - 0.01) and lag.conclusive("a", bound)
    assert lag.recheck_in("a", bound - 0.5, 5.0) == pytest.approx(0.55)
    lag.lost("b", 100.0, timed_out=True)  # we gave up waiting: the server may still be creating it
    assert not lag.conclusive("b", 1000.0) and lag.first_look_in("b", 100.0, 2.0) == 2.0
    lag.forget("a")
    assert not lag.conclusive("a", 1000.0)


class SecondCreate504:
    """ASGI middleware: the second create is answered 504, after the app made it (``commit``) or without
    reaching the app."""

    def __init__(self, app: Any, commit: bool) -> None:
        self.app, self.commit, self.creates = app, commit, 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/deposit/depositions"):
            await self.app(scope, receive, send)
            return
        self.creates += 1
        if self.creates != 2:
            await self.app(scope, receive, send)
            return

        async def swallow(_message: dict[str, Any]) -> None:
            return None

        if self.commit:
            await self.app(scope, receive, swallow)
        await send({"type": "http.response.start", "status": 504, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"Gateway Timeout"})


def test_a_create_that_made_nothing_is_sent_again_without_the_zenodo_waits(tmp_path: Path) -> None:
    """Configured for Zenodo (look after 5 s, again 30 s later), against a repository whose listing is
    immediate (it says so from the first create on): the lost create is settled by one look about LINGER
    later and created again, not after 35 s."""
    ledger = plan(tmp_path, 3)
    settings = RunSettings(transfers=1, probe_delay=5.0, probe_recheck=30.0)
    with serve(tmp_path, lambda app: SecondCreate504(app, commit=False)) as (api, token):
        started = time.monotonic()
        runner = asyncio.run(run_runner(ledger, api, token, settings))
        elapsed = time.monotonic() - started
        keys, drafts = server_keys(api, token)
    assert sorted(keys) == [f"urn:catalog:RUN:{i}" for i in range(3)] and drafts == 0
    assert elapsed < 5.0, elapsed  # the old code waited 5 s + 30 s
    assert runner.stats.probes == 1 and not runner.lag.ended
    ledger.close()


def test_a_lost_create_behind_a_lagging_index_is_found_not_made_twice(tmp_path: Path) -> None:
    """The repository's index trails writes by 1.5 s and says so: the look waits LINGER + 1.5 s, finds
    the committed deposition and carries on with it (one record, no draft left)."""
    ledger = plan(tmp_path, 2)
    settings = RunSettings(transfers=1, probe_delay=20.0, probe_recheck=30.0)
    with serve(tmp_path, lambda app: SecondCreate504(app, commit=True), search_lag=1.5) as (api, token):
        started = time.monotonic()
        runner = asyncio.run(run_runner(ledger, api, token, settings))
        elapsed = time.monotonic() - started
        keys, drafts = server_keys(api, token)
    assert sorted(keys) == ["urn:catalog:RUN:0", "urn:catalog:RUN:1"] and drafts == 0
    assert LINGER + 1.5 <= elapsed < 15.0, elapsed
    assert runner.stats.probes == 1
    ledger.close()


def test_a_stop_during_a_rate_limit_wait_leaves_the_record_as_it_was(tmp_path: Path) -> None:
    """Ctrl-C while a create waits for the rate limit: nothing was sent, so the row is not uncertain."""
    ledger = plan(tmp_path, 2)

    async def main(api: str, token: str) -> Runner:
        limiter = RateLimiter(1, None)  # one request a minute: the second create waits
        async with RepositoryClient(api, token, limiter=limiter) as client:
            runner = Runner(ledger, client, RunSettings(transfers=2), initial_stats(ledger))
            task = asyncio.create_task(runner.run())
            while started(ledger) < 2:  # the first create went, the second waits for the limit
                await asyncio.sleep(0.02)
            runner.stop()
            limiter.stop()
            await task
            return runner

    def started(led: Any) -> int:
        counts = led.counts_by_state()
        return int(counts.get(State.UNCERTAIN, 0)) + int(counts.get(State.CREATED, 0)) \
            + int(counts.get(State.PUBLISHED, 0))

    with serve(tmp_path) as (api, token):
        asyncio.run(main(api, token))
    states = sorted(ledger.get(f"urn:catalog:RUN:{i}").state.value for i in range(2))
    assert State.UNCERTAIN.value not in states, states
    ledger.close()
