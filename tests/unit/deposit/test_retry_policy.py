"""policy.classify / ambiguous / backoff with plain values."""

from __future__ import annotations

import random

import pytest

from depot.deposit.errors import HTTPStatusError, TransportError
from depot.deposit.ledger.values import replan_condition
from depot.deposit.policy import (
    IN_PLACE_MAX,
    NOT_REFUSED_4XX,
    Decision,
    ambiguous,
    backoff,
    classify,
    in_place_delay,
    overload,
    refused,
    retry_after_seconds,
)


@pytest.mark.parametrize("status, action", [
    (200, Decision.OK), (201, Decision.OK), (202, Decision.OK), (400, Decision.NO_RETRY), (413, Decision.NO_RETRY),
    (415, Decision.NO_RETRY), (401, Decision.FATAL), (403, Decision.FATAL), (404, Decision.RECONCILE),
    (409, Decision.RECONCILE), (410, Decision.RECONCILE), (408, Decision.RETRY), (429, Decision.BACKOFF),
    (418, Decision.NO_RETRY),
    (599, Decision.RETRY),
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
    ("upload", 504, False), ("get", TransportError("x"), False), ("publish", 404, False), ("create", 409, False),
    ("newversion", 502, True), ("create", HTTPStatusError(502, "Bad Gateway"), True),
])
def test_ambiguous(step: str, outcome: int | BaseException, expected: bool) -> None:
    assert ambiguous(step, outcome) is expected


def test_backoff_grows_with_jitter_and_honours_the_server() -> None:
    rng = random.Random(1)
    delays = [backoff(a, base=1, cap=60, rng=rng) for a in range(8)]
    assert all(0.5 * min(60, 2 ** a) <= d <= min(60, 2 ** a) for a, d in enumerate(delays))
    assert backoff(0, base=1, cap=60, retry_after=30, rng=rng) == 30
    assert backoff(10, base=1, cap=60, rng=rng) <= 60


def test_refused_and_the_ledgers_sql_come_from_the_same_table() -> None:
    assert [s for s in range(400, 500) if not refused(s)] == list(NOT_REFUSED_4XX) == [404, 408, 409, 410, 429]
    assert refused(400) and refused(413) and not refused(None) and not refused(500)
    sql = str(replan_condition().compile(compile_kwargs={"literal_binds": True}))
    assert all(str(s) in sql for s in NOT_REFUSED_4XX)


def test_overload_is_told_from_a_lost_answer() -> None:
    assert overload(429) and overload(503)
    assert not overload(502) and not overload(504) and not overload(TransportError("reset", sent=True))
    assert not overload(None)


def test_in_place_waits_are_short_and_a_long_wait_releases_the_record() -> None:
    rng = random.Random(3)
    waits = [in_place_delay(a, None, rng) for a in (1, 2, 3)]
    assert all(w is not None and w <= IN_PLACE_MAX for w in waits)
    assert waits[0] is not None and waits[0] <= 0.2
    assert in_place_delay(1, 30.0, rng) is None  # the server asked for 30 s: do not sit on the slot
    assert in_place_delay(6, None, rng) is None


def test_a_413_to_a_file_upload_waits_and_tries_again() -> None:
    """The pilot's one 413 came from a proxy: failing the record at once left its draft behind (a 1,000-record
    faulty bench run ended 999 published + 1 draft). Only an upload's 413 waits; a metadata 413 is refused."""
    upload = HTTPStatusError(413, "Request Entity Too Large")
    upload.step = "upload"
    metadata = HTTPStatusError(413, "Request Entity Too Large")
    metadata.step = "update"
    assert classify(upload).action is Decision.BACKOFF and not ambiguous("upload", upload)
    assert classify(metadata).action is Decision.NO_RETRY and refused(413)
