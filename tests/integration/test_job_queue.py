"""The job queue: in-process (after commit, retries, failures) and procrastinate on PostgreSQL (a publish and its
bag job commit together; `depot worker` writes the bag)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from contract.payloads import metadata, put_file
from depot.repository.app import create_app
from depot.repository.config import RepositoryConfig
from depot.repository.jobs import REGISTRY, register
from depot.repository.jobs.inprocess import InProcessQueue
from depot.repository.preservation.bags import bags_of
from depot.repository.store.db import Database

CALLS: list[tuple[str, int]] = []
FLAKY: dict[int, int] = {}
LOCK = threading.Lock()


def _echo(ctx: Any, n: int) -> None:
    with LOCK:
        CALLS.append(("echo", n))


def _flaky(ctx: Any, n: int, fail_times: int) -> None:
    with LOCK:
        FLAKY[n] = FLAKY.get(n, 0) + 1
        if FLAKY[n] <= fail_times:
            raise OSError(f"attempt {FLAKY[n]} of job {n} fails")


register("test_echo", _echo)
register("test_flaky", _flaky, attempts=3)


def test_registering_is_one_line_and_names_are_checked() -> None:
    assert REGISTRY["test_echo"].fn is _echo
    with pytest.raises(ValueError, match="already registered"):
        register("test_echo", _flaky)
    with pytest.raises(ValueError, match="letters, digits"):
        register("bad name!", _echo)
    with pytest.raises(KeyError, match="no job named 'nope'"):
        InProcessQueue().enqueue("nope")


def test_in_process_job_runs_after_commit_and_never_after_rollback(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    jobs = InProcessQueue()
    CALLS.clear()
    with pytest.raises(RuntimeError), db.write() as conn:
        jobs.enqueue("test_echo", conn=conn, n=1)
        raise RuntimeError("the transaction fails")
    with db.write() as conn:
        jobs.enqueue("test_echo", conn=conn, n=2)
        assert jobs.drain(5) and CALLS == []  # not before the commit
    assert jobs.drain(10)
    assert CALLS == [("echo", 2)]
    jobs.stop()
    db.dispose()


def test_in_process_retries_then_keeps_the_failure_for_a_retry() -> None:
    jobs = InProcessQueue()
    FLAKY.clear()
    jobs.enqueue("test_flaky", n=1, fail_times=2)  # succeeds at its third attempt
    jobs.enqueue("test_flaky", n=2, fail_times=5)  # fails all three
    assert jobs.drain(30)
    assert FLAKY == {1: 3, 2: 3}
    failures = jobs.failures("test_flaky")
    assert [f["args"]["n"] for f in failures] == [2] and "attempt 3 of job 2 fails" in failures[0]["error"]
    assert jobs.retry_failed("test_flaky") == 1 and jobs.drain(30)
    assert FLAKY[2] == 6 and jobs.failures("test_flaky") == []  # attempts 4, 5 fail, the 6th succeeds
    jobs.stop()


def gated_queue(name: str) -> tuple[InProcessQueue, threading.Event]:
    """A queue whose worker waits in a first job (registered as ``name``) until the event is set: the jobs
    enqueued meanwhile are all waiting together when it goes on."""
    jobs = InProcessQueue()
    gate = threading.Event()
    register(name, lambda ctx: gate.wait(10))
    jobs.enqueue(name)
    return jobs, gate


def test_queueing_lock_keeps_one_waiting_job() -> None:
    CALLS.clear()
    jobs, gate = gated_queue("test_gate")
    for n in range(5):
        jobs.enqueue("test_echo", queueing_lock="one", n=n)
    gate.set()
    assert jobs.drain(10)
    assert CALLS == [("echo", 0)]
    jobs.stop()


PARTS: list[list[int]] = []
BROKEN_GROUPS: list[list[int]] = []


def _part(ctx: Any, n: int, solo: bool = False) -> None:
    with LOCK:
        CALLS.append(("part", n))


def _parts(ctx: Any, items: list[dict[str, Any]]) -> None:
    ns = [item["n"] for item in items]
    if any(n < 0 for n in ns):
        BROKEN_GROUPS.append(ns)
        raise OSError("a group that fails whole")
    PARTS.append(ns)


register("test_parts", _parts)
register("test_part", _part, group="test_parts",
         groupable=lambda args, members: not args.get("solo") and all(m["n"] != args["n"] for m in members))


def test_jobs_waiting_together_run_as_one_group_in_order_and_a_failed_group_runs_them_alone() -> None:
    CALLS.clear()
    PARTS.clear()
    BROKEN_GROUPS.clear()
    jobs, gate = gated_queue("test_gate2")
    for n in (1, 2, 3):
        jobs.enqueue("test_part", n=n)
    jobs.enqueue("test_part", n=3)  # the same item again: its own group, after
    jobs.enqueue("test_echo", n=10)  # another job ends the group, and runs before the parts after it
    jobs.enqueue("test_part", n=4, solo=True)  # never grouped
    jobs.enqueue("test_part", n=5)
    jobs.enqueue("test_part", n=-1)
    gate.set()
    assert jobs.drain(20)
    assert PARTS == [[1, 2, 3]] and BROKEN_GROUPS == [[5, -1]]
    assert CALLS == [("part", 3), ("echo", 10), ("part", 4), ("part", 5), ("part", -1)]
    jobs.stop()


def test_a_group_takes_at_most_group_max_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    from depot.repository.jobs import inprocess

    monkeypatch.setattr(inprocess, "GROUP_MAX", 4)
    PARTS.clear()
    jobs, gate = gated_queue("test_gate3")
    for n in range(10):
        jobs.enqueue("test_part", n=n)
    gate.set()
    assert jobs.drain(20)
    assert PARTS == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    jobs.stop()


@pytest.fixture
def pg_repo(tmp_path: Path, postgres_database: str) -> Iterator[tuple[TestClient, dict[str, str], RepositoryConfig]]:
    config = RepositoryConfig(data_dir=tmp_path / "repo", db_url=postgres_database, queue_url=postgres_database,
                              base_url="http://testserver", user_limit_per_minute=0, user_limit_per_hour=0,
                              search_limit_per_minute=0, fsync=False)
    app = create_app(config)
    with TestClient(app, base_url="http://testserver") as client:
        ctx = app.context  # type: ignore[attr-defined]
        assert not ctx.jobs.in_process
        token = ctx.accounts.create_token(f"q-{tmp_path.name}@example.org", datetime.now(UTC).isoformat())
        yield client, {"Authorization": f"Bearer {token}"}, config


def _jobs(db_url: str) -> list[tuple[str, str, Any]]:
    engine = sa.create_engine(sa.engine.make_url(db_url).set(drivername="postgresql+psycopg"))
    with engine.connect() as conn:
        rows = [(r.task_name, r.status, r.args) for r in conn.execute(sa.text(
            "SELECT task_name, status, args FROM procrastinate_jobs ORDER BY id"))]
    engine.dispose()
    return rows


def test_publish_queues_its_bag_in_its_transaction_and_a_worker_writes_it(pg_repo: Any) -> None:
    client, headers, config = pg_repo
    before = len(_jobs(config.db_url))
    d = client.post("/api/deposit/depositions", json={}, headers=headers).json()
    r = client.post(d["links"]["publish"], headers=headers)  # refused: no metadata, no file
    assert r.status_code == 400
    assert len(_jobs(config.db_url)) == before  # the failed publish queued nothing
    assert client.put(d["links"]["self"], json={"metadata": metadata()}, headers=headers).status_code == 200
    assert put_file(client, headers, d, "a.txt", b"hello bags").status_code == 201
    r = client.post(d["links"]["publish"], headers=headers)
    assert r.status_code == 202, r.text
    recid = r.json()["id"]
    bag_jobs = [j for j in _jobs(config.db_url) if j[0] == "depot.bag" and j[2]["recid"] == recid]
    assert [j[1] for j in bag_jobs] == ["todo"]
    assert bag_jobs[0][2]["state"]["aip"]["record"]["doi"] == r.json()["doi"]
    assert bags_of(config.data_dir / "bags", recid) == []  # the web process wrote no bag
    done = subprocess.run([sys.executable, "-m", "depot", "worker", "--burst", "--data-dir", str(config.data_dir),
                           "--db", config.db_url, "--log-level", "info"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(bags_of(config.data_dir / "bags", recid)) == 1
    assert [j[1] for j in _jobs(config.db_url) if j[0] == "depot.bag" and j[2]["recid"] == recid] == ["succeeded"]
    # The job is idempotent: run again, it finds its bag and writes nothing more.
    engine = sa.create_engine(sa.engine.make_url(config.db_url).set(drivername="postgresql+psycopg"))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE procrastinate_jobs SET status = 'todo' WHERE task_name = 'depot.bag'"))
    engine.dispose()
    done = subprocess.run([sys.executable, "-m", "depot", "worker", "--burst", "--data-dir", str(config.data_dir),
                           "--db", config.db_url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(bags_of(config.data_dir / "bags", recid)) == 1


def test_worker_refuses_without_a_queue(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "depot", "worker", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "no job queue: pass --queue postgresql://" in done.stderr


def test_queue_workers_starting_together_queue_one_scan_and_one_fixity_tick(pg_repo: Any) -> None:
    client, _, config = pg_repo
    from depot.repository.preservation.service import of

    keeper = of(client.app.context)  # type: ignore[attr-defined]
    assert keeper is not None
    for _ in range(3):  # three `depot worker` processes starting at once
        keeper.start_worker()
    waiting = [j[0] for j in _jobs(config.db_url) if j[1] == "todo" and j[0] != "depot.bag"]
    assert sorted(waiting) == ["depot.bag_scan", "depot.fixity_tick"]


def test_a_bulk_batch_runs_on_the_queue_workers_not_in_the_web_process(pg_repo: Any, tmp_path: Path) -> None:
    """With a real queue, POST /api/bulk queues a ``bulk`` job (the web process runs no bulk thread: with
    several web workers, each would resume the same jobs); ``depot worker`` publishes the batch."""
    from depot.deposit.bulkbag import BatchRecord, write_batch

    from conftest import png_image

    client, headers, config = pg_repo
    recs = []
    for i in range(2):
        image = tmp_path / f"Q{i}.png"
        image.write_bytes(png_image(f"Q{i}"))
        key = f"urn:catalog:QB:{i}"
        recs.append(BatchRecord(key, metadata(title=f"Queued {i}", related_identifiers=[
            {"identifier": key, "relation": "isAlternateIdentifier", "scheme": "urn"}]), ((f"Q{i}.png", image),)))
    write_batch(tmp_path / "batch.tar", "queued-1", recs)
    r = client.post("/api/bulk?batch_id=queued-1", content=(tmp_path / "batch.tar").read_bytes(),
                    headers={**headers, "Content-Type": "application/x-tar"})
    assert r.status_code == 202, r.text
    job_url = r.headers["location"]
    assert [j[1] for j in _jobs(config.db_url) if j[0] == "depot.bulk"] == ["todo"]
    assert client.get(job_url, headers=headers).json()["state"] == "received"  # nothing ran it here
    done = subprocess.run([sys.executable, "-m", "depot", "worker", "--burst", "--data-dir", str(config.data_dir),
                           "--db", config.db_url], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    job = client.get(job_url, headers=headers).json()
    assert job["state"] == "done" and job["counts"]["published"] == 2, job
    assert [j[1] for j in _jobs(config.db_url) if j[0] == "depot.bulk"] == ["succeeded"]
