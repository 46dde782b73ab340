"""Background jobs: named job functions in one registry, run by a queue (decision 0009).

A job is a plain function ``fn(ctx, **args)``: ``ctx`` is the repository's Context, ``args`` are JSON values.
Register it once, at import time of ``catalog`` (one line; the app imports the catalog, so that this
registry stays below everything the jobs use)::

    register("bulk", run_bulk_job)            # run_bulk_job(ctx, job_id)

and enqueue it from a service, inside the transaction that made the work when there is one::

    ctx.jobs.enqueue("bulk", conn=conn, job_id=job_id)

Two queues run the same registry:

- ``InProcessQueue`` (the default: no ``queue_url``): one thread in the server process, for SQLite and
  embedded use, so ``make demo`` needs no service. A job enqueued with ``conn`` runs after that
  transaction commits (never if it rolls back).
- ``ProcrastinateQueue`` (``queue_url`` set to a PostgreSQL URL): jobs are rows in procrastinate's tables,
  run by ``depot worker`` processes on any machine. When the queue is the repository's own database, the job
  row is written in the caller's transaction: a publish and its bag job commit together or not at all.

Jobs must be idempotent (a retried or duplicated job finds its work done and returns) and are retried
``attempts`` times with growing waits; ``lock`` keeps two jobs with the same lock from running at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

JobFn = Callable[..., Any]
Groupable = Callable[[dict[str, Any], list[dict[str, Any]]], bool]


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: JobFn
    attempts: int = 5
    # Jobs of this name waiting together may run as one job ``group`` taking ``items`` (their arguments),
    # each admitted by ``groupable(args, members so far)``; the in-process queue does (a bag job per publish:
    # one call to the bag process and one syncfs for those waiting).
    group: str | None = None
    groupable: Groupable | None = None


REGISTRY: dict[str, JobSpec] = {}


def register(name: str, fn: JobFn, *, attempts: int = 5, group: str | None = None,
             groupable: Groupable | None = None) -> JobFn:
    """Make ``fn(ctx, **args)`` runnable as job ``name``; returns ``fn`` (usable as a plain call or decorator)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"job name {name!r}: letters, digits and _ only")
    existing = REGISTRY.get(name)
    if existing is not None and existing.fn is not fn:
        raise ValueError(f"job {name!r} is already registered to {existing.fn!r}")
    if (group is None) != (groupable is None):
        raise ValueError(f"job {name!r}: a group needs both its job name and its groupable test")
    REGISTRY[name] = JobSpec(name, fn, max(1, attempts), group, groupable)
    return fn


def spec(name: str) -> JobSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no job named {name!r} is registered (depot.repository.jobs.catalog)") from None


class JobQueue(Protocol):
    in_process: bool

    def enqueue(self, name: str, *, conn: sa.Connection | None = None, lock: str | None = None,
                queueing_lock: str | None = None, delay_s: float = 0, **args: Any) -> None:
        """Queue job ``name`` with ``args``; with ``conn``, as part of that transaction (see the module doc).
        ``queueing_lock``: at most one job with it waits in the queue (a second enqueue is dropped)."""

    def bind(self, ctx: Any) -> None:
        """The Context the jobs receive (the in-process queue runs them; a remote queue ignores it)."""

    def drain(self, timeout: float = 60) -> bool:
        """Wait until no job is waiting or running; False on timeout."""

    def failures(self, name: str) -> list[dict[str, Any]]:
        """Jobs ``name`` that failed all their attempts: {"args", "error"} each."""

    def retry_failed(self, name: str) -> int:
        """Queue the failed jobs ``name`` again; how many."""

    def counts(self) -> dict[str, int]:
        """Jobs waiting ("queued"), running ("doing") and failed."""

    def stop(self, timeout: float = 30) -> None: ...


def after_commit(conn: sa.Connection) -> list[Callable[[], None]] | None:
    """The list of callbacks ``Database.write`` runs after ``conn``'s transaction commits (None outside one)."""
    hooks = conn.get_execution_options().get("depot_after_commit")
    return hooks if isinstance(hooks, list) else None
