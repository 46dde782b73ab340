"""Adaptive concurrency (pure): fewer requests in flight when latency or 5xx rise, more when they fall.

Additive increase, multiplicative decrease, as TCP congestion control: every ``period`` outcomes the
controller compares the median latency with the best it has seen; a 5xx/timeout share above
``error_threshold`` or a latency above ``latency_factor`` × baseline halves the limit, otherwise it
grows by one, between ``minimum`` and ``maximum``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class AdaptiveLimit:
    maximum: int
    minimum: int = 1
    period: int = 20
    error_threshold: float = 0.1
    latency_factor: float = 3.0
    limit: int = 0
    baseline: float | None = None
    _latencies: list[float] = field(default_factory=list)
    _errors: int = 0

    def __post_init__(self) -> None:
        self.limit = self.limit or self.maximum

    def record(self, seconds: float | None, server_error: bool) -> None:
        """One finished request: its latency (None when it failed without an answer) and whether it was 5xx."""
        if seconds is not None:
            self._latencies.append(seconds)
        self._errors += int(server_error or seconds is None)
        if len(self._latencies) + (self._errors if not self._latencies else 0) < self.period:
            return
        median = statistics.median(self._latencies) if self._latencies else None
        total = max(len(self._latencies), self._errors, 1)
        slow = median is not None and self.baseline is not None and median > self.latency_factor * self.baseline
        if self._errors / total > self.error_threshold or slow:
            self.limit = max(self.minimum, self.limit // 2)
        else:
            self.limit = min(self.maximum, self.limit + 1)
        if median is not None:
            self.baseline = median if self.baseline is None else min(self.baseline, median)
        self._latencies.clear()
        self._errors = 0
