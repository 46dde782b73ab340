"""Checking many files in worker processes, in input order, with bounded look-ahead.

    with FileChecker(rules, processes=2, cache=FileCheckCache(ledger.engine)) as checker:
        for result in checker.check((key, path, name) for ...):
            ...

Workers are started by forkserver and end with their parent (``depot.processes``), each with one libvips
thread, so that N processes use N cores; small files travel in chunks. When a file crashes its worker
(libvips on hostile input), each file of the chunks that were in the workers' hands is checked again
alone; the one that crashes its worker again gets a problem, and the others are unaffected.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from types import TracebackType

from depot.deposit.images.cache import FileCheckCache, rules_hash
from depot.deposit.images.decode import check_file
from depot.deposit.images.results import FileCheck
from depot.deposit.images.rules import ImageRules
from depot.deposit.models import Expected
from depot.processes import OnDemandPool

# (specimen key, path, name in the deposit[, the checksums its bytes must have]); check_file's arguments
Item = tuple[str, str, str] | tuple[str, str, str, tuple[Expected, ...]]
CheckFunction = Callable[..., FileCheck]

# Files go to a worker in chunks: one task per file cost the planning thread and the pool's own threads
# about 0.1 ms of this process's CPU per file (pickling, pipe, futures), as much as decoding a small image;
# a chunk of 8 costs a fifth of that (docs/decisions/0017). A chunk closes at CHUNK_BYTES, so a large
# sheet, whose decoding dwarfs that cost, goes alone and the look-ahead stays fine-grained.
CHUNK_FILES = 8
CHUNK_BYTES = 1024 * 1024


def _setup_worker() -> None:
    import pyvips

    pyvips.concurrency_set(1)  # one process per core; libvips threads would only contend
    pyvips.cache_set_max(0)  # every file is seen once: libvips' operation cache only holds memory


def _ready() -> None:
    """Nothing: submitted once per worker by ``warm`` so that the workers start before the first file."""


def _check_chunk(function: CheckFunction, items: list[Item], rules: ImageRules) -> list[FileCheck]:
    """In a worker: check each file of a chunk (a module-level function: it is pickled)."""
    return [_check_one(function, item, rules) for item in items]


def _check_one(function: CheckFunction, item: Item, rules: ImageRules) -> FileCheck:
    key, path, name = item[:3]
    expected = _expected(item)
    return function(path, name, key, rules, expected) if expected else function(path, name, key, rules)


def _expected(item: Item) -> tuple[Expected, ...]:
    return item[3] if len(item) > 3 else ()


@dataclass
class _Chunk:
    """Files sent to a worker as one task; ``future`` is set once it is sent, ``pool`` is where."""

    items: list[Item] = field(default_factory=list)
    size: int = 0
    future: Future[list[FileCheck]] | None = None
    pool: ProcessPoolExecutor | None = None


@dataclass
class _Entry:
    item: Item
    result: FileCheck | None = None  # known at once: from the cache, or nothing to decode
    cached: bool = False
    chunk: _Chunk | None = None
    index: int = 0


def _known(entry: _Entry) -> bool:
    """Whether the entry's result can be taken without waiting."""
    if entry.chunk is None:
        return True
    return entry.chunk.future is not None and entry.chunk.future.done()


