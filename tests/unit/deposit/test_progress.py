"""Progress for days-long runs: the ETA knows the rate limit, events come on a timer (rate-limit waits
included, with paused_s counting), stats lines appear off a terminal, per-record events at -v."""

from __future__ import annotations

import asyncio
import io
import json
import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from depot.deposit.config import parse_duration
from depot.deposit.progress import ProgressDisplay, Stats, window_eta
from depot.deposit.ratelimit import RateLimiter


def simulate(needed: int, limit: int, horizon: float, sent: list[float], now: float) -> float:
    """Send requests one at a time as the moving window allows; seconds until the last one goes."""
    times = [t for t in sent if t > now - horizon]
    at = now
    for _ in range(needed):
        window = [t for t in times if t > at - horizon]
        if len(window) >= limit:
            at = max(at, window[len(window) - limit] + horizon)
        times.append(at)
    return at - now if needed else 0.0


@pytest.mark.parametrize("seed", range(40))
def test_window_eta_is_what_sending_one_by_one_gives(seed: int) -> None:
    rng = random.Random(seed)
    limit, horizon, now = rng.randint(1, 12), rng.choice([5.0, 61.0]), 1000.0
    sent = sorted(now - rng.uniform(0, horizon * 1.5) for _ in range(rng.randint(0, limit + 3)))
    needed = rng.randint(0, 4 * limit + 2)
    assert window_eta(needed, limit, horizon, sent, now) == pytest.approx(simulate(needed, limit, horizon, sent,
                                                                                    now))


def test_eta_counts_the_rate_limit_not_only_the_observed_rate() -> None:
    # The case: at 1.7 s, 25 of 50 records done with 100 requests, at Zenodo's 100/min.
    limiter = RateLimiter(per_minute=100, per_hour=5000)
    now = 1000.0
    stats = Stats(total=50, done=25, requests=100, started=now - 1.7, pacer=limiter)
    limiter.windows["default"][0].sent.extend(now - 1.7 + i * 0.017 for i in range(100))
    limiter.windows["default"][1].sent.extend(now - 1.7 + i * 0.017 for i in range(100))
    snap = stats.snapshot(now)
    assert snap["eta_rate_s"] == 2  # what the old ETA said
    assert 55 <= snap["eta_s"] <= 62  # the next 100 requests must wait for the minute window to roll
    assert snap["requests_left"] == 25 * 3


def test_eta_of_a_large_job_is_bound_by_the_hourly_budget() -> None:
    limiter = RateLimiter(per_minute=100, per_hour=5000)
    stats = Stats(total=300_000, pacer=limiter, started=0.0)
    snap = stats.snapshot(10.0)
    assert snap["eta_s"] is not None and snap["eta_s"] / 3600 == pytest.approx(900_000 / 5000, rel=0.01)


def lines(stream: io.StringIO) -> list[str]:
    return [x for x in stream.getvalue().splitlines() if x]


async def until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_json_events_keep_coming_through_a_rate_limit_wait_with_paused_s_counting() -> None:
    limiter = RateLimiter(per_minute=2, per_hour=None, margin=0.0)
    limiter.windows["default"][0].seconds = 1.0  # a one-second window: the third request waits ~1 s
    stats = Stats(total=3)
    out = io.StringIO()
    display = ProgressDisplay(stats, "json", out, interval=0.05)
    display.attach(limiter)

    async def go() -> None:
        async with display:
            for _ in range(3):
                await limiter.acquire()
                stats.requests += 1

    asyncio.run(go())
    events = [json.loads(x) for x in lines(out)]
    assert all(e["event"] == "progress" for e in events)
    during = [e["paused_s"] for e in events if e["waiting_s"] > 0]
    assert len(during) >= 3, events  # nothing happened in the wait, yet events came
    assert during == sorted(during) and during[-1] > during[0]
    assert events[-1]["paused_s"] == pytest.approx(1.0, abs=0.15)  # the whole wait, counted once


def test_off_a_terminal_auto_prints_a_stats_line_every_interval() -> None:
    stats = Stats(total=10)
    out = io.StringIO()  # not a TTY
    display = ProgressDisplay(stats, "auto", out, interval=0.02)
    assert display.mode == "text"

    async def go() -> None:
        async with display:
            assert len(lines(out)) == 1 and "0/10 published" in lines(out)[0]  # one line at the start
            stats.note_published("k1", "10.5072/x.1")
            await until(lambda: len(lines(out)) >= 4)  # and then one per interval, with nothing happening

    asyncio.run(go())
    assert all("1/10 published" in line for line in lines(out)[1:])


