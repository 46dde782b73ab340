"""Checking many files in worker processes, in input order, with bounded look-ahead.

    with FileChecker(rules, processes=2, cache=FileCheckCache(ledger.engine)) as checker:
        for result in checker.check((key, path, name) for ...):
            ...

Workers are started by forkserver (never fork: the caller may run threads, and libvips keeps a thread
pool), each with one libvips thread, so that N processes use N cores. A file that crashes its worker
(libvips on hostile input) is checked again alone; if it crashes that worker too it gets a problem, and
the others are unaffected.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType

from depot.deposit.images.cache import FileCheckCache, rules_hash
from depot.deposit.images.decode import check_file
from depot.deposit.images.results import FileCheck
from depot.deposit.images.rules import ImageRules

Item = tuple[str, str, str]  # (specimen key, path, name in the deposit)
CheckFunction = Callable[[str, str, str, ImageRules], FileCheck]
PARENT_POLL_SECONDS = 1.0  # how soon a worker notices that the process it checks files for is gone


def _start_worker(parent: int | None = None) -> None:
    import pyvips

    pyvips.concurrency_set(1)  # one process per core; libvips threads would only contend
    pyvips.cache_set_max(0)  # every file is seen once: libvips' operation cache only holds memory
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), name="depot-parent-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    """End this worker once ``parent`` (the process that checks files) is gone. After a kill -9 of
    `depot run` nothing else would: a worker holds both ends of its own task queue, so it never reads an
    end of file, and the forkserver lives as long as a worker holds its "alive" pipe. Each kill -9 during
    planning left three processes (about 120 MB) running for good."""
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        try:
            os.kill(parent, 0)
        except (ProcessLookupError, PermissionError):  # gone (a PermissionError: its number is another user's)
            os._exit(0)


def _ready() -> None:
    """Nothing: submitted once per worker by ``warm`` so that the workers start before the first file."""


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class FileChecker:
    """Checks files with ``check_file`` in ``processes`` worker processes (0: in this process), reusing
    ``cache`` results. ``lookahead`` bounds how many files are in flight (default 4 per process)."""

    def __init__(self, rules: ImageRules, processes: int = 2, cache: FileCheckCache | None = None, *,
                 lookahead: int | None = None, function: CheckFunction = check_file) -> None:
        if processes < 0:
            raise ValueError("processes must be 0 or more")
        self.rules = rules
        self.processes = processes
        self.cache = cache
        self.lookahead = lookahead or max(1, processes) * 4
        self.function = function  # a module-level function (it is pickled to the workers)
        self.digest = rules_hash(rules)
        self.cached = 0  # results taken from the cache, for reports
        self.checked = 0  # files decoded
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> FileChecker:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self.cache is not None:
            self.cache.flush()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def warm(self) -> None:
        """Start the worker processes now (the forkserver, libvips' import) and return at once, so that they
        are ready when the first file comes instead of delaying it (``depot run`` calls this before its key
        pass)."""
        if self.processes > 0:
            executor = self._executor()
            for _ in range(self.processes):
                executor.submit(_ready)

    def check(self, items: Iterable[Item]) -> Iterator[FileCheck]:
        """One FileCheck per (key, path, name), in the order given; at most ``lookahead`` are in flight."""
        pending: deque[tuple[Item, FileCheck | Future[FileCheck], bool]] = deque()
        for item in items:
            pending.append((item, *self._start(item)))
            while len(pending) > self.lookahead:
                yield self._finish(*pending.popleft())
        while pending:
            yield self._finish(*pending.popleft())

    def _start(self, item: Item) -> tuple[FileCheck | Future[FileCheck], bool]:
        """The result or its future, and whether it came from the cache."""
        key, path, name = item
        try:
            info = os.stat(path)
        except OSError:
            info = None
        if info is not None and self.cache is not None:
            hit = self.cache.get(path, name, key, info.st_size, info.st_mtime_ns, self.digest)
            if hit is not None:
                self.cached += 1
                return hit, True
        if self.processes == 0 or info is None or not stat.S_ISREG(info.st_mode):
            # nothing to decode (missing, a folder, a pipe): said here, without starting a worker
            return self.function(path, name, key, self.rules), False
        try:
            return self._executor().submit(self.function, path, name, key, self.rules), False
        except BrokenProcessPool:
            self._restart()
            return self._executor().submit(self.function, path, name, key, self.rules), False

    def _finish(self, item: Item, started: FileCheck | Future[FileCheck], cached: bool) -> FileCheck:
        if isinstance(started, FileCheck):
            return started if cached else self._store(item, started)
        try:
            return self._store(item, started.result())
        except BrokenProcessPool:
            self._restart()
            result, crashed = self._alone(item)
            return result if crashed else self._store(item, result)  # a crash may be transient: not cached

    def _store(self, item: Item, result: FileCheck) -> FileCheck:
        self.checked += 1
        if self.cache is not None:
            self.cache.put(item[0], result, self.digest)
        return result

    def _alone(self, item: Item) -> tuple[FileCheck, bool]:
        """Check one file in a worker of its own: after a crash, find out whether this file caused it."""
        key, path, name = item
        with ProcessPoolExecutor(1, mp_context=_context(), initializer=_start_worker,
                                 initargs=(os.getpid(),)) as single:
            try:
                return single.submit(self.function, path, name, key, self.rules).result(), False
            except BrokenProcessPool:
                return FileCheck(path, name, problems=(f"{name} ({path}): the image decoder crashed on this file "
                                                       "(damaged or hostile content)",)), True

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.processes, mp_context=_context(), initializer=_start_worker,
                                             initargs=(os.getpid(),))
        return self._pool

    def _restart(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
