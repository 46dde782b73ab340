"""Resumable uploads end to end: tuspy (a third-party tus client) and the depositor's own tus client against
a real `depot serve` on loopback, through a proxy that cuts the connection at random points."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.responses import Response

from depot.deposit.client import RepositoryClient
from depot.deposit.resumable import Resumable

from conftest import Served, serve_repository

MIB = 1024 * 1024


@pytest.fixture(params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    """`depot serve` on loopback, its database SQLite or PostgreSQL, and a token of a new user."""
    if request.param == "sqlite":
        with serve_repository(tmp_path) as s:
            yield s
        return
    from depot.repository.services.accounts import AccountService
    from depot.repository.store.db import Database

    from conftest import start_server

    db_url = str(request.getfixturevalue("postgres_database"))
    data = tmp_path / "repo"
    data.mkdir()
    proc, base = start_server(data, db_url, "--rate-limit", "0", "--search-rate-limit", "0")
    db = Database.open(db_url)
    try:
        token = AccountService(db).create_token(f"museum-{tmp_path.name}@example.org", "2026-01-01T00:00:00+00:00")
        yield Served(base, token, data)
    finally:
        proc.terminate()
        proc.wait(10)
        db.dispose()


def new_deposition(served: Served) -> dict[str, Any]:
    r = httpx.post(f"{served.base}/api/deposit/depositions", json={}, headers=served.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def random_file(path: Path, size: int, seed: int) -> str:
    """A file of ``size`` pseudo-random bytes (written in 8 MiB pieces); returns its md5."""
    rng, md5 = random.Random(seed), hashlib.md5()
    with path.open("wb") as fh:
        left = size
        while left:
            piece = rng.randbytes(min(8 * MIB, left))
            fh.write(piece)
            md5.update(piece)
            left -= len(piece)
    return md5.hexdigest()


def server_files(served: Served, dep: dict[str, Any]) -> list[tuple[str, int, str]]:
    files = httpx.get(dep["links"]["files"], headers=served.headers).json()
    return [(f["filename"], f["filesize"], f["checksum"]) for f in files]


def test_tuspy_uploads_to_depot_serve(served: Served, tmp_path: Path) -> None:
    from tusclient import client as tus

    dep = new_deposition(served)
    source = tmp_path / "sheet.tif"
    md5 = random_file(source, 5 * MIB + 123, seed=1)
    with source.open("rb") as fh:
        uploader = tus.TusClient(f"{served.base}/api/uploads", headers=served.headers).uploader(
            file_stream=fh, chunk_size=MIB, metadata={"bucket": dep["links"]["bucket"].rsplit("/", 1)[1],
                                                      "filename": "sheet.tif"})
        uploader.upload()
    assert server_files(served, dep) == [("sheet.tif", 5 * MIB + 123, md5)]


class CuttingProxy:
    """A TCP proxy to ``target`` that drops the connection once the client has sent each of ``cuts`` bytes
    in all (counted across connections); ``sent`` counts every byte the client sent through it."""

    def __init__(self, target_port: int, cuts: list[int]) -> None:
        self.target_port, self.cuts, self.sent, self.dropped = target_port, sorted(cuts), 0, 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def upstream() -> None:
            while data := await reader.read(256 * 1024):
                if self.cuts and self.sent + len(data) >= self.cuts[0]:
                    keep = self.cuts.pop(0) - self.sent
                    up_writer.write(data[:keep])
                    self.sent += keep
                    self.dropped += 1
                    await up_writer.drain()
                    break
                self.sent += len(data)
                up_writer.write(data)
                await up_writer.drain()
            for w in (up_writer, writer):
                w.transport.abort()

        async def downstream() -> None:
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.transport.abort()

        await asyncio.gather(upstream(), downstream(), return_exceptions=True)


def cut_upload(served: Served, tmp_path: Path, size: int, chunk: int) -> None:
    dep = new_deposition(served)
    source = tmp_path / "big.tif"
    md5 = random_file(source, size, seed=size)
    rng = random.Random(size)
    cuts = sorted(rng.sample(range(size // 20, size - size // 20), 3))
    port = int(served.base.rsplit(":", 1)[1])

    async def go() -> tuple[int, int, int]:
        proxy = CuttingProxy(port, cuts)
        proxy_port = await proxy.start()
        api = f"http://127.0.0.1:{proxy_port}/api"
        async with RepositoryClient(api, served.token) as client:
            resumable = Resumable(client, chunk=chunk)
            create = resumable._create

            async def via_proxy(*args: Any) -> str:  # Location names the server's public URL: route it here too
                return (await create(*args)).replace(served.base, f"http://127.0.0.1:{proxy_port}")

            resumable._create = via_proxy  # type: ignore[method-assign]
            assert await resumable.supported()
            bucket = dep["links"]["bucket"].replace(served.base, f"http://127.0.0.1:{proxy_port}")
            upload = await resumable.upload(bucket, "big.tif", source)
            assert upload.md5 == md5 and upload.size == size
            sent = client.stats.bytes_sent
        assert proxy.server is not None
        proxy.server.close()
        await proxy.server.wait_closed()
        return sent, proxy.dropped, proxy.sent

    body_bytes, dropped, wire_bytes = asyncio.run(go())
    assert dropped == 3
    assert body_bytes <= size + 3 * chunk, (body_bytes, size)
    assert wire_bytes <= size + 3 * chunk + 200_000  # the requests' headers besides
    assert server_files(served, dep) == [("big.tif", size, md5)]
    assert not list((served.data / "uploads").glob("*.part"))


def test_cut_three_times_resumes_from_server_offset(served: Served, tmp_path: Path) -> None:
    cut_upload(served, tmp_path, 48 * MIB + 7, 8 * MIB)


@pytest.mark.slow
def test_cut_1gib_upload_three_times(served: Served, tmp_path: Path) -> None:
    """The issue's test: 1 GiB cut at 3 random points, at most 3 chunks sent twice, md5 intact."""
    cut_upload(served, tmp_path, 1024 * MIB, 32 * MIB)