def test_text_mode_default_interval_is_a_minute() -> None:
    assert ProgressDisplay(Stats(), "text", io.StringIO()).interval == parse_duration("1m")


@pytest.mark.parametrize("mode", ["json", "text"])
def test_per_record_events_only_when_verbose(mode: str) -> None:
    for verbose in (False, True):
        stats = Stats(total=3)
        out = io.StringIO()
        display = ProgressDisplay(stats, mode, out, interval=0, verbose=verbose)
        with display:
            stats.note_published("urn:catalog:A:1", "10.5072/depot.1")
            stats.note_retry("urn:catalog:A:2", "upload", 503, 2.0)
            stats.note_failed("urn:catalog:A:3", "publish", 400, "HTTP 400: title: required")
        records = [x for x in lines(out) if "urn:catalog" in x]
        assert stats.done == 1 and stats.failed == 1 and stats.retries == 1
        if not verbose:
            assert records == []
            continue
        assert len(records) == 3
        if mode == "json":
            parsed: list[dict[str, Any]] = [json.loads(x) for x in records]
            assert [(e["event"], e["state"], e["key"]) for e in parsed] == [
                ("record", "published", "urn:catalog:A:1"), ("record", "retry", "urn:catalog:A:2"),
                ("record", "failed", "urn:catalog:A:3")]
            assert parsed[0]["doi"] == "10.5072/depot.1" and parsed[2]["status"] == 400
        else:
            assert "published urn:catalog:A:1 doi=10.5072/depot.1" in records[0]


def test_breaker_pauses_count_once_when_they_overlap() -> None:
    stats = Stats(started=0.0)
    stats.pause(10.0, now=5.0)
    stats.pause(8.0, now=6.0)  # inside the first
    stats.pause(12.0, now=9.0)  # extends it
    assert stats.snapshot(7.0)["paused_s"] == 2.0 and stats.snapshot(7.0)["waiting_s"] == 5.0
    assert stats.snapshot(20.0)["paused_s"] == 7.0


@pytest.mark.parametrize(("text", "seconds"), [("1m", 60), ("30s", 30), ("1h30m", 5400), ("500ms", 0.5),
                                               ("2", 2), ("0", 0), ("1d", 86400)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "1x", "-1", "1m-", "nan"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_requests_left_count_what_records_in_flight_already_sent() -> None:
    # 20 records at 3 requests: 8 done (24 requests), 6 in flight with one request sent each.
    stats = Stats(total=20)
    for i in range(14):
        stats.note_attempt(f"k{i}")
        stats.requests += 1
    for i in range(8):
        for _ in range(2):
            stats.note_attempt(f"k{i}")
            stats.requests += 1
        stats.note_published(f"k{i}", None)
    snap = stats.snapshot()
    assert stats.requests == 30 and snap["requests_left"] == 12 * 3 - 6 == 60 - 30


def test_a_rate_limit_pause_does_not_inflate_the_rate_based_eta() -> None:
    # 5 of 20 published in the first second, then 50 s waiting for the window: 15 more take ~3 s of work.
    stats = Stats(total=20, done=5, started=0.0)
    stats.pause(61.0, now=1.0)
    snap = stats.snapshot(51.0)
    assert snap["eta_rate_s"] == 3 and snap["paused_s"] == 50.0


def test_the_total_is_marked_while_planning_still_reads_the_source() -> None:
    """Planning runs beside the deposit: the total is what it reached so far, so the line says so with a
    "+" (before: "0/8 published" on a 24-specimen run, whose total then grew)."""
    from depot.deposit.progress import render_line

    reading = [True]
    stats = Stats(total=8, done=2, planning=lambda: reading[0])
    assert render_line(stats.snapshot()).startswith("2/8+ published, 0 failed |")
    assert stats.snapshot()["planning"] is True
    reading[0] = False
    stats.total = 24
    assert render_line(stats.snapshot()).startswith("2/24 published, 0 failed |")
    assert Stats(total=3).snapshot()["planning"] is False  # a run with nothing left to plan
