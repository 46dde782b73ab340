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

Latency per request in flight is the inverse of throughput, so it is compared with the baseline only
at a comparable load (``comparable_load`` of the load the baseline was learnt at, or more): after a
halving, a server that was not saturated does half the work at half the load, its latency per request
in flight doubles, and comparing that with the old baseline halved the limit again, down to 1 (seen
against the yardstick: 31 of 120 windows below 16 in a fault-free run). And one slow window is not
enough (``slow_windows`` in a row): a garbage-collection pause or a neighbour's burst on a shared
machine made single windows 3x slower.
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
    comparable_load: float = 0.75  # a window's latency is judged only at this share of the baseline's load
    slow_windows: int = 2  # slow windows in a row before latency alone halves the limit (then each one does)
    limit: int = 0
    baseline: float | None = None
    baseline_load: float = 0.0  # the mean number in flight of the windows the baseline was learnt from
    _latencies: list[float] = field(default_factory=list)
    _loads: list[int] = field(default_factory=list)
    _slow_streak: int = 0
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
            self._loads.append(max(1, in_flight))
        self._outcomes += 1
        self._overloads += int(overload)
        self._failures += int(failed or seconds is None)
        if self._outcomes < self.period:
            return
        median = statistics.median(self._latencies) if self._latencies else None
        load = statistics.fmean(self._loads) if self._loads else 0.0
        comparable = slow = False
        if median is not None and self.baseline is not None and load >= self.comparable_load * self.baseline_load:
            comparable, slow = True, median > self.latency_factor * self.baseline
        self._slow_streak = self._slow_streak + 1 if slow else 0
        if self._overloads / self._outcomes > self.overload_threshold or self._slow_streak >= self.slow_windows \
                or self._failures / self._outcomes > self.failure_threshold:
            self.limit = max(self.minimum, self.limit // 2)
        else:
            self.limit = min(self.maximum, self.limit + 1)
        if median is not None:
            # The baseline follows the comparable windows that were not slow (a lucky window moves it a
            # little, not all the way down), and re-learns at the minimum limit, where there is nothing
            # left to cut: a minimum-of-medians baseline on a shared machine kept the limit at 1 even
            # without faults.
            if self.baseline is None:
                self.baseline, self.baseline_load = median, load
            elif (comparable and not slow) or self.limit == self.minimum:
                self.baseline += self.baseline_weight * (median - self.baseline)
                self.baseline_load += self.baseline_weight * (load - self.baseline_load)
        self._latencies.clear()
        self._loads.clear()
        self._outcomes = self._overloads = self._failures = 0
