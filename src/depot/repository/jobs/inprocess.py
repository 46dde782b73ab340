"""The in-process job queue: one worker thread in the server process (SQLite, embedded use, tests).

A job enqueued inside a write transaction runs after it commits. A job that raises is tried again, up to its
``attempts``, after 0.1, 0.2, 0.4 ... s (at most 5 s); then it is kept in ``failures`` until ``retry_failed``.
Jobs of a name registered with a ``group`` that are waiting together run as one job of that group, up to
GROUP_MAX of them; if the group job raises, each runs alone, with its own attempts.
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
GROUP_MAX = 64


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
        held: list[Item] = []  # taken while gathering a group it does not belong to: the next to run
        while True:
            item = held.pop() if held else self.queue.get()
            members = [] if item is None else self._gather(*item, held)
            try:
                if item is None:
                    return
                for args in members:
                    qlock = args.pop("_queueing_lock", None)
                    if qlock is not None:
                        with self._lock:
                            self.waiting.discard(qlock)
                self._run_members(item[0], members)
            finally:
                for _ in range(max(1, len(members))):  # the stop item, or each job run
                    self.queue.task_done()

    def _gather(self, name: str, args: dict[str, Any], held: list[Item]) -> list[dict[str, Any]]:
        """``args`` and the arguments of the jobs waiting right behind it that may run with it as one group."""
        job, members = spec(name), [args]
        if job.groupable is None or not job.groupable(args, []):
            return members
        while len(members) < GROUP_MAX:
            try:
                nxt = self.queue.get_nowait()
            except queue.Empty:
                break
            if nxt is not None and nxt[0] == name and job.groupable(nxt[1], members):
                members.append(nxt[1])
            else:
                held.append(nxt)
                break
        return members

    def _run_members(self, name: str, members: list[dict[str, Any]]) -> None:
        group = spec(name).group
        if group is None or len(members) == 1:
            for args in members:
                self._attempt(name, args)
            return
        if self.stopping.is_set():
            return  # as _attempt: a bag not written is found missing at the next start
        try:
            spec(group).fn(self.ctx, items=members)
        except Exception as exc:  # each alone then, with its own attempts and its own failure entry
            log.warning("job %s for %d items failed (%s); running them one by one", group, len(members), exc)
            for args in members:
                self._attempt(name, args)

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
