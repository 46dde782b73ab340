"""I/O: the ledger's single writer. One thread owns the write connection and commits in groups.

Why: run on the event loop, every transition was its own transaction (about 11 commits and 43
statements per record), and the loop could not send or receive while SQLite or PostgreSQL worked.
Here callers hand the writer a small function of the connection (an *operation*); the thread takes
every operation that is waiting, runs them all in one transaction, commits, and then tells their
callers. While one group commits the next one gathers, so under load many records share one commit;
alone, an operation waits for one short transaction as before.

There are two kinds of operation. A *guard* is a transition that must be durable before a request is
sent ("uncertain: create" before the POST, "uncertain: publish" before the publish): its caller awaits
``run``, whose future is resolved only after the commit that holds it. Every other write records an
answer already received (created, file uploaded, published, an attempt, a lease released); its caller
``post``s it and goes on. Exactly-once is kept, by this argument:
1. A request is sent only after its guard's future resolved, that is, after the commit holding the
   guard returned (SQLite WAL: survives kill -9 of the depositor, as before; PostgreSQL: survives a
   crash of either side).
2. There is one connection and one FIFO queue, and groups are committed in order; so when a guard is
   durable, so is every operation queued before it, posted ones included. A record's own writes are
   therefore durable in the order its worker made them, whenever a later guard of it is.
3. If the process dies before a commit, that whole group is lost, and with it no request was sent for
   any guard in it. A posted write lost that way leaves its row one step behind, which is exactly what a
   kill between an answer and its (formerly synchronous) commit left: a row in "uncertain", settled by a
   probe before anything is sent again.
4. A failed group is rolled back and its operations are run again one transaction each, so a bad guard
   fails only its own caller, with a LedgerError, and its request is not sent. A posted write that fails
   poisons the writer: every operation after it fails with the same LedgerError and the run stops, so
   no request is ever sent on top of a write that did not happen.

Settling a group's futures is one hop to the event loop per group, not one per operation. The thread
starts on the first operation, owns its connection for its whole life, and ``close`` stops it once
everything queued is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from depot.deposit.errors import LedgerError
from depot.deposit.ledger.prepared import Prepared, Tx

GROUP = 512  # operations per transaction at most: bounds how long one commit holds the write lock

Operation = Callable[[Tx], Any]


@dataclass
class _Job:
    op: Operation
    future: asyncio.Future[Any] | None
    loop: asyncio.AbstractEventLoop | None


class Writer:
    """The one thread that writes the ledger during a run (see the module docstring)."""

    def __init__(self, engine: sa.Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self.prepared = Prepared(engine.dialect.name)
        self.sqlite = engine.dialect.name == "sqlite"
        self.transactions = 0  # commits made (tests and benches read these)
        self.operations = 0
        self.failure: BaseException | None = None  # a posted write failed: every later operation fails
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, op: Operation) -> asyncio.Future[Any]:
        """Queue ``op``; the future resolves to its result once the transaction holding it committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._put(_Job(op, future, loop))
        return future

    async def run(self, op: Operation) -> Any:
        return await self.submit(op)

    def post(self, op: Operation) -> None:
        """Queue ``op`` to be committed with the next group; nobody waits for it. Raises the writer's
        failure, if a write already failed."""
        if self.failure is not None:
            raise self.failure
        self._put(_Job(op, None, None))

    async def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(thread.join)

    def _put(self, job: _Job) -> None:
        if self._thread is None:  # the lock only to start the thread: nine puts per record take none
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="ledger-writer", daemon=True)
                    self._thread.start()
        self._queue.put(job)

    # -- the thread ------------------------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            pooled = self.engine.raw_connection()  # with the engine's connect-time settings (WAL, timeouts)
        except sa.exc.SQLAlchemyError as exc:
            self.failure = self._error(exc)
            while (job := self._queue.get()) is not None:
                _settle([job], None, self.failure)
            return
        try:
            driver: Any = pooled.dbapi_connection
            tx = Tx(driver.cursor(), self.prepared)
            stop = False
            while not stop:
                first = self._queue.get()
                if first is None:
                    break
                group = [first]
                while len(group) < GROUP:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    group.append(job)
                if self.failure is not None:
                    _settle(group, None, self.failure)
                else:
                    self._commit(driver, tx, group)
        finally:
            pooled.close()

    def _commit(self, driver: Any, tx: Tx, group: list[_Job]) -> None:
        """One transaction for ``group``, on the driver's connection: SQLite's in autocommit mode (the
        engine's setting) begins with the write lock taken up front, as the Ledger's do; psycopg's begins
        with the first statement."""
        try:
            if self.sqlite:
                tx.cursor.execute("BEGIN IMMEDIATE")
            try:
                results = [job.op(tx) for job in group]
                driver.commit()
            except BaseException:
                driver.rollback()
                raise
        except Exception as exc:  # handed to the callers, never lost on this thread
            if len(group) > 1:
                for job in group:  # attribute the failure: each alone, in its own transaction
                    if self.failure is not None:
                        _settle([job], None, self.failure)
                    else:
                        self._commit(driver, tx, [job])
                return
            error = self._error(exc)
            if group[0].future is None:
                self.failure = error  # a posted write failed: nothing may follow it (see 4. above)
            _settle(group, None, error)
            return
        self.transactions += 1
        self.operations += len(group)
        _settle(group, results, None)

    def _error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, LedgerError | sa.exc.SQLAlchemyError) or type(exc).__module__.startswith(
                ("sqlite3", "psycopg")):
            if isinstance(exc, LedgerError):
                return exc
            return LedgerError(self.url, f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return exc


def _settle(jobs: list[_Job], results: list[Any] | None, error: BaseException | None) -> None:
    """Resolve the futures of ``jobs`` (``results`` in order, or all with ``error``): one hop per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for i, job in enumerate(jobs):
        if job.future is not None and job.loop is not None:
            by_loop.setdefault(job.loop, []).append((job.future, results[i] if results is not None else None))
    for loop, pending in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve, pending, error)


def _resolve(pending: list[tuple[asyncio.Future[Any], Any]], error: BaseException | None) -> None:
    for future, result in pending:
        if future.done():
            continue  # the caller was cancelled; the transaction stands (a guard committed, nothing sent)
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
