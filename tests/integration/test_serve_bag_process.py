"""`depot serve` writes its bags in a worker process (``bag_processes``): the bag of a publish appears, a
SIGTERM ends the server with 0 and leaves nothing in the temporary folder, and after a kill -9 of the
server its bag process goes too, instead of running for good."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from conftest import free_port

META = {"upload_type": "dataset", "title": "A bagged record", "description": "D", "creators": [{"name": "Doe, J."}],
        "publication_date": "2026-12-03"}


def children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def wait_for(what: str, ok, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not ok():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.1)


def served_and_bagged(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """A server that has published one record and written its bag in its bag process."""
    data, tmp = tmp_path / "repo", tmp_path / "tmp"
    data.mkdir()
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    token = subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "bags@example.org", "--data-dir",
                            str(data)], capture_output=True, text=True, check=True, env=env).stdout.strip()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "depot", "serve", "--port", str(port), "--data-dir", str(data),
                             "--rate-limit", "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api", headers={"Authorization": f"Bearer {token}"}) as api:

            def up() -> bool:
                try:
                    return api.get("/records").status_code == 200
                except httpx.TransportError:
                    return proc.poll() is not None
            wait_for("the server answers", up, 90)
            assert proc.poll() is None
            deposit = api.post("/deposit/depositions", json={"metadata": META}).json()
            assert api.put(deposit["links"]["bucket"] + "/a.txt", content=b"bag me").status_code in (200, 201)
            assert api.post(f"/deposit/depositions/{deposit['id']}/actions/publish").status_code == 202
            wait_for("the bag is written", lambda: any((data / "bags" / str(deposit["id"])).glob("2*")))
    except BaseException:
        proc.kill()
        proc.wait(30)
        raise
    return proc, data, tmp


def test_a_sigterm_ends_the_server_cleanly_with_its_bag_process(tmp_path: Path) -> None:
    proc, _, tmp = served_and_bagged(tmp_path)
    helpers = children(proc.pid)
    assert helpers, "no bag process was started"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    wait_for("the bag process ends", lambda: not any(alive(p) for p in helpers))
    assert not list(tmp.iterdir()), f"left in the temporary folder: {list(tmp.iterdir())}"


def test_a_kill_9_of_the_server_takes_its_bag_process_with_it(tmp_path: Path) -> None:
    proc, _, _ = served_and_bagged(tmp_path)
    helpers = children(proc.pid)
    helpers += [grandchild for child in helpers for grandchild in children(child)]
    assert helpers
    proc.kill()
    proc.wait(30)
    try:
        wait_for("the bag process ends after its server's kill -9", lambda: not any(alive(p) for p in helpers))
    finally:
        for pid in helpers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_bag_process_that_dies_is_replaced_and_the_bag_still_written(tmp_path: Path) -> None:
    """Killed (or out of memory) between two bags: the next bag starts a new process, and the bag whose
    write broke is written by the job's retry, instead of every bag failing until a restart."""
    import io

    from depot.repository.app import build_context
    from depot.repository.config import RepositoryConfig
    from depot.repository.preservation.bags import bags_of
    from depot.repository.preservation.service import of

    ctx = build_context(RepositoryConfig(data_dir=tmp_path / "repo", fixity_cycle=False))
    bags = of(ctx).bags  # type: ignore[union-attr]
    assert bags is not None and ctx.config.bag_processes == 1
    ident = ctx.accounts.identity_for_token(ctx.accounts.create_token("bags@example.org", "2026-12-03"))

    def publish(content: bytes) -> int:
        deposit = ctx.deposits.create(ident, {"metadata": META})
        ctx.files.commit_upload(ident, deposit.bucket_id, "a.txt", ctx.blobs.write_file(io.BytesIO(content)))
        return int(ctx.actions.publish(ident, deposit.id).id)

    try:
        first = publish(b"first")
        assert bags.drain(60) and bags_of(bags.root, first)
        pool = bags._processes.pool
        assert pool is not None
        for pid in list(pool._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        second = publish(b"second")
        assert bags.drain(60)
        assert bags_of(bags.root, second), f"no bag after the bag process died; failures: {bags.failed}"
        assert bags._processes.pool is not None and bags._processes.pool is not pool
    finally:
        ctx.jobs.stop()
        bags.close()
        ctx.deposits.db.dispose()
