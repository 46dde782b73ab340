"""When a miss in the account's listing proves that a lost create made nothing (pure).

A create whose answer was lost is settled by listing the account's depositions by the specimen key. A
miss means "not created" only once the listing is sure to show a deposition made by that request. The
configured timings (``probe_delay``, then ``probe_recheck`` more: 7 s) assume Zenodo, whose search index
trails writes by an unknown time. A repository may instead *declare* its lag: Depot's listing answers
carry ``X-Depot-Search-Lag: SECONDS`` (0 unless it simulates Zenodo's index). Zenodo sends no such
header, so against Zenodo nothing here changes the configured timings.

Safety argument (exactly-once). Let the lost create's request end at ``e`` (its error answer, or the
connection closed, was seen by us), and a listing be asked at ``q`` (just before the request left, so
its snapshot is taken at or after ``q``). If the create took effect, it committed by ``e + LINGER``
(a server acts on a request before it answers it, or within LINGER of the connection's end). The
server promises that what committed ``d`` seconds before a listing's snapshot is in it. Hence if
``q >= e + LINGER + d``, a committed create is listed, and a miss proves none was made: the specimen
is created again. Two cases stay on the configured timings, where that bound is not known: a request
we gave up on ourselves (a client timeout: the server may still be working on it), and creates a crash
left uncertain (their end is not known). A listing earlier than the bound is never conclusive: the
record looks again once the bound has passed (never later than the configured recheck). The declared
lag kept is the largest one seen in the run. LINGER is the same allowance the configured timings make
implicitly (they allow lag + linger <= 7 s); a server that acts on a request long after answering it
(a gateway's 504 over a backend still at work) is outside both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

HEADER = "X-Depot-Search-Lag"
LINGER = 1.0  # seconds a server may still act on a request after its answer or connection ended


def declared_lag(headers: Mapping[str, str]) -> float | None:
    """The search lag a listing answer declares (seconds), or None (no header, or not a number >= 0)."""
    wanted = HEADER.lower()
    for name, value in headers.items():
        if name.lower() == wanted:
            try:
                lag = float(value)
            except ValueError:
                return None
            return lag if lag >= 0 and lag == lag and lag != float("inf") else None
    return None


@dataclass
class SearchLag:
    """What the run knows about the target's listing: its declared lag, and when each lost create ended."""

    declared: float | None = None
    ended: dict[str, float] = field(default_factory=dict)  # key -> monotonic time its create ended

    def observe(self, lag: float | None) -> None:
        if lag is not None:
            self.declared = lag if self.declared is None else max(self.declared, lag)

    def lost(self, key: str, now: float, *, timed_out: bool) -> None:
        """A create's answer was lost at ``now``; a client timeout keeps the configured timings."""
        if timed_out:
            self.ended.pop(key, None)
        else:
            self.ended[key] = now

    def forget(self, key: str) -> None:
        self.ended.pop(key, None)

    def _bound(self, key: str) -> float | None:
        """When a listing asked from then on shows the create if it happened (None: not known)."""
        if self.declared is None or key not in self.ended:
            return None
        return self.ended[key] + LINGER + self.declared

    def first_look_in(self, key: str, now: float, configured: float) -> float:
        """Seconds to wait before the first look for a lost create: until the bound, at most ``configured``."""
        bound = self._bound(key)
        return configured if bound is None else min(configured, max(0.0, bound - now))

    def conclusive(self, key: str, asked: float) -> bool:
        """Does a miss in a listing asked at ``asked`` prove that the create made nothing?"""
        bound = self._bound(key)
        return bound is not None and asked >= bound

    def recheck_in(self, key: str, now: float, configured: float) -> float:
        """Seconds until the second look after an inconclusive miss: the bound, at most ``configured``."""
        bound = self._bound(key)
        return configured if bound is None else min(configured, max(0.0, bound - now) + 0.05)
