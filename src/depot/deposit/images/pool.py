"""Checking many files in worker processes, in input order, with bounded look-ahead.

    with FileChecker(rules, processes=2, cache=FileCheckCache(ledger.engine)) as checker:
        for result in checker.check((key, path, name) for ...):
            ...

Workers are started by forkserver and end with their parent (``depot.processes``), each with one libvips
thread, so that N processes use N cores. A file that crashes its worker (libvips on hostile input) is
checked again alone; if it crashes that worker too it gets a problem, and
the others are unaffected.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType

from depot.deposit.images.cache import FileCheckCache, rules_hash
from depot.deposit.images.decode import check_file
from depot.deposit.images.results import FileCheck
from depot.deposit.images.rules import ImageRules
from depot.processes import child_pool

Item = tuple[str, str, str]  # (specimen key, path, name in the deposit)
CheckFunction = Callable[[str, str, str, ImageRules], FileCheck]


def _setup_worker() -> None:
    import pyvips

    pyvips.concurrency_set(1)  # one process per core; libvips threads would only contend
    pyvips.cache_set_max(0)  # every file is seen once: libvips' operation cache only holds memory


def _ready() -> None:
    """Nothing: submitted once per worker by ``warm`` so that the workers start before the first file."""


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
        with child_pool(1, _setup_worker) as single:
            try:
                return single.submit(self.function, path, name, key, self.rules).result(), False
            except BrokenProcessPool:
                return FileCheck(path, name, problems=(f"{name} ({path}): the image decoder crashed on this file "
                                                       "(damaged or hostile content)",)), True

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = child_pool(self.processes, _setup_worker)
        return self._pool

    def _restart(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
