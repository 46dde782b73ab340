"""The circuit breaker and the adaptive concurrency limit, driven with plain values and a fake clock."""

from __future__ import annotations

from depot.deposit.breaker import CLOSED, HALF_OPEN, OPEN, Breaker
from depot.deposit.concurrency import AdaptiveLimit


def test_breaker_opens_on_an_outage_and_probes_back() -> None:
    b = Breaker(consecutive=5, cooldown=10, growth=2, max_cooldown=40)
    for t in range(5):
        assert b.allow(t)
        b.record(False, t)
    assert b.state == OPEN and not b.allow(6)
    assert b.allow(15) and b.state == HALF_OPEN  # one probe after the cooldown
    assert not b.allow(15.1)  # and only one
    b.record(False, 16)  # the probe failed: open again, twice as long
    assert b.state == OPEN and b.current_cooldown == 20 and not b.allow(30)
    assert b.allow(36)
    b.record(True, 37)
    assert b.state == CLOSED and b.allow(37) and b.trips == 2


def test_breaker_opens_on_error_share_not_on_scattered_errors() -> None:
    b = Breaker(window=20, min_samples=20, threshold=0.5, consecutive=100)
    for i in range(40):
        b.record(i % 4 != 0, i)  # 25 % failures: stays closed
    assert b.state == CLOSED
    for i in range(20):
        b.record(i % 2 == 0, 100 + i)  # 50 % failures
    assert b.state == OPEN


def test_cooldown_is_capped() -> None:
    b = Breaker(consecutive=1, cooldown=10, growth=2, max_cooldown=25)
    b.record(False, 0)
    for t in (10, 30, 60, 90):
        assert b.allow(t + 100)
        b.record(False, t + 100)
    assert b.current_cooldown == 25


def test_adaptive_limit_backs_off_on_overload_and_recovers() -> None:
    limit = AdaptiveLimit(maximum=16, minimum=2, period=10)
    for _ in range(10):
        limit.record(0.05)
    assert limit.limit == 16 and limit.baseline == 0.05
    for _ in range(10):
        limit.record(0.05, overload=True)  # 503s and 429s
    assert limit.limit == 8
    for _ in range(20):
        limit.record(0.5)  # 10x slower than the baseline, per request in flight, two windows in a row
    assert limit.limit == 4
    for _ in range(10):
        limit.record(None, failed=True)  # every request lost: a sick server
    assert limit.limit == 2
    for _ in range(30):
        limit.record(0.05)
    assert limit.limit == 5


def test_isolated_lost_answers_do_not_halve_the_limit() -> None:
    limit = AdaptiveLimit(maximum=8, period=20, limit=4)
    for i in range(200):  # the 2019 fault mix x20: about one request in seven fails, none says "overloaded"
        if i % 7 == 0:
            limit.record(None if i % 2 else 0.01, failed=True)
        else:
            limit.record(0.05)
    assert limit.limit == 8


def test_latency_that_grows_with_concurrency_alone_is_not_overload() -> None:
    limit = AdaptiveLimit(maximum=8, period=10)
    for _ in range(10):
        limit.record(0.01, in_flight=1)
    for _ in range(30):
        limit.record(0.08, in_flight=8)  # 8x the latency at 8x the requests in flight: a busy server
    assert limit.limit == 8
    for _ in range(20):
        limit.record(0.4, in_flight=8)  # 5x slower per request than at best, two windows: overloaded
    assert limit.limit == 4


def test_one_lucky_window_does_not_pin_the_limit_at_its_minimum() -> None:
    # A shared machine: one window of cheap requests, then the usual latency, which is 4x that lucky one.
    limit = AdaptiveLimit(maximum=8, minimum=1, period=10)
    for _ in range(10):
        limit.record(0.02)
    for _ in range(10):
        limit.record(0.005)
    for _ in range(200):
        limit.record(0.02)
    assert limit.limit == 8  # a minimum-of-medians baseline kept it at 1 for good


def test_a_lasting_slowdown_still_halves_the_limit() -> None:
    limit = AdaptiveLimit(maximum=8, minimum=1, period=10)
    for _ in range(30):
        limit.record(0.02)
    for _ in range(40):
        limit.record(0.2)  # 10x slower per request in flight: overloaded (the first window is given the benefit
    assert limit.limit == 1  # of the doubt, each one after it halves the limit)


def test_one_slow_window_is_noise_not_overload() -> None:
    # A shared machine: a garbage-collection pause or a neighbour's burst makes one window 3-5x slower.
    limit = AdaptiveLimit(maximum=16, period=20)
    for i in range(2000):
        slow = (i // 20) % 10 == 3  # one window in ten is 4x slower, never two in a row
        limit.record(0.004 * 16 if slow else 0.001 * 16, in_flight=16)
    assert limit.limit == 16


def test_a_halving_does_not_ratchet_down_on_a_server_that_was_not_saturated() -> None:
    # A fast local server on a shared machine: 12 ms a request, and every other window a neighbour's burst
    # makes it 36 ms. At 16 in flight that is 0.75 or 2.25 ms per request in flight (not 3x: not slow).
    # One overloaded window (429s) halves the limit to 8, where the same bursts are 4.5 ms per request in
    # flight: latency per request in flight is 1/throughput, higher at a lower load whatever the server does.
    limit = AdaptiveLimit(maximum=16, period=20)
    for _ in range(60):
        limit.record(0.012, in_flight=16)
    for _ in range(20):
        limit.record(0.012, overload=True, in_flight=16)
    assert limit.limit == 8
    lowest = limit.limit
    for i in range(400):
        limit.record(0.036 if (i // 20) % 2 else 0.012, in_flight=limit.limit)
        lowest = min(lowest, limit.limit)
    assert (lowest, limit.limit) == (8, 16)  # before: halved again at each burst, down to 1


def test_a_ten_second_outage_pauses_the_run_little_longer_than_itself() -> None:
    b = Breaker()  # the defaults the runner uses
    outage_end = 10.0
    t = 0.0
    while b.state == CLOSED:  # every request fails from t = 0
        b.record(False, t)
        t += 0.01
    while True:
        t += 0.05
        if b.allow(t):
            b.record(t >= outage_end, t)  # the half-open probe
            if b.state == CLOSED:
                break
    assert outage_end <= t <= outage_end + 3.0  # doubling from 5 s resumed at 15 s
