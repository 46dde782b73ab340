"""The server's bulk worker unpacks a batch in a worker process (off the GIL the publishing needs), and a
process that dies is replaced without losing the job."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from test_bulk_job import accept, accepted_job, published_keys

from depot.repository.bulk.job import bulk_service, publish_job, unpack_job
from depot.repository.bulk.worker import BulkWorker


def test_a_job_unpacked_in_the_worker_process_publishes_every_record(tmp_path: Path) -> None:
    ctx, job_id = accepted_job(tmp_path, 6)
    worker = BulkWorker(ctx)
    ran: list[str] = []

    def run(fn, *args):  # type: ignore[no-untyped-def]
        ran.append(fn.__name__)
        return worker._in_process(fn, *args)

    try:
        assert worker._in_process(os.getpid) != os.getpid()
        unpacked = unpack_job(ctx, job_id, run)
        assert ran == ["unpack_counted"] and unpacked is not None
        assert {p for p in unpacked.bag.digests if p.startswith("data/files/")} == \
            {f"data/files/{i}-0" for i in range(6)}  # hashed in the worker process, handed back
        publish_job(ctx, unpacked)
        assert sorted(published_keys(ctx)) == sorted(f"urn:catalog:Q:{i}" for i in range(6))
        assert bulk_service(ctx).load(job_id).state == "done"  # type: ignore[union-attr]
    finally:
        asyncio.run(worker.stop())
        ctx.deposits.db.dispose()
    assert worker._unpacking.pool is None  # stopped with the worker


def test_an_unpacking_process_that_dies_is_replaced_and_the_job_still_unpacked(tmp_path: Path) -> None:
    ctx, first = accepted_job(tmp_path, 3)
    worker = BulkWorker(ctx)
    try:
        child = worker._in_process(os.getpid)
        pool = worker._unpacking.pool
        assert pool is not None and child != os.getpid()
        os.kill(child, signal.SIGKILL)  # killed, or out of memory, between two jobs
        unpacked = unpack_job(ctx, first, worker._in_process)  # unpacked here instead, as the log says
        assert unpacked is not None and "data/files/2-0" in unpacked.bag.digests
        publish_job(ctx, unpacked)
        assert worker._unpacking.pool is None
        second = accept(ctx, tmp_path, "q2", range(3, 5))
        again = unpack_job(ctx, second, worker._in_process)
        assert worker._unpacking.pool not in (None, pool)  # a new process for the next job
        assert again is not None
        publish_job(ctx, again)
        assert sorted(published_keys(ctx)) == sorted(f"urn:catalog:Q:{i}" for i in range(5))
    finally:
        asyncio.run(worker.stop())
        ctx.deposits.db.dispose()
