"""Circuit breaker (pure): pause the whole run when errors spike or everything fails, probe, resume.

The 2019 pilot burnt 5,759 records as failures during one database outage. Here, when the share of
failed requests in a sliding window passes ``threshold`` (or ``consecutive`` requests in a row fail), the
breaker opens: no new work starts until ``cooldown`` has passed; then it lets one probe through
(half-open). A probe that succeeds closes it; one that fails re-opens it with a longer cooldown (x ``growth``
up to ``max_cooldown``). The growth is gentle (x1.25, from 2 s), so a paused run resumes at most about a
quarter of the outage after it ends: doubling from 5 s turned the zenodo-2019 profile's 10 s outage into
15 s without work, for one request saved. Time comes in as an argument, so tests need no sleeping.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass
class Breaker:
    window: int = 50  # outcomes remembered
    threshold: float = 0.5  # failure share that opens the breaker, once the window has min_samples
    min_samples: int = 20
    consecutive: int = 10  # this many failures in a row open it at once
    cooldown: float = 2.0
    growth: float = 1.25  # each failed probe makes the next cooldown this much longer
    max_cooldown: float = 300.0
    state: str = CLOSED
    opened_at: float = 0.0
    current_cooldown: float = 0.0
    trips: int = 0
    _outcomes: deque[bool] = field(default_factory=deque)
    _streak: int = 0
    _probe_out: bool = False

    def allow(self, now: float) -> bool:
        """May a new request start now? In half-open state, exactly one probe may."""
        if self.state == CLOSED:
            return True
        if self.state == OPEN and now - self.opened_at >= self.current_cooldown:
            self.state = HALF_OPEN
            self._probe_out = False
        if self.state == HALF_OPEN and not self._probe_out:
            self._probe_out = True
            return True
        return False

    def resume_at(self) -> float:
        """When an open breaker will let a probe through (monotonic seconds)."""
        return self.opened_at + self.current_cooldown

    def record(self, ok: bool, now: float) -> None:
        """Report one request's outcome (ok = got a definite answer that was not a server failure)."""
        if self.state == HALF_OPEN:
            if ok:
                self._close()
            else:
                self._open(now, min(self.max_cooldown, max(self.cooldown, self.current_cooldown * self.growth)))
            return
        self._outcomes.append(ok)
        if len(self._outcomes) > self.window:
            self._outcomes.popleft()
        self._streak = 0 if ok else self._streak + 1
        failures = self._outcomes.count(False)
        if self.state == CLOSED and (self._streak >= self.consecutive or (
                len(self._outcomes) >= self.min_samples and failures / len(self._outcomes) >= self.threshold)):
            self._open(now, self.cooldown)

    def _open(self, now: float, cooldown: float) -> None:
        self.state = OPEN
        self.opened_at = now
        self.current_cooldown = cooldown
        self.trips += 1
        self._probe_out = False

    def _close(self) -> None:
        self.state = CLOSED
        self.current_cooldown = 0.0
        self._outcomes.clear()
        self._streak = 0
