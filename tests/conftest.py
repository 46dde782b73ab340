"""Shared fixtures: repository backends (SQLite, PostgreSQL) reached in-process or over loopback.

PostgreSQL tests need DEPOT_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test). Without it
they skip, unless DEPOT_REQUIRE_SERVICES=1 (as in .ci/run), where a missing server fails them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from depot.repository.app import create_app
from depot.repository.config import RepositoryConfig
from depot.repository.services.accounts import AccountService
from depot.repository.store.db import Database

REPO_ROOT = Path(__file__).resolve().parents[1]
# Real museum data, copied from the shared corpus with its provenance (tests/data/README.md).
CORPUS = Path(os.environ.get("DEPOT_CORPUS", REPO_ROOT / "tests" / "data" / "corpus"))
REQUIRE_SERVICES = os.environ.get("DEPOT_REQUIRE_SERVICES") == "1"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def require_browser() -> None:
    """Headless-browser tests need Debian's chromium and chromium-driver: skip without them on a user's
    machine, fail under DEPOT_REQUIRE_SERVICES=1 (.ci/run installs them)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        message = f"headless browser tests need {' and '.join(missing)} (Debian packages chromium, chromium-driver)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def corpus() -> Path:
    """The corpus folder; it ships with the tests, so a missing one is a broken checkout, not a skip."""
    assert CORPUS.is_dir(), f"corpus not found at {CORPUS} (it ships in tests/data/corpus; or set DEPOT_CORPUS)"
    return CORPUS


def postgres_admin_url() -> str | None:
    url = os.environ.get("DEPOT_TEST_POSTGRES_URL")
    if url is None:
        if REQUIRE_SERVICES:
            pytest.fail("DEPOT_REQUIRE_SERVICES=1 but DEPOT_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL not configured: set DEPOT_TEST_POSTGRES_URL to run these tests")
    return url


def redis_url() -> str:
    """The Redis for shared rate limits (DEPOT_TEST_REDIS_URL; CI: redis://127.0.0.1:6379/5), or a skip."""
    url = os.environ.get("DEPOT_TEST_REDIS_URL")
    if url is None:
        if REQUIRE_SERVICES:
            pytest.fail("DEPOT_REQUIRE_SERVICES=1 but DEPOT_TEST_REDIS_URL is not set")
        pytest.skip("Redis not configured: set DEPOT_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/5) to run these tests")
    return url


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    admin = postgres_admin_url()
    assert admin is not None
    admin_url = sa.engine.make_url(admin).set(drivername="postgresql+psycopg")
    name = f"depot_test_{uuid.uuid4().hex[:10]}"
    try:
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        if REQUIRE_SERVICES:
            raise
        pytest.skip(f"PostgreSQL at {admin} is not reachable: {exc}")
    yield admin_url.set(database=name).render_as_string(hide_password=False)
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


@contextlib.contextmanager
def own_postgres(prefix: str) -> Iterator[str]:
    """An empty PostgreSQL database of one test's own (the session's is shared), dropped afterwards."""
    admin = sa.engine.make_url(postgres_admin_url()).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A depositor's ledger location: a SQLite file, or an empty PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.sqlite3")
        return
    with own_postgres("depot_ledger") as url:
        yield url


def _db_url(kind: str, tmp: Path, request: pytest.FixtureRequest) -> str | None:
    if kind == "sqlite":
        return None  # default: SQLite in the data dir
    return str(request.getfixturevalue("postgres_database"))


@dataclass
class Api:
    """One repository under test: an httpx client and a way to mint users' tokens."""

    client: httpx.Client
    accounts: AccountService
    config: RepositoryConfig

    def token(self, email: str | None = None, scopes: tuple[str, ...] | None = None) -> str:
        """A new token of ``email`` (a new user by default) with ``scopes`` (by default: both deposit scopes)."""
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.org"
        if scopes is None:
            return self.accounts.create_token(email, datetime.now(UTC).isoformat())
        return self.accounts.create_token(email, datetime.now(UTC).isoformat(), scopes=scopes)

    def auth(self, email: str | None = None, scopes: tuple[str, ...] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(email, scopes)}"}


def png_image(seed: object, size: int = 128) -> bytes:
    """A small real PNG whose pixels depend on ``seed``: it decodes, passes the image checks (100 x 100 pixels
    at least) and differs from every other seed's, as each specimen's scan does."""
    import io
    import random

    from PIL import Image

    rng = random.Random(str(seed))
    out = io.BytesIO()
    Image.frombytes("L", (size, size), rng.randbytes(size * size)).save(out, "PNG")
    return out.getvalue()


def specimen_table(folder: Path, n: int, prefix: str) -> tuple[Path, Path]:
    """``folder``/specimens.csv and ``folder``/images with ``n`` specimens, each with a distinct PNG: keys
    urn:catalog:<prefix>:<i>, catalogue numbers <prefix's first letter><i:05d>, institution <prefix>."""
    images = folder / "images"
    images.mkdir()
    rows = ["occurrenceID,catalogNumber,scientificName,institutionCode"]
    for i in range(n):
        (images / f"{prefix[0]}{i:05d}.png").write_bytes(png_image(i))
        rows.append(f"urn:catalog:{prefix}:{i},{prefix[0]}{i:05d},Fucus vesiculosus L.,{prefix}")
    csv = folder / "specimens.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return csv, images


