"""Run statistics (counters), the ETA, and their display: a live line on a terminal, a stats line every
``--stats`` interval off one (as rclone's ``--stats 1m``), or JSON lines on request.

``Stats`` is what the runner updates. ``Stats.snapshot`` is the one place figures are computed: the
ETA is the larger of what the observed rate predicts (taken over the time not spent paused) and what
the rate limit allows for the requests still to send (``limit_eta``, pure). Pauses (rate-limit waits,
circuit-breaker pauses) are counted as they go, so ``paused_s`` grows during a wait. ``render_line``
turns a snapshot into text. ``ProgressDisplay`` is the only part that writes: a timer emits one
snapshot per interval whether or not anything happened, and, when verbose, one event per record as it
is published, fails or retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

import orjson

# create (with the metadata) + one upload + publish: what a one-file record costs before any is done.
REQUESTS_PER_RECORD = 3


class _Window(Protocol):
    limit: int | None
    seconds: float
    sent: Any  # a deque of monotonic send times, oldest first


class Pacer(Protocol):
    """What the ETA and the pause counter need from a rate limiter (depot.deposit.ratelimit.RateLimiter)."""

    windows: dict[str, list[Any]]
    margin: float
    blocked_until: float
    on_wait: Callable[[float, float], None] | None


def window_eta(needed: int, limit: int, horizon: float, sent: Sequence[float], now: float) -> float:
    """Seconds until ``needed`` more requests have been sent under a moving window of ``limit`` per ``horizon``
    seconds, given the send times still in the window (oldest first), sending as fast as allowed.

    Request j (1-based) goes at max(now, t[j - limit] + horizon): the pattern of the last window repeats
    one horizon later, so the needed-th request's time has a closed form (no loop over 900,000 requests).
    """
    if needed <= 0 or limit <= 0:
        return 0.0
    live = [t for t in sent if t > now - horizon][-limit:]
    free = limit - len(live)
    q, r = divmod(needed - 1, limit)
    base = now - horizon if r < free else live[r - free]
    return max(0.0, base + (q + 1) * horizon - now)


def limit_eta(needed: int, pacer: Pacer | None, now: float) -> float | None:
    """Seconds the rate limit needs for ``needed`` more requests (the tightest window wins); None: no limit."""
    if pacer is None:
        return None
    etas = [window_eta(needed, w.limit, w.seconds + pacer.margin, list(w.sent), now)
            for w in pacer.windows.get("default", []) if w.limit]
    blocked = max(pacer.blocked_until - now, 0.0)
    return max(etas, default=0.0) + blocked if etas or blocked else None


@dataclass
class Stats:
    total: int = 0  # records this run will try to finish
    done: int = 0  # published in this run
    already: int = 0  # published before this run
    failed: int = 0
    requests: int = 0
    bytes_sent: int = 0
    retries: int = 0
    probes: int = 0
    errors_by_status: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    pacer: Pacer | None = None  # the run's rate limiter, for the ETA
    listener: Callable[[dict[str, Any]], None] | None = None  # per-record events
    planning: Callable[[], bool] = lambda: False  # the source is still being read: ``total`` will grow
    _open: Counter[str] = field(default_factory=Counter)  # requests sent for each record not finished yet
    _finished_requests: int = 0  # requests sent for the records that finished (published or failed)
    _pause_end: float = 0.0  # end of the latest pause, monotonic seconds
    _paused: float = 0.0  # seconds of pause up to _pause_end (overlapping pauses counted once)

    def error(self, status: int | None) -> None:
        self.errors_by_status[str(status) if status is not None else "network"] += 1

    # -- pauses: rate-limit waits and circuit-breaker pauses --------------------------------------------
    def pause(self, until: float, now: float | None = None) -> None:
        """Note that work waits until ``until`` (monotonic); overlapping pauses count once."""
        now = time.monotonic() if now is None else now
        if until <= self._pause_end:
            return
        self._paused += until - max(now, self._pause_end)
        self._pause_end = until

    @property
    def paused_until(self) -> float:
        return self._pause_end

    @paused_until.setter
    def paused_until(self, until: float) -> None:
        self.pause(until)

    def paused_seconds(self, now: float) -> float:
        """Seconds paused so far: a pause still going on counts up to ``now``."""
        return max(self._paused - max(self._pause_end - now, 0.0), 0.0)

    # -- per-record events --------------------------------------------------------------------------
    def note_attempt(self, key: str) -> None:
        """A request is about to be sent for record ``key`` (counted per record for the ETA)."""
        self._open[key] += 1

    def _finish(self, key: str) -> None:
        self._finished_requests += self._open.pop(key, 0)

    def note_published(self, key: str, doi: str | None) -> None:
        self.done += 1
        self._finish(key)
        self._emit({"state": "published", "key": key, "doi": doi})

    def note_failed(self, key: str, step: str | None, status: int | None, message: str) -> None:
        self.failed += 1
        self._finish(key)
        self._emit({"state": "failed", "key": key, "step": step, "status": status, "message": message[:300]})

    def note_retry(self, key: str, step: str | None, status: int | None, delay: float) -> None:
        self.retries += 1
        self._emit({"state": "retry", "key": key, "step": step, "status": status, "retry_in_s": round(delay, 1)})

    def _emit(self, event: dict[str, Any]) -> None:
        if self.listener is not None:
            self.listener({"event": "record", "at": _utc_iso(), **event})

    # -- figures -----------------------------------------------------------------------------------
    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        left = max(self.total - self.done - self.failed, 0)
        rate = self.done / elapsed
        finished = self.done + self.failed
        # Requests per record from the records that finished (those in flight have sent only part of theirs);
        # what the records in flight already sent is not needed again.
        per_record = (self._finished_requests / finished if finished and self._finished_requests
                      else REQUESTS_PER_RECORD)
        needed = max(math.ceil(left * per_record) - sum(self._open.values()), 0)
        # The observed rate while working: time spent paused is the rate limit's share, which by_limit counts.
        working = max(elapsed - self.paused_seconds(now), 1e-9)
        by_rate = left * working / self.done if self.done else None
        by_limit = limit_eta(needed, self.pacer, now) if left else 0.0
        eta: float | None
        if left == 0:
            eta = 0.0
        elif by_rate is None:  # nothing published yet: only a rate limit that binds says anything
            eta = by_limit or None
        else:
            eta = max(by_rate, by_limit or 0.0)
        return {
            "elapsed_s": round(elapsed, 1), "total": self.total, "planning": self.planning(),
            "published": self.done, "failed": self.failed,
            "left": left, "records_per_s": round(rate, 2), "requests_per_s": round(self.requests / elapsed, 2),
            "bytes_per_s": round(self.bytes_sent / elapsed), "requests": self.requests, "retries": self.retries,
            "probes": self.probes, "eta_s": round(eta) if eta is not None else None,
            "eta_rate_s": round(by_rate) if by_rate is not None else None,
            "eta_limit_s": round(by_limit) if by_limit is not None else None,
            "requests_left": needed,
            "errors": dict(sorted(self.errors_by_status.items())),
            "paused_s": round(self.paused_seconds(now), 1),
            "waiting_s": round(max(self._pause_end - now, 0.0), 1),
        }


def _utc_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def _human_seconds(s: float | None) -> str:
    if s is None:
        return "?"
    s = int(s)
    if s >= 86400:
        return f"{s // 86400}d{s % 86400 // 3600:02d}h"
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def render_line(snap: dict[str, Any]) -> str:
    errors = " ".join(f"{k}×{v}" for k, v in snap["errors"].items()) or "none"
    waiting = snap.get("waiting_s") or 0
    paused = (f" | waiting {waiting:.0f}s" if waiting else "") + (
        f" | paused {snap['paused_s']:.0f}s in all" if snap["paused_s"] else "")
    more = "+" if snap.get("planning") else ""  # the total counts what planning has reached so far
    return (f"{snap['published']}/{snap['total']}{more} published, {snap['failed']} failed | "
            f"{snap['records_per_s']:.1f} rec/s, {snap['requests_per_s']:.1f} req/s, "
            f"{_human_bytes(snap['bytes_per_s'])}/s | ETA {_human_seconds(snap['eta_s'])} | errors: {errors}{paused}")


def render_record(event: dict[str, Any]) -> str:
    """One per-record event as a log line (the text form of the JSON event)."""
    detail = {k: v for k, v in event.items() if k not in ("event", "at", "state", "key") and v is not None}
    return f"{event['at']} {event['state']} {event['key']}" + "".join(f" {k}={v}" for k, v in detail.items())


DEFAULT_INTERVALS = {"live": 0.5, "text": 60.0, "json": 1.0, "quiet": 0.0}


class ProgressDisplay:
    """Shows ``Stats`` while a run goes on.

    ``mode``: ``auto`` (live on a terminal, else ``text``), ``live``, ``text`` (a stats line every
    ``interval``), ``json`` (a progress event every ``interval``) or ``quiet``. Use it as an async context
    manager so the timer runs; ``verbose`` adds one event (or line) per record.
    """

    def __init__(self, stats: Stats, mode: str = "auto", stream: TextIO | None = None,
                 interval: float | None = None, *, verbose: bool = False) -> None:
        self.stats = stats
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "live" if _isatty(self.stream) else "text"
        self.mode = mode if mode in DEFAULT_INTERVALS else "quiet"
        self.interval = DEFAULT_INTERVALS[self.mode] if interval is None else interval
        self.verbose = verbose
        self._last = 0.0
        self._live: Any = None
        self._timer: asyncio.Task[None] | None = None
        if verbose:
            stats.listener = self.record

    def attach(self, pacer: Pacer) -> None:
        """Take the ETA's budget from ``pacer`` and count its waits as pauses."""
        self.stats.pacer = pacer
        pacer.on_wait = lambda now, delay: self.stats.pause(now + delay, now)

    # -- context managers: sync (no timer) and async (with the timer) -------------------------------
    def __enter__(self) -> ProgressDisplay:
        if self.mode == "live":
            from rich.console import Console
            from rich.live import Live

            self._live = Live(render_line(self.stats.snapshot()), console=Console(file=self.stream),
                              refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.mode in ("live", "json"):  # a text line is printed by the caller's summary instead
            self.emit()
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    async def __aenter__(self) -> ProgressDisplay:
        self.__enter__()
        if self.mode in ("text", "json"):
            self.emit()  # where the run starts from (total, ETA), before the first interval has passed
        if self.interval > 0 and self.mode != "quiet":
            self._timer = asyncio.get_running_loop().create_task(self._beat())
        return self

    async def __aexit__(self, *exc: object) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        self.__exit__(*exc)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.emit()

    # -- output -------------------------------------------------------------------------------------
    def tick(self, force: bool = False) -> None:
        """Called by the runner as records finish: refreshes a live line (others follow the timer)."""
        if self.mode != "live":
            return
        now = time.monotonic()
        if force or now - self._last >= min(self.interval or 0.5, 0.5):
            self._last = now
            self.emit(now)

    def emit(self, now: float | None = None) -> None:
        snap = self.stats.snapshot(now)
        if self.mode == "live" and self._live is not None:
            self._live.update(render_line(snap))
        elif self.mode == "json":
            self._write(orjson.dumps({"event": "progress", "at": _utc_iso(), **snap}).decode())
        elif self.mode == "text":
            self._write(f"{_utc_iso()} {render_line(snap)}")

    def record(self, event: dict[str, Any]) -> None:
        if self.mode == "json":
            self._write(orjson.dumps(event).decode())
        elif self._live is not None:
            self._live.console.print(render_record(event), markup=False, highlight=False)
        else:
            self._write(render_record(event))

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
