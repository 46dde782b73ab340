"""Job queues side by side (decision 0009): procrastinate on PostgreSQL, Celery on Redis, Celery on RabbitMQ.

Each queue gets one worker process (one job at a time) running a job that appends its id to a file. Measured:
- the enqueue cost in the caller (what a publish pays), median of the burst's enqueues;
- latency: one job at a time, enqueue -> done seen by the caller (polling the file every 2 ms), median;
- throughput: a burst of jobs enqueued at once, jobs/s until the last is done.
Needs DEPOT_TEST_POSTGRES_URL for procrastinate; Redis on 127.0.0.1:6379 and RabbitMQ on 5672 (guest) for
Celery (DEPOT_BENCH_REDIS_URL / DEPOT_BENCH_AMQP_URL); a queue whose service is missing is skipped.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.harness import fresh_postgres, median, progress, sized, table

REDIS = os.environ.get("DEPOT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
AMQP = os.environ.get("DEPOT_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _wait(path: Path, n: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while _count(path) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n - _count(path)} job(s) not done after {timeout:.0f} s")
        time.sleep(0.002)


def _measure(enqueue: Callable[[int], None], done: Path, singles: int, burst: int) -> tuple[float, float, float]:
    """(median enqueue ms, median latency ms, jobs/s of a burst)."""
    lat = []
    for i in range(singles):
        t0 = time.perf_counter()
        enqueue(i)
        _wait(done, i + 1)
        lat.append(time.perf_counter() - t0)
    costs = []
    t0 = time.perf_counter()
    for i in range(singles, singles + burst):
        t1 = time.perf_counter()
        enqueue(i)
        costs.append(time.perf_counter() - t1)
    _wait(done, singles + burst)
    return median(costs) * 1000, median(lat) * 1000, burst / (time.perf_counter() - t0)


@contextlib.contextmanager
def _worker(args: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, *args], stdout=sink, stderr=subprocess.STDOUT,
                                env={**os.environ, **env})
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _procrastinate(pg: str, tmp: Path, singles: int, burst: int) -> tuple[float, float, float]:
    import sqlalchemy as sa

    from depot.repository.jobs.pg import ensure_schema

    done = tmp / "pg.done"
    engine = sa.create_engine(pg, pool_size=2)
    ensure_schema(engine)
    insert = sa.text("INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args) "
                     "VALUES ('bench', 'bench.touch', 0, CAST(:args AS jsonb))")

    def enqueue(i: int) -> None:
        with engine.begin() as conn:  # as a publish does: the job row in a transaction
            conn.execute(insert, {"args": f'{{"i": {i}}}'})

    try:
        with _worker(["-m", "bench.job_queue_workers", "procrastinate", pg], {"BENCH_DONE": str(done)},
                     tmp / "pg.log"):
            enqueue(-1)  # warm-up: the worker has started once this is done
            _wait(done, 1, 60)
            done.unlink()
            return _measure(enqueue, done, singles, burst)
    finally:
        engine.dispose()


def _celery(broker: str, tmp: Path, name: str, singles: int, burst: int) -> tuple[float, float, float]:
    from bench.job_queue_workers import celery_app

    done = tmp / f"{name}.done"
    app = celery_app(broker)
    touch = app.tasks["bench.touch"]
    with _worker(["-m", "celery", "-A", "bench.job_queue_workers:worker_app", "worker", "--pool", "solo",
                  "--concurrency", "1", "--loglevel", "warning", "--without-gossip", "--without-mingle",
                  "--without-heartbeat"], {"BENCH_DONE": str(done), "BENCH_BROKER": broker},
                 tmp / f"{name}.log"):
        touch.delay(-1)
        _wait(done, 1, 60)
        done.unlink()
        try:
            return _measure(lambda i: touch.delay(i), done, singles, burst)
        finally:
            app.control.purge()


def main(quick: bool = False) -> None:
    singles, burst = sized(quick, (200, 1000), (60, 300), (3, 5))
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="depot-bench-queue-") as name, fresh_postgres() as pg:
        tmp = Path(name)
        runs: list[tuple[str, Callable[[], tuple[float, float, float]]]] = []
        if pg:
            runs.append(("procrastinate (PostgreSQL)", lambda: _procrastinate(pg, tmp, singles, burst)))
        runs.append(("Celery + Redis", lambda: _celery(REDIS, tmp, "redis", singles, burst)))
        runs.append(("Celery + RabbitMQ", lambda: _celery(AMQP, tmp, "amqp", singles, burst)))
        for label, run in runs:
            try:
                enq, lat, rate = run()
            except Exception as exc:  # a service that is not there: say so, measure the others
                print(f"{label}: skipped ({type(exc).__name__}: {exc})", file=sys.stderr)
                continue
            rows.append([label, f"{enq:.2f}", f"{lat:.1f}", f"{rate:.0f}"])
            progress(rows[-1])
    table(f"job queues: one worker process, a no-op job (append a line); {singles} single jobs, a burst of {burst} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
          ["queue", "enqueue ms (median)", "latency ms (median)", "jobs/s (burst)"], rows)
