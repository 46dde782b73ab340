"""Storage never shows a partial file; a killed upload leaves only a temporary file, removed at start-up."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from depot.repository.store.blobs import BlobStore, BlobTooLargeError

from conftest import start_server


def test_stream_is_hashed_and_renamed_into_place(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    async def chunks():  # type: ignore[no-untyped-def]
        yield b"4, 5"
        yield b", 6"

    blob = asyncio.run(store.write_stream(chunks()))
    assert blob.md5 == "c2d626f8beba73ad0cf4e66214f7d949" and blob.size == 7
    assert store.path(blob.uri).read_bytes() == b"4, 5, 6"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_small_stream_is_created_written_and_hashed_off_the_event_loop(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The event loop serves every other request meanwhile: a small body's file is created, written, hashed,
    synced and renamed in one trip to a thread, never on the loop."""
    import threading

    from depot.repository.store import blobs

    store = BlobStore(tmp_path)
    created_on: list[int] = []
    real = blobs._create_private
    monkeypatch.setattr(blobs, "_create_private", lambda path: (created_on.append(threading.get_ident()),
                                                                real(path))[1])
    body = os.urandom(100_000)

    async def main() -> tuple[object, int]:
        async def chunks():  # type: ignore[no-untyped-def]
            for i in range(0, len(body), 65536):
                yield body[i:i + 65536]
        return await store.write_stream(chunks()), threading.get_ident()

    blob, loop_thread = asyncio.run(main())
    assert created_on and loop_thread not in created_on
    assert store.path(blob.uri).read_bytes() == body  # type: ignore[attr-defined]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_an_empty_stream_is_an_empty_blob(tmp_path: Path) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        return
        yield b""

    blob = asyncio.run(BlobStore(tmp_path).write_stream(chunks()))
    assert blob.size == 0 and blob.md5 == "d41d8cd98f00b204e9800998ecf8427e"


def test_a_stream_cut_after_its_first_batch_leaves_nothing(tmp_path: Path) -> None:
    from depot.repository.store.pour import BATCH

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(BATCH // 65536 + 3):
            yield b"y" * 65536
        raise ConnectionResetError("cut")

    with pytest.raises(ConnectionResetError):
        asyncio.run(BlobStore(tmp_path).write_stream(chunks()))
    assert list((tmp_path / "tmp").iterdir()) == []
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []


def test_too_large_stream_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b"x" * 100

    with pytest.raises(BlobTooLargeError):
        asyncio.run(store.write_stream(chunks(), limit=500))
    assert list((tmp_path / "tmp").iterdir()) == []
    assert [p for p in (tmp_path / "files").rglob("*") if p.is_file()] == []


def test_killed_upload_is_cleaned_at_start(tmp_path: Path) -> None:
    """kill -9 the server in the middle of a slow upload: no stored file, and the .part is cleaned up."""
    data = tmp_path / "repo"
    data.mkdir()
    proc, base = start_server(data, None, "--rate-limit", "0")
    from depot.repository.services.accounts import AccountService
    from depot.repository.store.db import Database

    db = Database.open(f"sqlite:///{data / 'repository.sqlite3'}")
    token = AccountService(db).create_token("k@example.org", "2026-01-01T00:00:00+00:00")
    h = {"Authorization": f"Bearer {token}"}
    dep = httpx.post(base + "/api/deposit/depositions", json={}, headers=h).json()

    from depot.repository.store.pour import BATCH

    def slow_body():  # type: ignore[no-untyped-def]
        # past one batch, so that the server has begun its file (a smaller body is kept in memory until it
        # has all arrived, and a kill then leaves nothing at all)
        for _ in range(BATCH // 65536 + 2):
            yield b"a" * 65536
        deadline = time.monotonic() + 30
        while not list((data / "tmp").glob("*.part")) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        yield b"b" * 65536

    length = (BATCH // 65536 + 3) * 65536
    with pytest.raises(httpx.TransportError):
        httpx.put(f"{dep['links']['bucket']}/big.tif", content=slow_body(),
                  headers={**h, "Content-Type": "application/octet-stream", "Content-Length": str(length)})
    proc.wait(10)
    assert len(list((data / "tmp").glob("*.part"))) == 1
    assert [p for p in (data / "files").rglob("*") if p.is_file()] == []
    proc2, base2 = start_server(data, None, "--rate-limit", "0")
    try:
        assert list((data / "tmp").glob("*.part")) == []
        r = httpx.get(f"{base2}/api/deposit/depositions/{dep['id']}/files", headers=h)
        assert r.status_code == 200 and r.json() == []
    finally:
        proc2.terminate()
        proc2.wait(10)
        db.dispose()


def test_cli_create_token_prints_only_the_token(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "cli@example.org",
                          "--data-dir", str(tmp_path)], capture_output=True, text=True, check=True)
    token = out.stdout.strip()
    assert "\n" not in token and len(token) >= 40
    bad = subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "not-an-email",
                          "--data-dir", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode != 0 and "e-mail" in bad.stderr and bad.stdout == ""
    out = subprocess.run([sys.executable, "-m", "depot", "repo", "create-community", "belgiumherbarium",
                          "--owner", "cli@example.org", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, check=True)
    assert len(out.stdout.strip()) == 36
    again = subprocess.run([sys.executable, "-m", "depot", "repo", "create-community", "belgiumherbarium",
                            "--owner", "cli@example.org", "--data-dir", str(tmp_path)], capture_output=True, text=True)
    assert again.returncode != 0 and "already exists" in again.stderr
