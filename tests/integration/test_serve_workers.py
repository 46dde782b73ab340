"""`depot serve --workers N`: refused where it would be wrong (SQLite, rate limits in memory); with Redis, N
workers enforce one rate limit; start-up work is safe with several processes."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest

from depot.repository.store.blobs import BlobStore
from depot.repository.store.keyfiles import load_or_create

from conftest import redis_url, start_server


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "depot", "serve", *args], capture_output=True, text=True,
                          timeout=60)


def test_several_workers_on_sqlite_are_refused(tmp_path: Path) -> None:
    done = _serve("--workers", "2", "--data-dir", str(tmp_path), "--rate-limit", "0", "--search-rate-limit", "0")
    assert done.returncode == 1
    assert "--workers 2 needs a PostgreSQL database (--db postgresql://" in done.stderr
    assert "Traceback" not in done.stderr


def test_several_workers_with_rate_limits_in_memory_are_refused(tmp_path: Path, postgres_database: str) -> None:
    done = _serve("--workers", "3", "--data-dir", str(tmp_path), "--db", postgres_database)
    assert done.returncode == 1
    assert "--workers 3 with rate limits counted in memory" in done.stderr
    assert "--rate-limit-storage redis://" in done.stderr


def test_two_workers_enforce_one_rate_limit_through_redis(tmp_path: Path, postgres_database: str) -> None:
    data = tmp_path / "repo"
    data.mkdir()
    log = tmp_path / "access.jsonl"
    limit = 20
    proc, base = start_server(data, postgres_database, "--workers", "2", "--rate-limit", f"{limit}/0",
                              "--search-rate-limit", "0", "--rate-limit-storage", redis_url(),
                              "--access-log", str(log))
    try:
        statuses: list[int] = []
        lock = threading.Lock()

        def one(_: int) -> None:
            with httpx.Client(timeout=30) as fresh:  # a new connection each: the kernel picks the worker
                got = fresh.get(base + "/api/communities").status_code
            with lock:
                statuses.append(got)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(3 * limit)))
    finally:
        proc.terminate()
        proc.wait(30)
    # (start_server's readiness probe is a record search, under the search limit, which is off here)
    served = [x for x in map(orjson.loads, log.read_text().splitlines()) if x["path"] == "/api/communities"]
    assert len({x["pid"] for x in served}) == 2, "both workers answered requests"
    assert statuses.count(200) == limit, statuses  # one limit for both: in memory each would allow 20
    assert statuses.count(429) == 2 * limit


def test_key_files_and_part_cleanup_are_safe_with_several_processes(tmp_path: Path) -> None:
    """Many processes making the same key at once all get the one key written whole; a starting process leaves
    another's upload in progress alone and removes a dead one's."""
    script = ("import sys; from pathlib import Path; from depot.repository.store.keyfiles import load_or_create;"
              "sys.stdout.write(load_or_create(Path(sys.argv[1])).hex())")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "k.key")], stdout=subprocess.PIPE,
                              text=True) for _ in range(8)]
    keys = {p.communicate(timeout=60)[0] for p in procs}
    assert len(keys) == 1 and len(next(iter(keys))) == 64
    assert load_or_create(tmp_path / "k.key").hex() == next(iter(keys))
    assert [p.name for p in tmp_path.iterdir()] == ["k.key"]  # no temporary file left

    store = BlobStore(tmp_path / "data", fsync=False)
    dead = store.tmp_root / "dead.part"
    dead.write_bytes(b"left by a crash")
    from depot.repository.store.blobs import _create_private

    live = _create_private(store.tmp_root / "live.part")  # being written (and locked) by a live upload
    try:
        cleaner = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                                  "from depot.repository.store.blobs import BlobStore; "
                                  "print(BlobStore(Path(sys.argv[1]), fsync=False).clean_temporary())",
                                  str(tmp_path / "data")], capture_output=True, text=True, timeout=60)
        assert cleaner.stdout.strip() == "1"
        assert sorted(p.name for p in store.tmp_root.iterdir()) == ["live.part"]
    finally:
        live.close()
    assert store.clean_temporary() == 1  # its writer is gone now


@pytest.mark.parametrize("n", [2])
def test_two_workers_serve_a_publish_and_a_queue_worker_bags_it(tmp_path: Path, postgres_database: str,
                                                                 n: int) -> None:
    from contract.payloads import metadata

    data = tmp_path / "repo"
    data.mkdir()
    token = subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "w@example.org", "--data-dir",
                            str(data), "--db", postgres_database], capture_output=True, text=True,
                           check=True).stdout.strip()
    proc, base = start_server(data, postgres_database, "--workers", str(n), "--rate-limit", "0",
                              "--search-rate-limit", "0")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=base, timeout=30, headers=headers) as client:
            d = client.post("/api/deposit/depositions", json={"metadata": metadata()}).json()
            assert client.put(f"{d['links']['bucket']}/a.txt", content=b"several workers").status_code in (200, 201)
            r = client.post(d["links"]["publish"])
            assert r.status_code == 202, r.text
            recid = r.json()["id"]
    finally:
        proc.terminate()
        proc.wait(30)
    from depot.repository.preservation.bags import bags_of

    assert bags_of(data / "bags", recid) == []  # queued, not written by a web worker
    done = subprocess.run([sys.executable, "-m", "depot", "worker", "--burst", "--data-dir", str(data), "--db",
                           postgres_database], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(bags_of(data / "bags", recid)) == 1
