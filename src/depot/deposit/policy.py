"""What to do about an outcome (pure): one table, read by the runner, the ledger and the checks.

Modelled on rclone's pacer and curl's --retry. Every HTTP status (or a request with no answer) maps to
one :class:`Rule`:

=========================  =========  ==============  ========  ===========  =============
outcome                    action     may have        server    overload     wait from
                                      happened (*)    failure                headers
=========================  =========  ==============  ========  ===========  =============
2xx/3xx                    OK
400, 413, other 4xx        NO_RETRY   no                                     (the record fails alone)
413 to a file upload       BACKOFF    no                                     (a proxy's; tried ``retries`` times)
401, 403                   FATAL      no                                     (the run stops)
404                        RECONCILE  no              yes                    (the 2019 outage was 404s)
409, 410                   RECONCILE  no
408                        RETRY      yes             yes
429                        BACKOFF    no                        yes          Retry-After / X-RateLimit-Reset
500, 502, 504, other 5xx   RETRY      yes             yes
503                        RETRY      yes             yes       yes          Retry-After
no answer, sent            RETRY      yes             yes                    (a lost answer)
no answer, never sent      RETRY      no              yes                    (connection refused)
=========================  =========  ==============  ========  ===========  =============

(*) for a step that cannot be repeated blindly (create, publish, newversion): the server may have
acted although the answer says otherwise, so the ledger keeps the record *uncertain* and a probe
settles it before anything is sent again.

Actions: RETRY a repeatable step in place (short waits only: a longer wait releases the record with a
``retry_at``, so no transfer slot is held while waiting); BACKOFF the record (the server asked us to
wait); NO_RETRY fails the record; FATAL stops the run; RECONCILE means our picture of the deposit is
wrong (it is gone, or not in the state we thought): probe it, never retry blindly. Three retry levels
are counted apart: per request (``low_level_retries``), per record (``attempts`` in the ledger) and per
run (``retries``).
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from depot.deposit.errors import HTTPStatusError, TransportError


class Decision(Enum):
    OK = "ok"
    RETRY = "retry"  # transient: again in place (repeatable steps, short waits), else back off the record
    BACKOFF = "backoff"  # the server asked us to wait: the record waits, not its transfer slot
    NO_RETRY = "no-retry"  # the record's own fault: it fails alone
    FATAL = "fatal"  # the run cannot go on (credentials)
    RECONCILE = "reconcile"  # our picture of the deposit is wrong: probe it


@dataclass(frozen=True)
class Rule:
    action: Decision
    may_have_happened: bool = False  # a non-repeatable step may have taken effect
    server_failure: bool = False  # counts against the server's health (circuit breaker)
    overload: bool = False  # the server says it is overloaded: send less at once
    wait_header: bool = False  # Retry-After / X-RateLimit-Reset say how long to wait


_OK = Rule(Decision.OK)
_REFUSED = Rule(Decision.NO_RETRY)
_TRANSIENT = Rule(Decision.RETRY, may_have_happened=True, server_failure=True)
STATUS_RULES: dict[int, Rule] = {
    400: _REFUSED,
    401: Rule(Decision.FATAL),
    403: Rule(Decision.FATAL),
    404: Rule(Decision.RECONCILE, server_failure=True),
    408: _TRANSIENT,
    409: Rule(Decision.RECONCILE),
    410: Rule(Decision.RECONCILE),
    429: Rule(Decision.BACKOFF, overload=True, wait_header=True),
    500: _TRANSIENT,
    502: _TRANSIENT,
    503: Rule(Decision.RETRY, may_have_happened=True, server_failure=True, overload=True, wait_header=True),
    504: _TRANSIENT,
}
LOST_ANSWER = Rule(Decision.RETRY, may_have_happened=True, server_failure=True)
NEVER_SENT = Rule(Decision.RETRY, server_failure=True)
# Steps whose repetition could make a second record or version; the others are safe to send again.
NON_REPEATABLE = frozenset({"create", "publish", "newversion"})


# The pilot met one 413 to a file upload in 844k requests (seed, Table 5): a proxy's, not the file's,
# since its file went in later. The record waits and tries again (never in place: a large file is not
# sent again at once), and fails after its tries, so a file truly over the limit costs ``retries`` PUTs.
# Failing it at once left the draft already made behind it.
UPLOAD_TOO_LARGE = Rule(Decision.BACKOFF)


def rule_for(outcome: int | BaseException) -> Rule:
    """The table's row for an HTTP status or an exception (an unexpected exception is FATAL: a bug)."""
    if isinstance(outcome, HTTPStatusError):
        if outcome.status == 413 and outcome.step == "upload":
            return UPLOAD_TOO_LARGE
        outcome = outcome.status
    if isinstance(outcome, BaseException):
        if isinstance(outcome, TransportError):
            return LOST_ANSWER if outcome.sent else NEVER_SENT
        return LOST_ANSWER if isinstance(outcome, TimeoutError | OSError) else Rule(Decision.FATAL)
    if outcome < 400:
        return _OK
    if outcome in STATUS_RULES:
        return STATUS_RULES[outcome]
    return _TRANSIENT if outcome >= 500 else _REFUSED


