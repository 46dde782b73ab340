"""Run statistics (pure counters) and their rendering: a live line on a terminal, JSON lines on request.

``Stats`` is what the runner updates; ``render_line`` turns a snapshot into text; ``ProgressDisplay``
is the only part that writes (rich on a terminal, nothing otherwise, or one JSON object per interval).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson


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
    paused_until: float = 0.0  # circuit breaker / rate limit pause, monotonic seconds

    def error(self, status: int | None) -> None:
        self.errors_by_status[str(status) if status is not None else "network"] += 1

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        now = time.monotonic() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        left = max(self.total - self.done - self.failed, 0)
        rate = self.done / elapsed
        return {
            "elapsed_s": round(elapsed, 1), "total": self.total, "published": self.done, "failed": self.failed,
            "left": left, "records_per_s": round(rate, 2), "requests_per_s": round(self.requests / elapsed, 2),
            "bytes_per_s": round(self.bytes_sent / elapsed), "requests": self.requests, "retries": self.retries,
            "probes": self.probes, "eta_s": round(left / rate) if rate > 0 else None,
            "errors": dict(sorted(self.errors_by_status.items())),
            "paused_s": round(max(self.paused_until - now, 0), 1),
        }


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
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def render_line(snap: dict[str, Any]) -> str:
    errors = " ".join(f"{k}×{v}" for k, v in snap["errors"].items()) or "none"
    paused = f" | paused {snap['paused_s']:.0f}s" if snap["paused_s"] else ""
    return (f"{snap['published']}/{snap['total']} published, {snap['failed']} failed | "
            f"{snap['records_per_s']:.1f} rec/s, {snap['requests_per_s']:.1f} req/s, "
            f"{_human_bytes(snap['bytes_per_s'])}/s | ETA {_human_seconds(snap['eta_s'])} | errors: {errors}{paused}")


class ProgressDisplay:
    """Shows ``Stats`` while a run goes on: ``mode`` is ``auto`` (live on a TTY), ``json`` or ``quiet``."""

    def __init__(self, stats: Stats, mode: str = "auto", stream: TextIO | None = None,
                 interval: float = 1.0) -> None:
        self.stats = stats
        self.stream = stream or sys.stderr
        self.mode = "live" if mode == "auto" and self.stream.isatty() else ("json" if mode == "json" else
                                                                             ("quiet" if mode != "live" else "live"))
        self.interval = interval
        self._last = 0.0
        self._live: Any = None

    def __enter__(self) -> ProgressDisplay:
        if self.mode == "live":
            from rich.console import Console
            from rich.live import Live

            self._live = Live(render_line(self.stats.snapshot()), console=Console(file=self.stream),
                              refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        snap = self.stats.snapshot(now)
        if self.mode == "live" and self._live is not None:
            self._live.update(render_line(snap))
        elif self.mode == "json":
            self.stream.write(orjson.dumps({"event": "progress", **snap}).decode() + "\n")
            self.stream.flush()

    def __exit__(self, *exc: object) -> None:
        self.tick(force=True)
        if self._live is not None:
            self._live.__exit__(None, None, None)
