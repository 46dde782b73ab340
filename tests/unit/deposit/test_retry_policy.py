"""policy.classify / ambiguous / backoff with plain values."""

from __future__ import annotations

import random

import pytest

from depot.deposit.errors import TransportError
from depot.deposit.policy import Decision, ambiguous, backoff, classify, retry_after_seconds


@pytest.mark.parametrize("status, action", [
    (200, Decision.OK), (201, Decision.OK), (202, Decision.OK), (400, Decision.NO_RETRY), (413, Decision.NO_RETRY),
    (415, Decision.NO_RETRY), (401, Decision.FATAL), (403, Decision.FATAL), (404, Decision.RECONCILE),
    (409, Decision.RECONCILE), (410, Decision.RECONCILE), (408, Decision.RETRY), (429, Decision.RETRY),
    (500, Decision.RETRY), (502, Decision.RETRY), (503, Decision.RETRY), (504, Decision.RETRY),
])
def test_classify_statuses(status: int, action: Decision) -> None:
    assert classify(status).action is action


def test_classify_exceptions() -> None:
    assert classify(TransportError("reset", sent=True)).action is Decision.RETRY
    assert classify(ValueError("bug")).action is Decision.FATAL


def test_retry_after_from_headers() -> None:
    assert classify(429, {"Retry-After": "17"}, now=0).retry_after == 17
    assert classify(429, {"X-RateLimit-Reset": "1060"}, now=1000).retry_after == 60
    assert retry_after_seconds({"retry-after": "Thu, 01 Jan 1970 00:01:40 GMT"}, now=40) == 60
    assert retry_after_seconds({}, now=0) is None
    assert classify(502, {"Retry-After": "5"}).retry_after is None  # only 429/503 carry a meaningful wait


@pytest.mark.parametrize("step, outcome, expected", [
    ("create", 504, True), ("create", 502, True), ("publish", 500, True), ("publish", 400, False),
    ("create", TransportError("timeout", sent=True), True), ("create", TransportError("refused", sent=False), False),
    ("upload", 504, False), ("get", TransportError("x"), False),
])
def test_ambiguous(step: str, outcome: int | BaseException, expected: bool) -> None:
    assert ambiguous(step, outcome) is expected


def test_backoff_grows_with_jitter_and_honours_the_server() -> None:
    rng = random.Random(1)
    delays = [backoff(a, base=1, cap=60, rng=rng) for a in range(8)]
    assert all(0.5 * min(60, 2 ** a) <= d <= min(60, 2 ** a) for a, d in enumerate(delays))
    assert backoff(0, base=1, cap=60, retry_after=30, rng=rng) == 30
    assert backoff(10, base=1, cap=60, rng=rng) <= 60
