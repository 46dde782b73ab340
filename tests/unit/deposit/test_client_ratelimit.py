"""The run-wide rate limiter, on a fake clock: it keeps under the server's moving window and learns."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import deque

import pytest

from depot.deposit.ratelimit import LimiterStopped, RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds > 10**5:  # "until woken": only an answer or stop() ends this wait
            await asyncio.Event().wait()
        self.now += seconds


def test_spreads_requests_over_the_window_and_never_exceeds_it() -> None:
    t = FakeTime()
    limiter = RateLimiter(per_minute=10, per_hour=None, margin=1.0, clock=t.clock, wall=t.clock, sleep=t.sleep)

    async def go() -> list[float]:
        times = []
        for _ in range(25):
            await limiter.acquire()
            times.append(t.now)
        return times

    times = asyncio.run(go())
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # One request every (60 + 1) / 10 seconds: no minute's quota leaves at once.
    assert all(abs(g - 6.1) < 1e-6 for g in gaps), gaps
    assert all(sum(1 for x in times if s - 60 < x <= s) <= 10 for s in times)


def test_learns_the_limit_and_waits_on_429_and_remaining_zero() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, wall=t.clock, sleep=t.sleep)
    limiter.observe(200, {"X-RateLimit-Limit": "133", "X-RateLimit-Remaining": "132"})
    assert limiter.per_minute == 133
    limiter.observe(429, {"Retry-After": "30"})
    assert limiter.throttled == 1
    asyncio.run(limiter.acquire())
    assert t.now == 1030.0
    limiter.observe(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(t.now) + 12)})
    asyncio.run(limiter.acquire())
    assert t.now == 1042.0


def test_search_bucket_is_separate() -> None:
    t = FakeTime()
    limiter = RateLimiter(per_minute=100, search_per_minute=2, clock=t.clock, wall=t.clock, sleep=t.sleep)

    async def go() -> None:
        for _ in range(3):
            await limiter.acquire("search")
        await limiter.acquire()

    asyncio.run(go())
    assert t.now == 1061.0  # the third search waited a window; the plain request after it did not wait more


def test_a_429_pauses_every_worker_then_one_request_goes_alone_until_it_is_answered() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, wall=t.clock, sleep=t.sleep, probe_timeout=10**6)
    sent: list[tuple[int, float]] = []

    async def worker(n: int) -> None:
        await limiter.acquire()
        sent.append((n, t.now))

    async def go() -> None:
        await limiter.acquire()
        limiter.observe(429, {"Retry-After": "30"})
        tasks = [asyncio.create_task(worker(n)) for n in range(4)]
        for _ in range(50):
            await asyncio.sleep(0)
        # Nobody went before the Retry-After, and after it only one request, whose answer is awaited.
        assert [at for _, at in sent] == [1030.0]
        limiter.observe(200, {})
        await asyncio.gather(*tasks)

    asyncio.run(go())
    assert len(sent) == 4 and all(at >= 1030.0 for _, at in sent)


class TwoWindowServer:
    """Depot's gateway in miniature: moving windows of 30/min and 60/h; every answer, a 429 on the hour
    included, carries the *minute* window's headers."""

    def __init__(self, t: FakeTime) -> None:
        self.t = t
        self.minute: deque[float] = deque()
        self.hour: deque[float] = deque()
        self.accepted: list[float] = []

    def hit(self) -> tuple[int, dict[str, str]]:
        now = self.t.now
        for window, seconds in ((self.minute, 60), (self.hour, 3600)):
            while window and window[0] <= now - seconds:
                window.popleft()
        status = 429
        if len(self.minute) < 30:
            self.minute.append(now)
            if len(self.hour) < 60:
                self.hour.append(now)
                self.accepted.append(now)
                status = 200
        reset = math.ceil(self.minute[0] + 60) if self.minute else math.ceil(now)
        return status, {"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": str(30 - len(self.minute)),
                        "X-RateLimit-Reset": str(reset), "Retry-After": str(max(0, reset - math.ceil(now)))}


def test_an_hour_window_that_only_a_429_reveals_is_learnt_and_waited_out() -> None:
    t = FakeTime()
    server = TwoWindowServer(t)
    limiter = RateLimiter(clock=t.clock, wall=t.clock, sleep=t.sleep)  # a plain URL: no limits known

    async def go() -> None:
        while len(server.accepted) < 150:
            await limiter.acquire()
            limiter.observe(*server.hit())

    asyncio.run(go())
    assert limiter.throttled == 1  # one 429 when the hour ran out, none after: the hour was learnt
    assert limiter.windows["default"][1].limit == 60
    first, resumed = server.accepted[0], server.accepted[60]
    assert first + 3600 <= resumed <= first + 3600 + 5  # resumed as the hour's oldest request aged out
    assert any("60 per 3600 s" in line for line in limiter.learnt)


def test_a_retry_after_beyond_the_known_windows_reset_is_honoured() -> None:
    t = FakeTime()
    limiter = RateLimiter(per_minute=100, clock=t.clock, wall=t.clock, sleep=t.sleep)
    limiter.observe(429, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(t.now) + 20),
                          "Retry-After": "900"})
    asyncio.run(limiter.acquire())
    assert t.now == 1900.0


def test_fewer_remaining_than_counted_means_someone_else_spends_the_budget() -> None:
    t = FakeTime()
    limiter = RateLimiter(per_minute=10, clock=t.clock, wall=t.clock, sleep=t.sleep)
    limiter.observe(200, {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "2"})
    assert len(limiter.windows["default"][0].sent) == 8


def test_stop_ends_any_wait_at_once() -> None:
    limiter = RateLimiter(per_minute=100)
    limiter.observe(429, {"Retry-After": "3600"})
    waits: list[float] = []
    limiter.on_wait = lambda now, delay: waits.append(delay)

    async def go() -> float:
        task = asyncio.create_task(limiter.acquire())
        while not waits:  # the progress display's hook sees the wait begin
            await asyncio.sleep(0.01)
        started = time.monotonic()
        limiter.stop()
        with pytest.raises(LimiterStopped):
            await asyncio.wait_for(task, 5)
        return time.monotonic() - started

    assert asyncio.run(go()) < 1.0
    assert waits and waits[0] > 3500
