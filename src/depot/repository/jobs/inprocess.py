"""The in-process job queue: one worker thread in the server process (SQLite, embedded use, tests).

A job enqueued inside a write transaction runs after it commits. A job that raises is tried again, up to its
``attempts``, after 0.1, 0.2, 0.4 ... s (at most 5 s); then it is kept in ``failures`` until ``retry_failed``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import orjson
import sqlalchemy as sa

from depot.repository.jobs import after_commit, spec

log = logging.getLogger("depot.repository.jobs")
Item = tuple[str, dict[str, Any]] | None


class InProcessQueue:
    in_process = True

    def __init__(self) -> None:
        self.ctx: Any = None
        self.queue: queue.Queue[Item] = queue.Queue()
        self.failed: dict[tuple[str, bytes], dict[str, Any]] = {}
        self.waiting: set[str] = set()  # queueing locks of jobs in the queue
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.running = 0

    def bind(self, ctx: Any) -> None:
        self.ctx = ctx

    def enqueue(self, name: str, *, conn: sa.Connection | None = None, lock: str | None = None,
                queueing_lock: str | None = None, delay_s: float = 0, **args: Any) -> None:
        spec(name)  # an unknown name fails here, in the caller, not later in the worker
        args = orjson.loads(orjson.dumps(args))  # the same JSON values a remote queue would store
        if queueing_lock is not None:
            args["_queueing_lock"] = queueing_lock
        hooks = after_commit(conn) if conn is not None else None
        if hooks is not None:
            hooks.append(lambda: self._put(name, args))
        else:
            self._put(name, args)

    def _put(self, name: str, args: dict[str, Any]) -> None:
        qlock = args.get("_queueing_lock")
        with self._lock:
            if qlock is not None:
                if qlock in self.waiting:
                    return
                self.waiting.add(qlock)
            if self._thread is None or not self._thread.is_alive():
                self.stopping.clear()
                self._thread = threading.Thread(target=self._run, name="depot-jobs", daemon=True)
                self._thread.start()
        self.queue.put((name, args))

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if item is None:
                    return
                name, args = item
                qlock = args.pop("_queueing_lock", None)
                if qlock is not None:
                    with self._lock:
                        self.waiting.discard(qlock)
                self._attempt(name, args)
            finally:
                self.queue.task_done()

    def _attempt(self, name: str, args: dict[str, Any]) -> None:
        job = spec(name)
        key = (name, orjson.dumps(args, option=orjson.OPT_SORT_KEYS))
        for attempt in range(1, job.attempts + 1):
            if self.stopping.is_set():
                return
            try:
                job.fn(self.ctx, **args)
            except Exception as exc:  # the worker must survive anything one job does
                if attempt == job.attempts:
                    log.exception("job %s%s failed %d time(s); kept for a retry", name, _brief(args), attempt)
                    self.failed[key] = {"args": args, "error": f"{type(exc).__name__}: {exc}"}
                    return
                log.warning("job %s%s failed (attempt %d of %d): %s", name, _brief(args), attempt, job.attempts, exc)
                self.stopping.wait(min(5.0, 0.1 * 2 ** (attempt - 1)))
            else:
                self.failed.pop(key, None)
                return

    def drain(self, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        with self.queue.all_tasks_done:
            while self.queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.queue.all_tasks_done.wait(remaining):
                    return not self.queue.unfinished_tasks
        return True

    def failures(self, name: str) -> list[dict[str, Any]]:
        return [v for (n, _), v in sorted(self.failed.items()) if n == name]

    def retry_failed(self, name: str) -> int:
        again = [v["args"] for (n, _), v in list(self.failed.items()) if n == name]
        for args in again:
            self._put(name, dict(args))
        return len(again)

    def counts(self) -> dict[str, int]:
        return {"queued": self.queue.unfinished_tasks, "failed": len(self.failed)}

    def stop(self, timeout: float = 30) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            self.stopping.set()
            self.queue.put(None)
            thread.join(timeout)
            if thread.is_alive():
                log.warning("job worker still busy after %.0f s; it stops after the current job", timeout)
                return
        self._thread = None


def _brief(args: dict[str, Any], limit: int = 200) -> str:
    """A job's arguments for a log line: a bag job's carry the record's whole state (kilobytes each)."""
    text = repr(args)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"
