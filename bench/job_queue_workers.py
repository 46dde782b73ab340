"""The worker side of bench/job_queue.py: a job that appends its id to $BENCH_DONE, for each queue."""

from __future__ import annotations

import os
import sys
from typing import Any


def _touch(i: int) -> None:
    with open(os.environ["BENCH_DONE"], "a") as out:
        out.write(f"{i}\n")


def celery_app(broker: str) -> Any:
    from celery import Celery

    app = Celery("bench", broker=broker)
    app.conf.update(task_ignore_result=True, worker_prefetch_multiplier=4, broker_connection_retry_on_startup=True,
                    broker_connection_timeout=3, task_publish_retry=False)
    app.task(name="bench.touch")(_touch)
    return app


worker_app = celery_app(os.environ["BENCH_BROKER"]) if "BENCH_BROKER" in os.environ else None


def _procrastinate(url: str) -> None:
    import procrastinate

    from depot.repository.jobs.pg import conninfo

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(url)))
    app.task(name="bench.touch", queue="bench", pass_context=False)(_touch)
    app.run_worker(queues=["bench"], concurrency=1)


if __name__ == "__main__":
    if sys.argv[1] == "procrastinate":
        _procrastinate(sys.argv[2])
