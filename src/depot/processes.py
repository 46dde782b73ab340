"""Worker processes that never outlive the process that started them.

Both halves hand CPU-bound work to processes (the depositor's image checks, the repository's bags), so
that it runs beside the event loop instead of taking its GIL. The pools are started by forkserver, never
fork: the caller runs threads (and libvips keeps a thread pool). A worker watches its parent and exits once
it is gone: after a kill -9 nothing else would end it (a worker holds both ends of its own task queue, so
it never reads an end of file, and the forkserver lives as long as a worker holds its "alive" pipe).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

_T = TypeVar("_T")
PARENT_POLL_SECONDS = 1.0  # how soon a worker notices that its parent is gone


def context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def watch_parent(parent: int | None) -> None:
    """In a worker: end this process once ``parent`` is gone (None: do not watch)."""
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), name="depot-parent-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        try:
            os.kill(parent, 0)
        except (ProcessLookupError, PermissionError):  # gone (a PermissionError: its number is another user's)
            os._exit(0)


def _start(parent: int, setup: Callable[..., None] | None, args: tuple[Any, ...]) -> None:
    watch_parent(parent)
    if setup is not None:
        setup(*args)


def child_pool(processes: int, setup: Callable[..., None] | None = None, args: tuple[Any, ...] = ()
               ) -> ProcessPoolExecutor:
    """A pool of ``processes`` workers that exit with this process; ``setup(*args)`` runs in each first (a
    module-level function: it is pickled)."""
    return ProcessPoolExecutor(processes, mp_context=context(), initializer=_start,
                               initargs=(os.getpid(), setup, args))


class OnDemandPool:
    """``processes`` workers from ``child_pool`` (each running ``setup`` first), started at the first use and
    ended by ``close``. A pool whose worker died (killed, out of memory) is dropped, and the next use starts a
    new one, instead of every later call failing until the parent restarts."""

    def __init__(self, processes: int, setup: Callable[..., None] | None = None) -> None:
        self.processes = processes
        self.setup = setup
        self.pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def current(self) -> ProcessPoolExecutor:
        """The pool, started now if there is none."""
        with self._lock:
            if self.pool is None:
                self.pool = child_pool(self.processes, self.setup)
            return self.pool

    def drop(self, broken: ProcessPoolExecutor | None) -> None:
        """Drop ``broken`` (a pool whose worker died), unless a newer pool has replaced it already."""
        if broken is None:
            return
        with self._lock:
            if self.pool is broken:
                self.pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    def call(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` in a worker, waited for on this thread; BrokenProcessPool if its worker died."""
        pool = self.current()
        try:
            return pool.submit(fn, *args).result()
        except BrokenProcessPool:
            self.drop(pool)
            raise

    def close(self) -> None:
        """End the workers (once nothing is being called)."""
        with self._lock:
            pool, self.pool = self.pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def pid_alive(pid: int) -> bool:
    """Whether a process with this number runs on this machine (one of another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
