"""The bulk jobs' worker inside ``depot serve``: one job published at a time, in a thread, resumed after a restart.

It runs the two halves of ``run_bulk_job``: while a job publishes, the next one waiting is unpacked
(``unpack_job``), so that a batch's unpacking (about a quarter of its time) is not added to the next one's.
The unpacking itself (reading the archive, writing and hashing its files, checking the bag) runs in a worker
process: on a thread it took the GIL from the publishing, which bounds a bulk ingest once the batches are in.

With a real job queue (``queue_url``: several web workers, ``depot worker`` processes) the server runs no
bulk thread: a job is enqueued as ``bulk`` instead, and the queue workers run it and resume what a killed
worker left (``resume_open_jobs`` at their start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from depot.processes import OnDemandPool
from depot.repository.bulk.job import Unpacked, bulk_service, publish_job, unpack_job

if TYPE_CHECKING:
    from depot.repository.context import Context

log = logging.getLogger("depot.repository.bulk")


class BulkWorker:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.stopping = threading.Event()
        self._queue: asyncio.Queue[str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._running: asyncio.Future[None] | None = None
        self._ahead: asyncio.Future[Unpacked | None] | None = None  # the next job, unpacking
        self._unpacking = OnDemandPool(1)  # the unpacking process, started with the first job

    def submit(self, job_id: str) -> None:
        """Queue a job (on the server's event loop)."""
        if not self.ctx.jobs.in_process:
            enqueue(self.ctx, job_id)
            return
        if self._queue is not None:
            self._queue.put_nowait(job_id)

    async def start(self) -> None:
        """Clean what a crash left, then resume the open jobs, oldest first."""
        self.stopping.clear()
        if not self.ctx.jobs.in_process:
            return  # the queue workers run and resume bulk jobs; several web workers must not each clean up
        self._queue = asyncio.Queue()
        service = bulk_service(self.ctx)
        removed = await anyio.to_thread.run_sync(service.clean_leftovers)
        if removed:
            log.warning("removed %d unfinished bulk upload(s) left by an earlier crash", removed)
        for job_id in await anyio.to_thread.run_sync(service.open_jobs):
            self._queue.put_nowait(job_id)
        self._task = asyncio.create_task(self._loop(), name="depot-bulk-worker")

    async def stop(self) -> None:
        self.stopping.set()
        # The job publishing ends at its next group boundary; a job being unpacked ahead ends with its unpacking.
        for running in [f for f in (self._running, self._ahead) if f is not None]:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(running), timeout=120)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await anyio.to_thread.run_sync(self._unpacking.close)

    async def _loop(self) -> None:
        assert self._queue is not None
        ahead: tuple[str, asyncio.Future[Unpacked | None]] | None = None
        while not self.stopping.is_set():
            if ahead is None:
                job_id = await self._queue.get()
                ahead = (job_id, self._unpack(job_id))
            job_id, unpacking = ahead
            ahead, self._ahead = None, None
            # Not cancellable: a stop sets ``stopping``, which the job checks between groups.
            self._running = asyncio.ensure_future(self._publish(job_id, unpacking))
            waiting = asyncio.ensure_future(self._queue.get())
            try:
                done, _ = await asyncio.wait({self._running, waiting}, return_when=asyncio.FIRST_COMPLETED)
                if waiting in done and not self.stopping.is_set():  # unpacked while this one publishes
                    ahead = (waiting.result(), self._unpack(waiting.result()))
                await asyncio.shield(self._running)
            finally:
                if not waiting.done():
                    waiting.cancel()
                elif ahead is None and not waiting.cancelled() and not self.stopping.is_set():
                    ahead = (waiting.result(), self._unpack(waiting.result()))  # came in as the job ended
                self._running = None

    def _unpack(self, job_id: str) -> asyncio.Future[Unpacked | None]:
        self._ahead = asyncio.ensure_future(anyio.to_thread.run_sync(unpack_job, self.ctx, job_id,
                                                                     self._in_process))
        return self._ahead

    def _in_process(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in the unpacking process (on a worker thread, which waits for it). A process that died
        (killed, out of memory) is replaced at the next job; this one is unpacked here instead."""
        try:
            return self._unpacking.call(fn, *args)
        except BrokenProcessPool:
            log.warning("the bulk unpacking process died; unpacking on the server's thread instead")
            return fn(*args)

    async def _publish(self, job_id: str, unpacking: asyncio.Future[Unpacked | None]) -> None:
        try:
            unpacked = await unpacking
            if unpacked is not None:
                await anyio.to_thread.run_sync(publish_job, self.ctx, unpacked, self.stopping)
        except Exception:
            log.exception("bulk job %s stopped on an unexpected error; it resumes at the next start", job_id)


def enqueue(ctx: Context, job_id: str) -> None:
    """Queue bulk job ``job_id`` on the job queue: at most one waiting, never two running at once."""
    ctx.jobs.enqueue("bulk", lock=f"bulk-{job_id}", queueing_lock=f"bulk-{job_id}", job_id=job_id)


def resume_open_jobs(ctx: Context) -> int:
    """Queue every bulk job not finished (a queue worker's start: the server may have died between taking a
    batch and queueing it); the queueing lock drops those already waiting. How many were offered."""
    open_jobs = bulk_service(ctx).open_jobs()
    for job_id in open_jobs:
        enqueue(ctx, job_id)
    return len(open_jobs)
