"""A run on the local target ends once its repository's queued bags are written (targets._finish_bags).

The queue is the repository's real in-process queue; a job held on an event stands for a bag still being
written when the run's last record is published.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from depot.deposit.targets import _finish_bags
from depot.repository.jobs import register
from depot.repository.jobs.inprocess import InProcessQueue

GATE = threading.Event()
register("test_held_bag", lambda ctx: GATE.wait(30))


def test_the_end_of_a_run_waits_for_the_bags_still_queued(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    GATE.clear()
    jobs = InProcessQueue()
    try:
        jobs.enqueue("test_held_bag")
        done = threading.Event()
        waiter = threading.Thread(target=lambda: (_finish_bags(jobs, tmp_path), done.set()))
        waiter.start()
        assert not done.wait(1.5)  # the bag is still being written: the run has not ended
        GATE.set()
        assert done.wait(30)
        waiter.join(5)
        assert jobs.counts()["queued"] == 0
        err = capsys.readouterr().err
        assert f"Writing the bags still queued in {tmp_path / 'bags'} (1 job(s);" in err
        assert "without progress" not in err
    finally:
        GATE.set()
        jobs.stop()


def test_a_queue_that_stops_moving_is_left_to_the_next_start(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    GATE.clear()
    jobs = InProcessQueue()
    try:
        jobs.enqueue("test_held_bag")
        _finish_bags(jobs, tmp_path, stalled_s=1.0)  # returns although the job is held
        assert jobs.counts()["queued"] == 1
        err = capsys.readouterr().err
        assert "bags still queued (1 job(s)) after 1 s without progress; the repository writes them at its next " \
               f"start (depot serve --data-dir {tmp_path})" in err
    finally:
        GATE.set()
        jobs.stop()


def test_nothing_queued_means_no_wait_and_no_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = InProcessQueue()
    _finish_bags(jobs, tmp_path)
    assert capsys.readouterr().err == ""
