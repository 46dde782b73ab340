"""Shared bench plumbing: a real `depot serve` (or the yardstick) on loopback, tokens, sizes, medians, a table.

Sizes: every bench has a full size (the figures to quote), ``--quick`` (fewer records and rounds) and a smoke
size (``python -m bench NAME --smoke`` or DEPOT_BENCH_SMOKE=1: the least that still runs every step, so
that tests/test_bench_smoke.py can run each bench in seconds; its figures mean nothing).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
START_S = 60  # for a server to answer (a loaded machine imports slowly)
STOP_S = 90  # for `depot serve` to exit after SIGTERM: it gives its bag worker up to 30 s to finish
IDLE_S = 600  # for a repository's background work (bags) to finish


class BenchError(Exception):
    """A bench could not run (a server that does not start, a repository that never gets idle)."""


def smoke() -> bool:
    """True in a smoke run (``--smoke`` or DEPOT_BENCH_SMOKE=1)."""
    return os.environ.get("DEPOT_BENCH_SMOKE", "").strip().lower() not in ("", "0", "false", "no")


def sized(quick: bool, full: T, short: T, tiny: T) -> T:
    """The bench's size: ``tiny`` in a smoke run, ``short`` with --quick, else ``full``."""
    return tiny if smoke() else short if quick else full


@dataclass
class Server:
    """A server under load: `depot serve` (``admin`` set: its backlog can be asked) or the yardstick."""

    base: str
    token: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    name: str = "depot serve"
    admin: str | None = field(default=None, repr=False)

    def backlog(self) -> dict[str, Any]:
        """The repository's background work: ``{"queued": bags not yet written (the one being written
        included), "written": bags written since start, "failed": [...]}``; zeros for a server without bags."""
        if self.admin is None:
            return {"queued": 0, "written": 0, "failed": []}
        reply = httpx.get(f"{self.base}/api/admin/fixity", headers={"Authorization": f"Bearer {self.admin}"},
                          timeout=30)
        reply.raise_for_status()
        return reply.json()["bags"] or {"queued": 0, "written": 0, "failed": []}

    def wait_idle(self, timeout: float = IDLE_S) -> dict[str, Any]:
        """Block until every queued bag is written (polling the admin endpoint); the last backlog seen."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.backlog()
            if not state["queued"]:
                return state
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name} still had {state['queued']} bag(s) queued after {timeout:.0f} s "
                                 f"(log: {self.data_dir / 'serve.log'})")
            time.sleep(0.1)


def family(pid: int) -> list[int]:
    """``pid`` and its live descendants (a server's bag writer, a depositor's image checkers and forkserver)."""
    out = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out += family(int(child))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, name: str) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with {proc.returncode} at start-up: "
                             f"{log.read_text(errors='replace')[-2000:]}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise BenchError(f"{name} did not answer {url} within {START_S} s (log: {log})")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and wait for the process to exit (killing it if it will not), so that nothing writes into
    its data folder once the folder is removed."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_S)
        except subprocess.TimeoutExpired:
            print(f"  (server {proc.pid} ignored SIGTERM for {STOP_S} s: killed)", file=sys.stderr)
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def _data_folder(data_dir: Path | None, prefix: str) -> Iterator[Path]:
    if data_dir is not None:
        yield data_dir
    else:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            yield Path(tmp)


@contextlib.contextmanager
def serve(*args: str, db_url: str | None = None, data_dir: Path | None = None,
          env: dict[str, str] | None = None) -> Iterator[Server]:
    """Start `depot serve` with a user and token: in ``data_dir`` (one a bench prepared) or a temporary
    one, on SQLite unless ``db_url``; ``env`` adds DEPOT_* settings. An admin token is set, so that
    ``Server.backlog`` and ``wait_idle`` can read the bag queue."""
    with _data_folder(data_dir, "depot-bench-") as data:
        extra = ["--db", db_url] if db_url else []
        made = subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "bench@example.org",
                               "--data-dir", str(data), *extra], capture_output=True, text=True,
                              env={**os.environ, **(env or {})})
        if made.returncode != 0:
            raise BenchError(f"depot repo create-token failed ({made.returncode}): {made.stderr[-2000:]}")
        token = made.stdout.strip()
        admin = secrets.token_hex(16)
        port = free_port()
        log_path = data / "serve.log"
        name = "depot serve" + (" (PostgreSQL)" if db_url else " (SQLite)")
        with log_path.open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "depot", "serve", "--port", str(port), "--data-dir",
                                     str(data), *extra, *args], stdout=log, stderr=subprocess.STDOUT,
                                    env={**os.environ, "DEPOT_ADMIN_TOKEN": admin, **(env or {})})
            try:
                base = f"http://127.0.0.1:{port}"
                _wait_ready(base + "/api/communities", proc, log_path, name)
                yield Server(base, token, data, proc, name, (env or {}).get("DEPOT_ADMIN_TOKEN", admin))
            finally:
                _stop(proc)


def yardstick_dir() -> Path:
    """The yardstick server (``ideal_repo.py``): DEPOT_YARDSTICK, else ../shared/yardstick beside the clone."""
    return Path(os.environ.get("DEPOT_YARDSTICK") or ROOT.parent / "shared" / "yardstick").resolve()


def have_yardstick() -> bool:
    return (yardstick_dir() / "ideal_repo.py").is_file()


@contextlib.contextmanager
def serve_yardstick() -> Iterator[Server]:
    """The least work a repository must do per record (see its README), on loopback: create, PUT and
    publish only, no auth (any token does)."""
    folder = yardstick_dir()
    if not (folder / "ideal_repo.py").is_file():
        raise BenchError(f"no yardstick at {folder} (set DEPOT_YARDSTICK to the folder holding ideal_repo.py)")
    with tempfile.TemporaryDirectory(prefix="depot-bench-yardstick-") as tmp:
        data = Path(tmp)
        port = free_port()
        log_path = data / "serve.log"
        with log_path.open("wb") as log:
            # bench.yardstick_app: the yardstick plus the preflight `depot run` sends (no work per record)
            path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
            proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--app-dir", str(folder),
                                     "bench.yardstick_app:app", "--host", "127.0.0.1", "--port", str(port),
                                     "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                    env={**os.environ, "DATA": str(data), "PYTHONPATH": path})
            try:
                base = f"http://127.0.0.1:{port}"
                _wait_ready(base + "/api/records", proc, log_path, "the yardstick")
                yield Server(base, "yardstick", data, proc, "yardstick")
            finally:
                _stop(proc)


@contextlib.contextmanager
def fresh_postgres() -> Iterator[str | None]:
    """A new empty PostgreSQL database if DEPOT_TEST_POSTGRES_URL is set (dropped afterwards), else None."""
    admin = os.environ.get("DEPOT_TEST_POSTGRES_URL")
    if not admin:
        yield None
        return
    import uuid

    import sqlalchemy as sa

    url = sa.engine.make_url(admin).set(drivername="postgresql+psycopg")
    name = f"depot_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def progress(row: list[object]) -> None:
    """One measured row on standard error at once, so that a long run cut short keeps what it measured."""
    print("  ".join(str(x) for x in row), file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    for row in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)))


def noise_png(side: int, seed: object = None) -> bytes:
    """A real greyscale PNG of side x side random pixels (about side² bytes, as noise does not compress):
    it passes the depositor's image checks, where a PNG signature followed by random bytes would not."""
    import io
    import random

    from PIL import Image

    rng = random.Random(None if seed is None else str(seed))
    out = io.BytesIO()
    Image.frombytes("L", (side, side), rng.randbytes(side * side)).save(out, "PNG")
    return out.getvalue()

