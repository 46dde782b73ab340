"""Planning beside the deposit: the heavy per-record work (reading, file checks, the profile, the verdict)
runs in a thread that writes the ledger in batches, while the deposit's workers claim what is written.

The thread is the producer: a batch is one ledger transaction, so a kill -9 leaves whole batches and the
next run plans the rest again (planning is idempotent). ``stop()`` ends it at the next record; the batch
not yet written is simply left for the next run. Listeners are called in the planning thread after each
batch and at the end (a deposit wakes its idle workers and grows its total).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from depot.deposit.ledger.planning import PlanSummary

# plan(on_batch, stopping) -> the summary: Ledger.plan with the records bound
PlanCall = Callable[[Callable[[PlanSummary], None], Callable[[], bool]], PlanSummary]


class BackgroundPlan:
    def __init__(self, plan: PlanCall) -> None:
        self._plan = plan
        self._stop = threading.Event()
        self._first = threading.Event()  # the first batch is written (or planning ended)
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._thread = threading.Thread(target=self._main, name="depot-planning", daemon=True)
        self.summary: PlanSummary | None = None
        self.error: BaseException | None = None
        self.communities: set[str] = set()  # named by the records planned so far
        self.active = 0  # records planned so far that the deposit will work on (new, retried, edits, versions)

    def start(self) -> BackgroundPlan:
        self._thread.start()
        return self

    def running(self) -> bool:
        return not self._done.is_set()

    def stop(self) -> None:
        self._stop.set()

    def wait_first(self) -> None:
        """Wait until the first batch is in the ledger (or planning ended: see ``error``)."""
        while not self._first.wait(0.1):  # a short wait keeps Ctrl-C answered at once
            pass

    def join(self) -> None:
        while self._thread.is_alive():
            self._thread.join(0.1)

    def listen(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (in the planning thread) after each batch and once planning has ended."""
        with self._lock:
            self._listeners.append(listener)

    def _main(self) -> None:
        try:
            self.summary = self._plan(self._batch, self._stop.is_set)
        except BaseException as exc:  # handed to the caller, which reports it (run_with_exit_codes)
            self.error = exc
        finally:
            self._done.set()
            self._first.set()
            self._notify()

    def _batch(self, summary: PlanSummary) -> None:
        with self._lock:
            self.communities = set(summary.communities)
            self.active = summary.new + summary.retried + summary.edits + summary.versions
        self._first.set()
        self._notify()

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()
