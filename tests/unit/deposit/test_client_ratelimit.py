"""The run-wide rate limiter, on a fake clock: it keeps under the server's moving window and learns."""

from __future__ import annotations

import asyncio

from depot.deposit.ratelimit import RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_paces_to_the_limit_with_a_margin() -> None:
    t = FakeTime()
    limiter = RateLimiter(per_minute=10, per_hour=None, margin=1.0, clock=t.clock, wall=t.clock, sleep=t.sleep)

    async def go() -> list[float]:
        times = []
        for _ in range(25):
            await limiter.acquire()
            times.append(t.now)
        return times

    times = asyncio.run(go())
    assert times[9] == 1000.0 and times[10] == 1061.0 and times[20] == 1122.0
    # No 60-second window ever holds more than 10 sends.
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
