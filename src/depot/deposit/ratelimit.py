"""A run-wide client-side rate limiter that paces every worker and learns from the server's headers.

Zenodo counts requests per user in a moving window (Flask-Limiter): 100/min and 5,000/h by default.
Locally we keep the send times of the last hour and let a request go only while fewer than the limit
were sent in the window. A request is counted for ``window + margin`` seconds, because the server
counts it when it *arrives*, slightly later than we sent it: without the margin a run at the limit
meets a 429 now and then; with one second on a minute it uses ~98 % of the limit and meets none.

From every answer it learns: ``X-RateLimit-Limit`` (the per-minute figure), ``X-RateLimit-Remaining``
and ``-Reset`` (remaining 0: everyone waits for the reset), and on a 429 ``Retry-After``. ``limits``
(the library) models a server-side limiter; the "server told us to wait until T" part is not
something it can express, hence this small exact implementation.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field


@dataclass
class Window:
    limit: int | None
    seconds: float
    sent: deque[float] = field(default_factory=deque)

    def wait(self, now: float, margin: float) -> float:
        """Seconds until one more request fits (0: now)."""
        horizon = self.seconds + margin
        while self.sent and self.sent[0] <= now - horizon:
            self.sent.popleft()
        if self.limit is None or len(self.sent) < self.limit:
            return 0.0
        return self.sent[len(self.sent) - self.limit] + horizon - now


class RateLimiter:
    """Shared by all workers of a run; ``acquire`` before each request, ``observe`` each answer."""

    def __init__(self, per_minute: int | None = None, per_hour: int | None = None, *,
                 search_per_minute: int | None = 30, margin: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.windows = {"default": [Window(per_minute, 60.0), Window(per_hour, 3600.0)],
                        "search": [Window(search_per_minute, 60.0)]}
        self.margin = margin
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        self.blocked_until = 0.0
        self.waited = 0.0  # seconds spent waiting, for the run's statistics
        self.throttled = 0  # 429 answers seen
        self.on_wait: Callable[[float, float], None] | None = None  # (now, delay) before each wait: progress
        self._lock = asyncio.Lock()

    @property
    def per_minute(self) -> int | None:
        return self.windows["default"][0].limit

    async def acquire(self, bucket: str = "default") -> None:
        windows = self.windows.get(bucket, self.windows["default"])
        async with self._lock:  # one waiter at a time keeps the order fair and the count exact
            while True:
                now = self.clock()
                delay = max([self.blocked_until - now] + [w.wait(now, self.margin) for w in windows])
                if delay <= 0:
                    for w in windows:
                        w.sent.append(now)
                    return
                self.waited += delay
                if self.on_wait is not None:
                    self.on_wait(now, delay)
                await self.sleep(delay)

    def observe(self, status: int, headers: Mapping[str, str], bucket: str = "default") -> None:
        lower = {k.lower(): v for k, v in headers.items()}
        now, wall = self.clock(), self.wall()
        limit = _int(lower.get("x-ratelimit-limit"))
        windows = self.windows.get(bucket, self.windows["default"])
        if limit is not None and limit > 0 and windows[0].limit != limit:
            windows[0].limit = limit  # the server's own figure wins over our assumption
        remaining = _int(lower.get("x-ratelimit-remaining"))
        reset = _int(lower.get("x-ratelimit-reset"))
        retry_after = _int(lower.get("retry-after"))
        if status == 429:
            self.throttled += 1
            wait = retry_after if retry_after is not None else (reset - wall if reset else 60)
            self.blocked_until = max(self.blocked_until, now + max(1.0, float(wait)))
        elif remaining == 0 and reset is not None:
            self.blocked_until = max(self.blocked_until, now + max(0.0, reset - wall))


def _int(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(float(raw.strip()))
    except ValueError:
        return None
