"""Adaptive concurrency (pure): fewer requests in flight when the server is overloaded, more when not.

Additive increase, multiplicative decrease, as TCP congestion control, over windows of ``period``
outcomes. The limit halves only on signs of *overload*: answers that say so (429, 503: see
``policy.Rule.overload``) above ``overload_threshold`` of the window, or a median latency above
``latency_factor`` x the best median seen. Latency is taken per request in flight (Little's law): on a
server that is merely busy, latency grows with the number in flight while throughput stays flat, and
that is no reason to send less. Isolated lost answers and 5xx (a dropped connection, a 502
from a proxy) say nothing about load: at the 2019 pilot's fault mix x20 one request in ten fails that
way, and halving on them kept the limit at 1 half the time. Only when most requests fail
(``failure_threshold``) is that taken as a sick server; the circuit breaker handles outages.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class AdaptiveLimit:
    maximum: int
    minimum: int = 1
    period: int = 20
    overload_threshold: float = 0.1
    failure_threshold: float = 0.5
    latency_factor: float = 3.0
    baseline_weight: float = 0.2  # how far one window moves the latency baseline towards its median
    limit: int = 0
    baseline: float | None = None
    _latencies: list[float] = field(default_factory=list)
    _outcomes: int = 0
    _overloads: int = 0
    _failures: int = 0

    def __post_init__(self) -> None:
        self.limit = self.limit or self.maximum

    def record(self, seconds: float | None, *, overload: bool = False, failed: bool = False,
               in_flight: int = 1) -> None:
        """One finished request: its latency (None when no answer came), whether the answer said the
        server is overloaded (429/503), whether it failed otherwise (5xx, no answer), and how many
        requests were in flight."""
        if seconds is not None and not failed and not overload:
            self._latencies.append(seconds / max(1, in_flight))  # an instant error says nothing of latency
        self._outcomes += 1
        self._overloads += int(overload)
        self._failures += int(failed or seconds is None)
        if self._outcomes < self.period:
            return
        median = statistics.median(self._latencies) if self._latencies else None
        slow = median is not None and self.baseline is not None and median > self.latency_factor * self.baseline
        if self._overloads / self._outcomes > self.overload_threshold or slow \
                or self._failures / self._outcomes > self.failure_threshold:
            self.limit = max(self.minimum, self.limit // 2)
        else:
            self.limit = min(self.maximum, self.limit + 1)
        if median is not None:
            # The baseline follows the windows that were not slow (a lucky window moves it a little, not
            # all the way down), and re-learns at the minimum limit, where there is nothing left to cut:
            # a minimum-of-medians baseline on a shared machine kept the limit at 1 even without faults.
            if self.baseline is None:
                self.baseline = median
            elif not slow or self.limit == self.minimum:
                self.baseline += self.baseline_weight * (median - self.baseline)
        self._latencies.clear()
        self._outcomes = self._overloads = self._failures = 0
