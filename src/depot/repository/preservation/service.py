"""Preservation: the publish hook (a bag job per published state) and the fixity cycle.

Wired explicitly: ``build_context`` appends a ``Preservation`` to ``ActionService.on_publish`` (called inside
the publish transaction), and the app's lifespan starts and stops it (``of(ctx)`` finds it there). With the
in-process queue the server runs the jobs and the fixity cycle itself; with a real queue (``queue_url``) the
``depot worker`` processes do both (``start_worker``), and web workers only enqueue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio.to_thread
import sqlalchemy as sa

from depot.repository.config import RepositoryConfig
from depot.repository.context import Context
from depot.repository.jobs import JobQueue
from depot.repository.preservation.accounts import AccountsSidecar, sidecar_path
from depot.repository.preservation.audit import Auditor
from depot.repository.preservation.bags import BagWriter
from depot.repository.preservation.healing import Healer
from depot.repository.serializers.zenodo import Links
from depot.repository.services.views import Deposit
from depot.repository.store.blobs import BlobStore
from depot.repository.store.db import Database

log = logging.getLogger("depot.repository.fixity")
FIRST_TICK_S = 60  # a server restarted more often than every tick still audits


class Preservation:
    def __init__(self, db: Database, config: RepositoryConfig, links: Links, blobs: BlobStore,
                 clock: Callable[[], datetime], jobs: JobQueue) -> None:
        self.config = config
        self.jobs = jobs
        self.bags = BagWriter(db, config, links, blobs, clock, jobs) if config.bags else None
        # Users and token hashes for a rebuild, never in a bag (accounts.py); kept wherever bags are.
        self.accounts = AccountsSidecar(db, sidecar_path(config.data_dir), fsync=config.fsync) if config.bags else None
        self.auditor = Auditor(db, blobs, clock)
        self.healer = Healer(db, blobs, config.data_dir / "bags", clock)
        self.stopping = threading.Event()
        self._task: asyncio.Task[None] | None = None

    def __call__(self, conn: sa.Connection, deposit: Deposit) -> None:
        """The publish hook, inside the publish transaction: queue the bag job in it."""
        if self.bags is not None:
            self.bags.enqueue(conn, deposit)

    def group(self, conn: sa.Connection, published: list[Deposit]) -> None:
        """The publish hook for many deposits published in one transaction (bulk ingest): one bag job."""
        if self.bags is not None:
            self.bags.enqueue_group(conn, published)

    async def start(self) -> None:
        self.stopping.clear()
        if self.accounts is not None:  # a repository older than the sidecar gets one at its first start
            try:
                await anyio.to_thread.run_sync(self.accounts.write)
            except OSError as exc:
                log.error("%s could not be written: %s", self.accounts, exc)
        if not self.jobs.in_process:
            return  # bags and the fixity cycle are the queue workers' (start_worker)
        if self.bags is not None:
            self.bags.submit_missing()
        if self.config.fixity_cycle:
            self._task = asyncio.create_task(self._cycle(), name="depot-fixity-cycle")

    def start_worker(self) -> None:
        """What a queue worker queues at its start: the scan for missing bags and the fixity cycle's next
        tick (each at most once in the queue, however many workers start)."""
        if self.bags is not None:
            self.bags.submit_missing()
        if self.config.fixity_cycle:
            self.jobs.enqueue("fixity_tick", lock="fixity", queueing_lock="fixity",
                              delay_s=min(FIRST_TICK_S, max(1, self.config.fixity_tick_seconds)), reschedule=True)

    async def stop(self) -> None:
        self.stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.bags is not None:
            self.bags.stop()
        await anyio.to_thread.run_sync(self.jobs.stop)
        if self.bags is not None:
            await anyio.to_thread.run_sync(self.bags.close)

    async def _cycle(self) -> None:
        tick = max(1, self.config.fixity_tick_seconds)
        await asyncio.sleep(min(FIRST_TICK_S, tick))
        while not self.stopping.is_set():
            try:
                await anyio.to_thread.run_sync(self.tick)
            except Exception:
                log.exception("fixity tick failed")
            await asyncio.sleep(tick)

    def tick(self) -> None:
        """One batch of the cycle: retry failed bags, audit the files checked longest ago, repair what failed."""
        if self.bags is not None:
            self.bags.retry_failed()
        report = self.auditor.tick(period_s=self.config.fixity_period_days * 86400,
                                   tick_s=max(1, self.config.fixity_tick_seconds),
                                   mb_per_s=self.config.fixity_mb_per_s, stop=self.stopping)
        if report is not None and report.problems:
            log.error("fixity: %d problem(s) in run %d: %s", len(report.problems), report.run_id,
                      "; ".join(f"{p.file_id} {p.status}" for p in report.problems))
            # Self-healing: each damaged file is restored from a verified bag copy, if one exists.
            self.healer.repair_all([p.file_id for p in report.problems], report.run_id)

    def status(self) -> dict[str, Any]:
        return {"runs": self.auditor.runs(), "problems": self.auditor.current_problems(),
                "files": self.auditor.summary(),
                "cycle": {"enabled": self.config.fixity_cycle, "period_days": self.config.fixity_period_days,
                          "tick_seconds": self.config.fixity_tick_seconds, "mb_per_s": self.config.fixity_mb_per_s},
                "bags": self.bags.status() if self.bags is not None else None}


def of(ctx: Context) -> Preservation | None:
    """The Preservation wired into a Context's publish hooks, if any."""
    hooks = getattr(ctx.actions, "on_publish", [])
    return next((h for h in hooks if isinstance(h, Preservation)), None)