def test_a_new_process_resumes_a_remembered_upload(served: Served, tmp_path: Path) -> None:
    """The URL handed to ``remember`` is all a later run needs: it resumes from the server's offset."""
    dep = new_deposition(served)
    source = tmp_path / "big.tif"
    size, chunk = 40 * MIB, 8 * MIB
    md5 = random_file(source, size, seed=3)
    remembered: list[str] = []

    async def first() -> None:
        async def remember(url: str) -> None:
            remembered.append(url)

        async with RepositoryClient(f"{served.base}/api", served.token) as client:
            resumable = Resumable(client, chunk=chunk)
            orig = resumable._patch
            calls = 0

            async def patch_twice(*args: Any) -> int:
                nonlocal calls
                calls += 1
                if calls > 2:
                    raise asyncio.CancelledError  # the process dies here
                return await orig(*args)

            resumable._patch = patch_twice  # type: ignore[method-assign]
            with pytest.raises(asyncio.CancelledError):
                await resumable.upload(dep["links"]["bucket"], "big.tif", source, remember=remember)

    async def second() -> int:
        async with RepositoryClient(f"{served.base}/api", served.token) as client:
            upload = await Resumable(client, chunk=chunk).upload(dep["links"]["bucket"], "big.tif", source,
                                                                 known_url=remembered[0])
            assert upload.md5 == md5
            return client.stats.bytes_sent

    asyncio.run(first())
    assert len(remembered) == 1
    assert httpx.head(remembered[0], headers={**served.headers, "Tus-Resumable": "1.0.0"}).headers[
        "Upload-Offset"] == str(2 * chunk)
    assert asyncio.run(second()) == size - 2 * chunk
    assert server_files(served, dep) == [("big.tif", size, md5)]


