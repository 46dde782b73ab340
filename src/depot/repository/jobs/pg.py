"""The procrastinate queue on PostgreSQL (decision 0009): jobs are rows; ``depot worker`` processes run them.

Enqueueing writes the job row with SQL on the repository's own engine. When the queue is the repository's
database and the caller passes its transaction, the row is part of it (a publish and its bag job commit
together); otherwise the row is written in a transaction of its own. procrastinate's triggers then NOTIFY the
workers, which fetch with ``FOR UPDATE SKIP LOCKED``, so any number of them on any machines share the work.

procrastinate's schema is applied once per database, under an advisory lock (several processes start at once).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa

from depot.repository.jobs import REGISTRY, spec

log = logging.getLogger("depot.repository.jobs")
QUEUE = "depot"
TASK_PREFIX = "depot."
SCHEMA_LOCK = 0x6465706F74  # "depot": the advisory lock around the schema check
_INSERT = sa.text(
    "INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at) "
    "VALUES (:queue, :task, 0, :lock, :qlock, CAST(:args AS jsonb), :at) ON CONFLICT DO NOTHING")


def conninfo(url: str) -> str:
    """A libpq URL from an SQLAlchemy one (postgresql+psycopg://... → postgresql://...)."""
    u = sa.engine.make_url(url)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def engine_url(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def ensure_schema(engine: sa.Engine) -> None:
    """Create procrastinate's tables and functions unless there (idempotent; safe with many processes)."""
    from procrastinate.schema import SchemaManager

    with engine.connect() as conn, conn.begin():
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCHEMA_LOCK})
        if conn.execute(sa.text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
            conn.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


class ProcrastinateQueue:
    in_process = False

    def __init__(self, queue_url: str, shared_engine: sa.Engine | None) -> None:
        self.url = queue_url
        # The repository's engine when the queue lives in its database (then enqueue joins its transactions).
        self.shared = shared_engine is not None
        self.engine = shared_engine if shared_engine is not None else sa.create_engine(
            engine_url(queue_url), pool_pre_ping=True, pool_size=2)
        ensure_schema(self.engine)

    def bind(self, ctx: Any) -> None:  # jobs run in `depot worker`, which has its own Context
        pass

    def enqueue(self, name: str, *, conn: sa.Connection | None = None, lock: str | None = None,
                queueing_lock: str | None = None, delay_s: float = 0, **args: Any) -> None:
        spec(name)
        params = {"queue": QUEUE, "task": TASK_PREFIX + name, "lock": lock, "qlock": queueing_lock,
                  "args": orjson.dumps(args).decode(),
                  "at": datetime.now(UTC) + timedelta(seconds=delay_s) if delay_s > 0 else None}
        if conn is not None and self.shared:
            conn.execute(_INSERT, params)
            return
        with self.engine.connect() as own, own.begin():
            own.execute(_INSERT, params)

    def _rows(self, where: str, **params: Any) -> list[sa.Row[Any]]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(
                f"SELECT status, task_name, args FROM procrastinate_jobs WHERE queue_name = :queue AND {where}"),
                {"queue": QUEUE, **params}))

    def drain(self, timeout: float = 60) -> bool:
        import time

        deadline = time.monotonic() + timeout
        while True:
            c = self.counts()
            if c["queued"] == 0 and c["doing"] == 0:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    def failures(self, name: str) -> list[dict[str, Any]]:
        return [{"args": r.args, "error": "failed all its attempts (see the worker's log)"}
                for r in self._rows("status = 'failed' AND task_name = :t", t=TASK_PREFIX + name)]

    def retry_failed(self, name: str) -> int:
        with self.engine.connect() as conn, conn.begin():
            return conn.execute(sa.text(
                "UPDATE procrastinate_jobs SET status = 'todo', attempts = 0, scheduled_at = NULL "
                "WHERE queue_name = :queue AND task_name = :t AND status = 'failed'"),
                {"queue": QUEUE, "t": TASK_PREFIX + name}).rowcount or 0

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            # A job scheduled for later (the fixity cycle's next tick) is not waiting yet.
            rows: dict[str, int] = {str(r[0]): int(r[1]) for r in conn.execute(sa.text(
                "SELECT status, count(*) FROM procrastinate_jobs WHERE queue_name = :queue AND "
                "(status <> 'todo' OR scheduled_at IS NULL OR scheduled_at <= now()) GROUP BY status"),
                {"queue": QUEUE})}
        return {"queued": int(rows.get("todo", 0)), "doing": int(rows.get("doing", 0)),
                "failed": int(rows.get("failed", 0))}

    def stop(self, timeout: float = 30) -> None:
        if not self.shared:
            self.engine.dispose()


def run_worker(ctx: Any, queue_url: str, *, concurrency: int = 1, wait: bool = True,
               on_start: Any = None) -> None:
    """Run procrastinate workers on ``queue_url`` that call the registered jobs with ``ctx`` (blocks until a
    signal, or with ``wait=False`` until the queue is empty)."""
    import procrastinate
    from procrastinate.retry import RetryStrategy

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(queue_url)))
    for job in list(REGISTRY.values()):
        def call(*, _fn: Any = job.fn, **kwargs: Any) -> Any:
            return _fn(ctx, **kwargs)

        app.task(name=TASK_PREFIX + job.name, queue=QUEUE, pass_context=False,
                 retry=RetryStrategy(max_attempts=job.attempts - 1, exponential_wait=2) if job.attempts > 1
                 else False)(call)

    async def main() -> None:
        async with app.open_async():
            stalled = await app.job_manager.get_stalled_jobs()
            for job in stalled:  # a worker killed mid-job: its job runs again (jobs are idempotent)
                log.warning("job %s (%s) was left running by a stopped worker: retried", job.id, job.task_name)
                await app.job_manager.retry_job(job)
            if on_start is not None:
                on_start()
            await app.run_worker_async(queues=[QUEUE], concurrency=concurrency, wait=wait,
                                       install_signal_handlers=wait)

    asyncio.run(main())