def planned_ledger(tmp_path: Path, n: int, prefix: str) -> Any:
    """A SQLite ledger in ``tmp_path`` with ``n`` one-image specimens planned (keys urn:catalog:PREFIX:i),
    for tests that drive the runner or the job directly, past the source and the verdict."""
    from depot.deposit.ledger import Ledger

    images = tmp_path / "images"
    images.mkdir()
    for i in range(n):
        (images / f"S{i:03d}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes([i]) * 300)
    ledger = Ledger.open(tmp_path / "ledger.sqlite3")
    ledger.plan(one_image_records(images, n, prefix))
    return ledger


def one_image_records(images: Path, n: int, prefix: str) -> list[Any]:
    """The records ``planned_ledger`` plans, for its images (to plan them again after a change)."""
    from depot.deposit.models import FileSpec, PlannedRecord

    records = []
    for i in range(n):
        path = images / f"S{i:03d}.png"
        key = f"urn:catalog:{prefix}:{i}"
        records.append(PlannedRecord(key, {
            "title": f"Specimen {i} of Fucus vesiculosus", "upload_type": "image", "image_type": "photo",
            "description": "A herbarium sheet.", "creators": [{"name": "Test Herbarium"}], "license": "cc-by-4.0",
            "related_identifiers": [{"identifier": key, "relation": "isAlternateIdentifier", "scheme": "other"}],
        }, (FileSpec(str(path), path.name),)))
    return records


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


START_S = 90  # a deadline, not a wait: `--workers 2` starts three interpreters, slow on a loaded machine


def start_server(data_dir: Path, db_url: str | None, *extra: str,
                 port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Run ``depot serve`` on a free loopback port (or ``port``); returns the process and its base URL."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "depot", "serve", "--port", str(port), "--data-dir", str(data_dir), *extra]
    if db_url:
        cmd += ["--db", db_url]
    log = data_dir / "serve.log"
    with log.open("ab") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            proc.wait()
            raise RuntimeError(f"depot serve exited: {log.read_text()}")
        try:
            httpx.get(base + "/api/records", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    proc.wait(30)  # reaped here: an unreaped process warns in a later test (PytestUnraisableExceptionWarning)
    raise RuntimeError(f"depot serve did not start within {START_S} s: {log.read_text()[-2000:]}")


class ServerPool:
    """The `depot serve` processes of the `api` fixture's loopback and workers variants, one of each per test
    process (xdist worker), started when first asked for: a start costs 1-2 s, and 5-10 s for three
    interpreters of `--workers 2` on a loaded machine, which once per test made the contract suite the
    largest share of CI time. Tests share them as they share the session's PostgreSQL database: each test
    mints its own user, and a check of stored state compares it with the state before the test ran."""

    def __init__(self, root: Path, request: pytest.FixtureRequest) -> None:
        self.root, self.request = root, request
        self.servers: dict[str, tuple[subprocess.Popen[bytes], str, RepositoryConfig]] = {}

    def get(self, variant: str) -> tuple[str, RepositoryConfig]:
        if variant not in self.servers:
            mode, kind = variant.split("-")
            db_url = None if kind == "sqlite" else str(self.request.getfixturevalue("postgres_database"))
            config = _api_config(self.root / variant, db_url)
            limits = ["--rate-limit", "0", "--search-rate-limit", "0"]
            if mode == "workers":
                limits = ["--workers", "2", "--rate-limit", "1000000/10000000", "--search-rate-limit", "1000000",
                          "--rate-limit-storage", redis_url()]
            proc, base = start_server(config.data_dir, db_url, *limits)
            self.servers[variant] = (proc, base, config)
        _, base, config = self.servers[variant]
        return base, config

    def close(self) -> None:
        for proc, _, _ in self.servers.values():
            proc.terminate()
        for proc, _, _ in self.servers.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[ServerPool]:
    pool = ServerPool(tmp_path_factory.mktemp("servers"), request)
    yield pool
    pool.close()


def _api_config(data_dir: Path, db_url: str | None) -> RepositoryConfig:
    config = RepositoryConfig(data_dir=data_dir, db_url=db_url, base_url="http://testserver",
                              user_limit_per_minute=0, user_limit_per_hour=0, search_limit_per_minute=0)
    config.data_dir.mkdir(parents=True)
    return config


@pytest.fixture(params=["inprocess-sqlite", "inprocess-postgres", "loopback-sqlite", "loopback-postgres",
                        "workers-postgres"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """One repository: in this process (new for each test) or `depot serve` over loopback (shared by the
    test process's tests: `ServerPool`), on SQLite or PostgreSQL; "workers" is `depot serve --workers 2` on
    PostgreSQL with its rate limits counted in Redis (set high: every request counts there, none is refused)."""
    mode, kind = request.param.split("-")
    if mode == "inprocess":
        from starlette.testclient import TestClient

        config = _api_config(tmp_path / "repo", _db_url(kind, tmp_path, request))
        app = create_app(config)
        with TestClient(app, base_url="http://testserver") as client:
            yield Api(client, app.context.accounts, config)  # type: ignore[attr-defined]
        return
    base, config = request.getfixturevalue("server_pool").get(request.param)
    db = Database.open(config.database_url)
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            yield Api(client, AccountService(db), config)
    finally:
        db.dispose()


@dataclass
class Served:
    """A `depot serve` on loopback with a user whose token is in ``env`` (DEPOT_TOKEN) and ``headers``."""

    base: str
    token: str
    data: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DEPOT_TOKEN": self.token}

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextlib.contextmanager
def serve_repository(tmp_path: Path, *extra: str) -> Iterator[Served]:
    """`depot serve` in tmp_path/repo without rate limits (plus ``extra`` flags), and a token minted by the CLI."""
    data = tmp_path / "repo"
    data.mkdir(exist_ok=True)
    proc, base = start_server(data, None, "--rate-limit", "0", "--search-rate-limit", "0", *extra)
    try:
        token = subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "museum@example.org",
                                "--data-dir", str(data)], capture_output=True, text=True, check=True).stdout.strip()
        yield Served(base, token, data)
    finally:
        proc.terminate()
        proc.wait(10)
