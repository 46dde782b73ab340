"""The bulk jobs' worker inside ``depot serve``: one job at a time, in a thread, resumed after a restart.

It only calls ``run_bulk_job(ctx, job_id)``. With a real job queue (``queue_url``: several web workers,
``depot worker`` processes) the server runs no bulk thread: a job is enqueued as ``bulk`` instead, and
the queue workers run it and resume what a killed worker left (``resume_open_jobs`` at their start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import TYPE_CHECKING

import anyio.to_thread

from depot.repository.bulk.job import bulk_service, run_bulk_job

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
        if self._running is not None:  # the job ends at its next group boundary
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._running), timeout=120)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        assert self._queue is not None
        while not self.stopping.is_set():
            job_id = await self._queue.get()
            # Not cancellable: a stop sets ``stopping``, which the job checks between groups.
            self._running = asyncio.ensure_future(anyio.to_thread.run_sync(run_bulk_job, self.ctx, job_id,
                                                                           self.stopping))
            try:
                await asyncio.shield(self._running)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bulk job %s stopped on an unexpected error; it resumes at the next start", job_id)
            finally:
                self._running = None


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
