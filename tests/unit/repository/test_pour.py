"""``Pour``: a request body reaches its sink whole and in order; a large one is written and hashed on worker
threads (the event loop stays free for other requests), a small one on the loop, or kept whole for the
caller with ``keep_tail``; a refused body stops the pour, and what arrived before it was still sunk."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator

import pytest

from depot.repository.store.pour import BATCH, Pour


async def stream(data: bytes, piece: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), piece):
        yield data[i:i + piece]


def run(data: bytes, check=None, keep_tail: bool = False) -> tuple[Pour, bytearray, set[int], int]:  # type: ignore[no-untyped-def]
    got = bytearray()
    threads: set[int] = set()

    def sink(batch: bytearray) -> None:
        threads.add(threading.get_ident())
        got.extend(batch)

    async def main() -> tuple[Pour, int]:
        pour = Pour(sink, check, keep_tail=keep_tail)
        try:
            await pour(stream(data))
        finally:
            return pour, threading.get_ident()  # noqa: B012

    pour, loop_thread = asyncio.run(main())
    return pour, got, threads, loop_thread


def test_a_large_body_is_sunk_whole_and_in_order_off_the_loop() -> None:
    data = os.urandom(3 * BATCH + 12345)
    pour, got, threads, loop_thread = run(data)
    assert bytes(got) == data and pour.total == len(data)
    assert loop_thread not in threads


def test_a_small_body_is_sunk_on_the_loop_in_one_piece() -> None:
    data = os.urandom(100_000)
    _, got, threads, loop_thread = run(data)
    assert bytes(got) == data and threads == {loop_thread}


def test_a_refused_body_stops_and_what_arrived_was_sunk() -> None:
    data = os.urandom(2 * BATCH)
    limit = BATCH + 1000

    def check(total: int) -> None:
        if total > limit:
            raise ValueError(f"past {limit}")

    with pytest.raises(ValueError, match="past"):
        asyncio.run(Pour(lambda b: None, check)(stream(data)))
    pour, got, _, _ = run(data, check)
    assert limit - 65536 < pour.total <= limit
    assert bytes(got) == data[:pour.total]


def test_a_kept_tail_is_left_for_the_caller_and_the_rest_sunk_off_the_loop() -> None:
    small = os.urandom(100_000)
    pour, got, threads, _ = run(small, keep_tail=True)
    assert got == bytearray() and threads == set()  # nothing on the loop: the caller sinks it on its thread
    assert bytes(pour.tail) == small and pour.total == len(small)
    large = os.urandom(2 * BATCH + 777)
    pour, got, threads, loop_thread = run(large, keep_tail=True)
    assert bytes(got) + bytes(pour.tail) == large and pour.total == len(large)
    assert len(pour.tail) < BATCH and loop_thread not in threads