class FileChecker:
    """Checks files with ``check_file`` in ``processes`` worker processes (0: in this process), reusing
    ``cache`` results. ``lookahead`` bounds how many files are read ahead of the one being returned
    (default: two chunks per process)."""

    def __init__(self, rules: ImageRules, processes: int = 2, cache: FileCheckCache | None = None, *,
                 lookahead: int | None = None, function: CheckFunction = check_file) -> None:
        if processes < 0:
            raise ValueError("processes must be 0 or more")
        self.rules = rules
        self.processes = processes
        self.cache = cache
        self.lookahead = lookahead or max(1, processes) * 2 * CHUNK_FILES
        self.function = function  # a module-level function (it is pickled to the workers)
        self.digest = rules_hash(rules)
        self.cached = 0  # results taken from the cache, for reports
        self.checked = 0  # files decoded
        self._pool = OnDemandPool(processes, _setup_worker)  # started with the first file to decode
        self._isolation = OnDemandPool(1, _setup_worker)  # one worker, for the files of a chunk that crashed
        self._open: _Chunk | None = None  # the chunk being filled
        self._in_hand: deque[_Chunk] = deque()  # chunks sent, in order, whose results may not be known yet

    def __enter__(self) -> FileChecker:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self.cache is not None:
            self.cache.flush()
        self._pool.close()
        self._isolation.close()

    def warm(self) -> None:
        """Start the worker processes now (the forkserver, libvips' import) and return at once, so that they
        are ready when the first file comes instead of delaying it (``depot run`` calls this before its key
        pass)."""
        if self.processes > 0:
            executor = self._pool.current()
            for _ in range(self.processes):
                executor.submit(_ready)

    def check(self, items: Iterable[Item]) -> Iterator[FileCheck]:
        """One FileCheck per (key, path, name), in the order given, each as soon as it and those before it
        are known. At most ``lookahead`` files are read ahead, two chunks per process are in the workers'
        hands at once, and a chunk goes before it is full when the workers have nothing else to do."""
        pending: deque[_Entry] = deque()
        self._open, self._in_hand = None, deque()
        workers = max(1, self.processes)
        for item in items:
            pending.append(self._start(item))
            while self._in_hand and self._in_hand[0].future is not None and self._in_hand[0].future.done():
                self._in_hand.popleft()
            if self._open is not None and not self._in_hand:
                self._send()  # the workers are idle: a slow source's files go as they come
            while pending and (len(pending) > self.lookahead or len(self._in_hand) > 2 * workers
                               or _known(pending[0])):
                yield self._finish(pending.popleft())
        self._send()
        while pending:
            yield self._finish(pending.popleft())

    def _start(self, item: Item) -> _Entry:
        """The file's result if it is known at once (cached, or nothing to decode), else its place in a chunk."""
        key, path, name = item[:3]
        try:
            info = os.stat(path)
        except OSError:
            info = None
        if info is not None and self.cache is not None:
            hit = self.cache.get(path, name, key, info.st_size, info.st_mtime_ns, self._digest(item))
            if hit is not None:
                self.cached += 1
                return _Entry(item, hit, cached=True)
        if self.processes == 0 or info is None or not stat.S_ISREG(info.st_mode):
            # nothing to decode (missing, a folder, a pipe): said here, without starting a worker
            return _Entry(item, _check_one(self.function, item, self.rules))
        chunk = self._open = self._open or _Chunk()
        entry = _Entry(item, chunk=chunk, index=len(chunk.items))
        chunk.items.append(item)
        chunk.size += info.st_size
        if len(chunk.items) >= CHUNK_FILES or chunk.size >= CHUNK_BYTES:
            self._send()
        return entry

    def _send(self) -> None:
        """Hand the open chunk to the workers."""
        chunk, self._open = self._open, None
        if chunk is None:
            return
        self._in_hand.append(chunk)
        for _ in range(2):
            chunk.pool = self._pool.current()
            try:
                chunk.future = chunk.pool.submit(_check_chunk, self.function, chunk.items, self.rules)
                return
            except BrokenProcessPool:
                self._pool.drop(chunk.pool)
        raise BrokenProcessPool("the image checkers cannot be started")

    def _finish(self, entry: _Entry) -> FileCheck:
        if entry.result is not None:
            return entry.result if entry.cached else self._store(entry.item, entry.result)
        chunk = entry.chunk
        assert chunk is not None
        if chunk.future is None:
            self._send()  # the head of the line waits for its chunk: send it, full or not
        assert chunk.future is not None
        try:
            return self._store(entry.item, chunk.future.result()[entry.index])
        except BrokenProcessPool:
            # A worker died: which file killed it is not known, so each of the chunk's files is checked alone.
            self._pool.drop(chunk.pool)
            result, crashed = self._alone(entry.item)
            return result if crashed else self._store(entry.item, result)  # a crash may be transient: not cached

    def _digest(self, item: Item) -> str:
        """What a cached result is filed under: the rules, and the checksums the file was compared with (a
        result from before a checksum file was given says nothing about it)."""
        expected = _expected(item)
        if not expected:
            return self.digest
        text = "|".join([self.digest, *sorted(f"{e.algorithm}:{e.digest}" for e in expected)])
        return hashlib.sha256(text.encode()).hexdigest()

    def _store(self, item: Item, result: FileCheck) -> FileCheck:
        self.checked += 1
        if self.cache is not None:
            self.cache.put(item[0], result, self._digest(item))
        return result

    def _alone(self, item: Item) -> tuple[FileCheck, bool]:
        """Check one file with nothing else in flight, in a worker kept for this (one process start per
        crash, not per file): after a crash, find out whether this file caused it."""
        _, path, name = item[:3]
        try:
            return self._isolation.call(_check_one, self.function, item, self.rules), False
        except BrokenProcessPool:
            return FileCheck(path, name, problems=(f"{name} ({path}): the image decoder crashed on this file "
                                                   "(damaged or hostile content)",)), True