def test_target_without_tus_gets_a_plain_put(tmp_path: Path) -> None:
    """Zenodo has no /api/uploads: the runner's file step falls back to the bucket PUT."""
    import threading

    import uvicorn

    from depot.repository.app import create_app
    from depot.repository.config import RepositoryConfig

    from conftest import free_port

    port = free_port()
    config = RepositoryConfig(data_dir=tmp_path / "repo", user_limit_per_minute=0, user_limit_per_hour=0,
                              base_url=f"http://127.0.0.1:{port}")
    inner = create_app(config)

    async def no_tus(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/uploads"):
            await Response(b'{"status": 404}', 404)(scope, receive, send)
            return
        await inner(scope, receive, send)

    server = uvicorn.Server(uvicorn.Config(no_tus, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            if server.started:
                break
            thread.join(0.05)
        token = inner.context.accounts.create_token("m@example.org", "2026-01-01T00:00:00+00:00")
        dep = httpx.post(f"{base}/api/deposit/depositions", json={},
                         headers={"Authorization": f"Bearer {token}"}).json()
        source = tmp_path / "big.bin"
        md5 = random_file(source, 3 * MIB, seed=4)

        async def go() -> tuple[bool, Any]:
            from depot.deposit.ledger import FileRow
            from depot.deposit.progress import Stats
            from depot.deposit.run_settings import RunSettings
            from depot.deposit.runner import Runner

            from conftest import planned_ledger

            ledger = planned_ledger(tmp_path, 1, "FALLBACK")
            async with RepositoryClient(f"{base}/api", token) as client:
                runner = Runner(ledger, client, RunSettings(resumable_threshold=MIB), Stats())
                supported = await runner.resumable.supported()
                spec = FileRow("big.bin", str(source), None, None, None, False, None)
                upload = await runner._send("urn:catalog:FALLBACK:0", dep["links"]["bucket"], spec)
                await runner.ledger.close()
                return supported, upload

        supported, upload = asyncio.run(go())
        assert supported is False
        assert upload.md5 == md5 and upload.reply.status == 201  # the PUT's answer
    finally:
        server.should_exit = True
        thread.join(10)



def test_kill_9_of_depot_run_during_a_tus_upload_then_rerun_resumes(served: Served, tmp_path: Path,
                                                                   request: pytest.FixtureRequest) -> None:
    """`depot run` killed (SIGKILL) once the server holds part of a large file; the rerun resumes the same
    upload (one upload created on the server, none left open) and the record is published with the md5.
    On SQLite and PostgreSQL."""
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    side = 9000  # 81 MB of raw grayscale PNG: three 32 MiB PATCHes
    Image.frombytes("L", (side, side), random.Random(9).randbytes(side * side)).save(
        images / "K00001.png", compress_level=0)
    big = images / "K00001.png"
    md5 = hashlib.md5(big.read_bytes()).hexdigest()
    csv = tmp_path / "specimens.csv"
    csv.write_text("occurrenceID,catalogNumber,scientificName,institutionCode\n"
                   "urn:catalog:KILL:1,K00001,Fucus vesiculosus L.,KILL\n", encoding="utf-8")
    ledger = tmp_path / "ledger.sqlite3"
    args = [sys.executable, "-m", "depot", "run", str(csv), "--images", str(images), "--path-template",
            "{images}/{catalogNumber}.png", "--profile", "specimen", "--var", "license=cc-by-4.0",
            "--target", f"{served.base}/api", "--ledger", str(ledger), "--progress", "quiet",
            "--resumable-threshold-mb", "1"]
    runner = subprocess.Popen(args, env=served.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, offset = time.monotonic() + 240, 0
    try:
        while time.monotonic() < deadline and runner.poll() is None:
            url = None
            if ledger.exists():
                with contextlib.suppress(sqlite3.OperationalError), sqlite3.connect(ledger) as db:
                    row = db.execute("SELECT url FROM resumable_uploads").fetchone()
                    url = row[0] if row else None
            if url:
                head = httpx.head(url, headers={**served.headers, "Tus-Resumable": "1.0.0"})
                offset = int(head.headers.get("Upload-Offset", 0))
                if 0 < offset < big.stat().st_size:
                    break
            time.sleep(0.05)
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)
    assert 0 < offset < big.stat().st_size, "the run was not caught mid-upload"
    rerun = subprocess.run(args, env=served.env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    sqlite_store = served.data / "repository.sqlite3"
    url = f"sqlite:///{sqlite_store}" if sqlite_store.exists() else str(
        request.getfixturevalue("postgres_database"))
    engine = sa.create_engine(sa.engine.make_url(url).set(drivername="postgresql+psycopg")
                              if url.startswith("postgres") else url)
    with engine.connect() as conn:  # the PostgreSQL store is shared by the session's tests: this file's size only
        uploads = [(r[0], r[1], bool(r[2])) for r in conn.execute(sa.text(
            "SELECT received, length, finished IS NOT NULL FROM uploads WHERE length = :n"),
            {"n": big.stat().st_size}).all()]
    engine.dispose()
    assert uploads == [(big.stat().st_size, big.stat().st_size, True)]  # one upload, resumed and finished
    with sqlite3.connect(ledger) as db:
        assert db.execute("SELECT count(*) FROM resumable_uploads").fetchone() == (0,)
        assert db.execute("SELECT state FROM specimens").fetchall() == [("published",)]
        record_id = db.execute("SELECT record_id FROM specimens").fetchone()[0]
    record = httpx.get(f"{served.base}/api/records/{record_id}").json()
    assert [f["checksum"] for f in record["files"]] == [f"md5:{md5}"]
