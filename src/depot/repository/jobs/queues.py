"""Which queue a ``queue_url`` setting names (the registry in ``depot.repository.jobs`` stays below it)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from depot.repository.jobs import JobQueue


def open_queue(queue_url: str | None, database_url: str, engine: sa.Engine) -> JobQueue:
    """The queue a ``queue_url`` setting names: none → in-process; ``postgresql://...`` → procrastinate."""
    if not queue_url:
        from depot.repository.jobs.inprocess import InProcessQueue

        return InProcessQueue()
    if queue_url.split(":", 1)[0].split("+", 1)[0] not in {"postgresql", "postgres"}:
        raise ValueError(f"queue_url {queue_url!r}: expected a PostgreSQL URL (postgresql://user@host/db), "
                         "the procrastinate queue (docs/decisions/0009-job-queue.md)")
    from depot.repository.jobs.pg import ProcrastinateQueue

    return ProcrastinateQueue(queue_url, engine if same_database(queue_url, database_url) else None)


def same_database(a: str, b: str) -> bool:
    def norm(url: str) -> tuple[Any, ...]:
        u = sa.engine.make_url(url)
        return (u.get_backend_name(), u.host or "localhost", u.port or 5432, u.database, u.username)

    try:
        return norm(a) == norm(b)
    except sa.exc.ArgumentError:
        return False
