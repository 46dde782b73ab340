"""Shared bench plumbing: a real `depot serve` on loopback, tokens, medians, a table printer."""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class Server:
    base: str
    token: str
    data_dir: Path
    proc: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(*args: str, db_url: str | None = None, data_dir: Path | None = None,
          env: dict[str, str] | None = None) -> Iterator[Server]:
    """Start `depot serve` with a user and token: in ``data_dir`` (one a bench prepared) or a temporary
    one, on SQLite unless ``db_url``; ``env`` adds DEPOT_* settings."""
    with tempfile.TemporaryDirectory(prefix="depot-bench-") as tmp:
        data = data_dir or Path(tmp)
        extra = ["--db", db_url] if db_url else []
        token = subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "bench@example.org",
                                "--data-dir", str(data), *extra], capture_output=True, text=True,
                               check=True, env={**os.environ, **(env or {})}).stdout.strip()
        port = free_port()
        log = (data / "serve.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "depot", "serve", "--port", str(port), "--data-dir",
                                 str(data), *extra, *args], stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    httpx.get(base + "/api/communities", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield Server(base, token, data, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(60)  # it finishes writing its bags first
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def fresh_postgres_url() -> str | None:
    """A new empty PostgreSQL database if DEPOT_TEST_POSTGRES_URL is set (dropped at exit: no)."""
    admin = os.environ.get("DEPOT_TEST_POSTGRES_URL")
    if not admin:
        return None
    import uuid

    import sqlalchemy as sa

    url = sa.engine.make_url(admin).set(drivername="postgresql+psycopg")
    name = f"depot_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


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

