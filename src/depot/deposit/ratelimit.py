"""A run-wide client-side rate limiter that paces every worker and learns from the server's headers.

Zenodo counts requests per user in moving windows (Flask-Limiter): 100/min and 5,000/h by default.
Two rules decide when a request may go, over each window:

- pacing (GCRA): requests leave one ``(window + margin) / (limit - burst + 1)`` apart after a burst of
  ``burst`` (1 by default: a burst lets two requests meet a window's end together, costing two 429s),
  so a window's quota is spread over the window instead of sent in a second and then waited out;
- a hard cap: we keep the send times and let a request go only while fewer than the limit were sent
  in the last ``window + margin`` seconds. The server counts a request when it *arrives*, slightly
  later than we sent it: the margin keeps a run at the limit free of 429s.

From every answer it learns: ``X-RateLimit-Limit`` (the first window's figure), ``-Remaining`` (fewer
left than we think: someone else spends the budget; 0: everyone waits for ``-Reset``) and, on a 429,
``Retry-After``. A 429 pauses every worker, and after the pause one request goes alone until its answer
comes back, so a window change costs at most one 429. A server that refuses on a longer window may
answer with the first window's headers (Depot's and Flask-Limiter's do): a 429 while the first window
still has requests ``Remaining`` (by its headers or by our count), or a ``Retry-After`` beyond its reset,
means a longer window is spent.
Its limit is then what the server accepted within it, and the run waits until its oldest request ages
out, instead of asking again every minute. ``stop()`` ends every wait at once (Ctrl-C); a request that
need not wait still goes, so a run without limits finishes the records in flight as before.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field


class LimiterStopped(Exception):
    """Raised by ``acquire`` once ``stop()`` was called: the request was not sent."""


@dataclass
class Window:
    limit: int | None
    seconds: float
    sent: deque[float] = field(default_factory=deque)
    tat: float = 0.0  # GCRA's theoretical arrival time of the next request

    def interval(self, margin: float, burst: int = 1) -> float:
        """Pacing's spacing: a burst plus evenly spaced requests never exceed the window's limit."""
        return (self.seconds + margin) / max(1, self.limit - max(0, burst - 1)) if self.limit else 0.0

    def wait(self, now: float, margin: float, burst: int = 0) -> float:
        """Seconds until one more request fits (0: now): the hard cap, then the pacing."""
        horizon = self.seconds + margin
        while self.sent and self.sent[0] <= now - horizon:
            self.sent.popleft()
        if self.limit is None:
            return 0.0
        cap = 0.0 if len(self.sent) < self.limit else self.sent[len(self.sent) - self.limit] + horizon - now
        pace = self.tat - max(0, burst - 1) * self.interval(margin, burst) - now if burst else 0.0
        return max(cap, pace, 0.0)

    def take(self, now: float, margin: float, burst: int) -> None:
        self.sent.append(now)
        interval = self.interval(margin, burst)
        # A request a little late (a busy loop wakes a few ms after its slot) keeps the rhythm, or
        # those few ms would be lost at every slot.
        self.tat = (self.tat if now - self.tat <= interval else now) + interval


class RateLimiter:
    """Shared by all workers of a run; ``acquire`` before each request, ``observe`` each answer."""

    def __init__(self, per_minute: int | None = None, per_hour: int | None = None, *,
                 search_per_minute: int | None = 30, margin: float = 1.0, burst: int = 1,
                 windows: tuple[float, float] = (60.0, 3600.0), probe_timeout: float = 30.0,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        minute, hour = windows
        self.windows = {"default": [Window(per_minute, minute), Window(per_hour, hour)],
                        "search": [Window(search_per_minute, minute), Window(None, hour)]}
        self.margin = margin
        self.burst = burst
        self.probe_timeout = probe_timeout
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        self.blocked_until = 0.0
        self.waited = 0.0  # seconds spent waiting, for the run's statistics
        self.throttled = 0  # 429 answers seen
        self.learnt: list[str] = []  # what the answers taught, e.g. "a longer window: 600 per 3600 s"
        self.on_wait: Callable[[float, float], None] | None = None  # (now, delay) before each wait: progress
        self.stopped = False
        # After a 429, or before the first answer says what the limits are: one request at a time
        # until one is accepted.
        self._probing = per_minute is None
        self._probe_sent_at: float | None = None
        self._wakers: set[asyncio.Future[None]] = set()
        self._lock = asyncio.Lock()

    @property
    def per_minute(self) -> int | None:
        return self.windows["default"][0].limit

    def stop(self) -> None:
        """End every wait now: from here on ``acquire`` raises ``LimiterStopped`` instead of waiting."""
        self.stopped = True
        self._wake()

    async def acquire(self, bucket: str = "default") -> None:
        windows = self.windows.get(bucket, self.windows["default"])
        async with self._lock:  # one waiter at a time keeps the order fair and the count exact
            while True:
                now = self.clock()
                delay = max([self.blocked_until - now]
                            + [w.wait(now, self.margin, self.burst) for w in windows])
                if self.stopped and (delay > 0 or self._probe_sent_at is not None):
                    # Stopping: a request that may go now goes (its record finishes as far as it can),
                    # one that would have to wait is not sent.
                    raise LimiterStopped("the run is stopping")
                if delay <= 0 and self._probe_sent_at is not None:
                    # The request sent after a 429 has not been answered: nobody else goes meanwhile.
                    delay = self._probe_sent_at + self.probe_timeout - now
                    if delay <= 0:
                        self._probe_sent_at = None  # no answer at all: let the next one be the probe
                        continue
                    await self._pause(delay)
                    continue
                if delay <= 0:
                    for w in windows:
                        w.take(now, self.margin, self.burst)
                    if self._probing:
                        self._probe_sent_at = now
                    return
                self.waited += delay
                if self.on_wait is not None:
                    self.on_wait(now, delay)
                await self._pause(delay)

    def observe(self, status: int, headers: Mapping[str, str], bucket: str = "default") -> None:
        """Learn from one answer (``status`` 0: the request got no answer)."""
        lower = {k.lower(): v for k, v in headers.items()}
        now, wall = self.clock(), self.wall()
        windows = self.windows.get(bucket, self.windows["default"])
        first = windows[0]
        limit = _int(lower.get("x-ratelimit-limit"))
        if limit is not None and limit > 0 and first.limit != limit:
            first.limit = limit  # the server's own figure wins over our assumption
            # What went before we knew counts as paced: the next request waits its turn behind them.
            first.wait(now, self.margin)
            ahead = len(first.sent) - self.burst + 1
            first.tat = max(first.tat, now + ahead * first.interval(self.margin, self.burst))
        remaining = _int(lower.get("x-ratelimit-remaining"))
        reset = _int(lower.get("x-ratelimit-reset"))
        reset_in = max(0.0, reset - wall) if reset is not None else None
        retry_after = _int(lower.get("retry-after"))
        if status != 429:
            if status and self._probing:
                self._probing = False  # accepted again: everyone may go
            if remaining == 0 and reset_in is not None:
                self.blocked_until = max(self.blocked_until, now + reset_in)
            elif remaining is not None and first.limit:
                # Fewer left than we counted: another client spends the same budget; count its requests.
                first.wait(now, self.margin)
                for _ in range(first.limit - remaining - len(first.sent)):
                    first.sent.append(now)
            self._answered()
            return
        self.throttled += 1
        self._probing = True
        wait = float(retry_after if retry_after is not None else (reset_in if reset_in is not None else 60))
        first.wait(now, self.margin)
        longer = (remaining is not None and remaining > 0) or (
            retry_after is not None and retry_after > (reset_in if reset_in is not None else first.seconds) + 1) or (
            # Paced at the limit, Remaining is 0 after every request: by our count (which holds any
            # other client's use that Remaining showed us) the first window had room, so it did not refuse.
            first.limit is not None and len(first.sent) <= first.limit)
        if longer and len(windows) > 1:
            self._learn_longer(windows, now)
        self.blocked_until = max(self.blocked_until, now + max(1.0, wait))
        self._answered()

    def _learn_longer(self, windows: list[Window], now: float) -> None:
        """A window beyond the first is spent: its limit is what it accepted (the refused request
        aside); the hard cap then waits until the oldest of those ages out."""
        for w in windows[1:]:
            w.wait(now, self.margin)
            if len(w.sent) < 2:
                continue  # nothing of ours counted there: the Retry-After is all we know
            w.sent.pop()  # the refused request: the server did not count it in this window
            accepted = len(w.sent)
            if w.limit is None or accepted < w.limit:
                w.limit = accepted
                w.tat = max(w.tat, (w.sent[0] if w.sent else now) + w.seconds + self.margin)
                self.learnt.append(f"a longer window: {accepted} per {w.seconds:g} s")

    def _answered(self) -> None:
        self._probe_sent_at = None
        self._wake()

    def _wake(self) -> None:
        for fut in self._wakers:
            if not fut.done():
                fut.set_result(None)
        self._wakers.clear()

    async def _pause(self, delay: float) -> None:
        """Sleep ``delay``, or less: an answer to the probe, or stop(), ends it."""
        waker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wakers.add(waker)
        sleeper = asyncio.ensure_future(self.sleep(delay))
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            self._wakers.discard(waker)
        if self.stopped:
            raise LimiterStopped("the run is stopping")


def _int(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(float(raw.strip()))
    except ValueError:
        return None
