"""Pure parts of the fixity audit: batch sizing, throttling, classification."""

from __future__ import annotations

import pytest

from depot.repository.preservation.audit import FileToCheck, Throttle, batch_size, classify, throttle_delay


@pytest.mark.parametrize(("total", "period", "tick", "expected"), [
    (0, 14 * 86400, 3600, 0),
    (1, 14 * 86400, 3600, 1),  # at least one file per tick
    (336_000, 14 * 86400, 3600, 1000),  # 336 ticks in 14 days
    (336_001, 14 * 86400, 3600, 1001),  # rounded up: the pass never overruns the period
    (5, 0, 3600, 5),  # a period shorter than a tick: everything every tick
])
def test_batch_size_spreads_a_pass_over_the_period(total: int, period: float, tick: float, expected: int) -> None:
    assert batch_size(total, period, tick) == expected


def test_throttle_delay() -> None:
    assert throttle_delay(100_000_000, 1.0, 50e6) == pytest.approx(1.0)  # 100 MB at 50 MB/s: 2 s, 1 s gone
    assert throttle_delay(10, 5.0, 50e6) == 0.0
    assert throttle_delay(10**12, 0.0, 0) == 0.0  # no cap


def test_throttle_sleeps_to_hold_the_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    throttle = Throttle(10, clock=lambda: now[0], sleep=sleep)  # 10 MB/s
    for _ in range(5):
        throttle.consumed(4_000_000)
    assert now[0] == pytest.approx(2.0)  # 20 MB took 2 s
    assert len(slept) == 5


def test_classify_names_every_difference() -> None:
    f = FileToCheck("id", "u", 3, "m", "s")
    assert classify(f, 3, "m", "s").status == "ok"
    bad = classify(f, 4, "m", "x")
    assert bad.status == "mismatch" and bad.detail == "size 4 != stored 3; sha256 x != stored s"