@dataclass(frozen=True)
class Verdict:
    action: Decision
    retry_after: float | None = None  # seconds, when the server said
    rule: Rule = _OK


def classify(outcome: int | BaseException, headers: Mapping[str, str] | None = None, *,
             now: float = 0.0) -> Verdict:
    """Classify an HTTP status or an exception, with the server's requested wait if it gave one."""
    rule = rule_for(outcome)
    if headers is None and isinstance(outcome, HTTPStatusError):
        headers = outcome.headers
    return Verdict(rule.action, retry_after_seconds(headers, now) if rule.wait_header else None, rule)


def ambiguous(step: str, outcome: int | BaseException) -> bool:
    """Might a non-repeatable step (create, publish, newversion) have taken effect despite this outcome?"""
    return step in NON_REPEATABLE and rule_for(outcome).may_have_happened


def refused(status: int | None) -> bool:
    """Did the repository refuse the record itself (not a transient, outage or out-of-sync answer)?"""
    return status is not None and 400 <= status < 500 and rule_for(status).action in (Decision.NO_RETRY,
                                                                                       Decision.FATAL)


# The 4xx statuses that are *not* the record's fault (read by the ledger's SQL for "retry failed").
NOT_REFUSED_4XX = tuple(sorted(s for s in STATUS_RULES if 400 <= s < 500 and not refused(s)))


def overload(outcome: int | BaseException | None) -> bool:
    """Does this outcome say the server is overloaded (as opposed to an isolated lost answer)?"""
    return outcome is not None and rule_for(outcome).overload


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
        try:
            parsed = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            return max(0.0, parsed.timestamp() - now)
    reset = lower.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit():
        return max(0.0, float(reset) - now)
    return None


def backoff(attempt: int, *, base: float = 1.0, cap: float = 300.0, retry_after: float | None = None,
            rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter; never less than what the server asked for."""
    rng = rng or random.Random()
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, max(cap, retry_after or 0.0))


# A low-level retry waits in place (holding its transfer slot) only this long; a longer wait
# releases the record with a retry_at, so the slot takes other work meanwhile.
IN_PLACE_MAX = 1.0


def in_place_delay(attempt: int, retry_after: float | None, rng: random.Random | None = None) -> float | None:
    """The wait before low-level retry number ``attempt`` (1, 2...) of a repeatable step, or None when it
    is too long to wait holding a slot: 0.1-0.2 s, then 0.2-0.4 s, 0.4-0.8 s. A lone lost answer is
    retried at once; a server that keeps failing soon sends the record to back off instead."""
    delay = backoff(attempt - 1, base=0.2, cap=IN_PLACE_MAX * 2, retry_after=retry_after, rng=rng)
    return delay if delay <= IN_PLACE_MAX else None
