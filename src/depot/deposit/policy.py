"""What to do about an outcome (pure): retry in place, fail the record, stop the run, or reconcile.

Modelled on rclone's pacer and curl's --retry: timeouts, resets, 408, 429 and 5xx are transient;
other 4xx are the record's own fault; 401/403 stop the run; 404/409/410 mean our picture of the
deposit is wrong, which a probe (not a blind retry) settles. Three retry levels are counted apart:
per request (``low_level_retries``), per record (``attempts`` in the ledger) and per run (``retries``).
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from depot.deposit.errors import TransportError


class Decision(Enum):
    OK = "ok"
    RETRY = "retry"
    NO_RETRY = "no-retry"
    FATAL = "fatal"
    RECONCILE = "reconcile"


@dataclass(frozen=True)
class Verdict:
    action: Decision
    retry_after: float | None = None  # seconds, when the server said


def retry_after_seconds(headers: Mapping[str, str] | None, now: float) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``X-RateLimit-Reset`` (epoch)."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    raw = lower.get("retry-after")
    if raw:
        raw = raw.strip()
        if raw.isdigit():
            return float(raw)
        parsed = email.utils.parsedate_to_datetime(raw) if raw else None
        if parsed is not None:
            return max(0.0, parsed.timestamp() - now)
    reset = lower.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset) - now)
    return None


def classify(outcome: int | BaseException, headers: Mapping[str, str] | None = None, *,
             now: float = 0.0) -> Verdict:
    """Classify an HTTP status or an exception."""
    if isinstance(outcome, BaseException):
        return Verdict(Decision.RETRY) if isinstance(outcome, TransportError | TimeoutError | OSError) else \
            Verdict(Decision.FATAL)
    status = outcome
    if status < 400:
        return Verdict(Decision.OK)
    if status == 429 or status == 408 or status >= 500:
        after = retry_after_seconds(headers, now) if status in (429, 503) else None
        return Verdict(Decision.RETRY, after)
    if status in (401, 403):
        return Verdict(Decision.FATAL)
    if status in (404, 409, 410):
        return Verdict(Decision.RECONCILE)
    return Verdict(Decision.NO_RETRY)


# Statuses after which a create or publish may have happened although the answer says otherwise:
# the proxy gave up (502/504) or the connection was lost, while the application may have committed.
AMBIGUOUS_STATUSES = frozenset({500, 502, 503, 504, 408})


def ambiguous(step: str, outcome: int | BaseException) -> bool:
    """Might a non-repeatable step (create/publish) have taken effect despite this outcome?"""
    if step not in {"create", "publish", "edit", "newversion", "update"}:
        return False
    if isinstance(outcome, TransportError):
        return outcome.sent
    if isinstance(outcome, BaseException):
        return True
    return outcome in AMBIGUOUS_STATUSES


def backoff(attempt: int, *, base: float = 1.0, cap: float = 300.0, retry_after: float | None = None,
            rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter; never less than what the server asked for."""
    rng = rng or random.Random()
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, max(cap, retry_after or 0.0))
