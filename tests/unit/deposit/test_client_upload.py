"""The client's upload: read and hashed on a thread, never on the event loop, in one trip for a small file
and streamed for a large one; what it reports matches what the repository stored."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_runner import serve

from depot.deposit import client as client_module
from depot.deposit.client import CHUNK, RepositoryClient, Upload


class Recorded:
    """An md5 that notes the thread of every update."""

    def __init__(self, threads: list[str]) -> None:
        self.inner = hashlib.md5()
        self.threads = threads

    def update(self, data: bytes) -> None:
        self.threads.append(threading.current_thread().name)
        self.inner.update(data)

    def hexdigest(self) -> str:
        return self.inner.hexdigest()


@pytest.mark.parametrize("size", [100_000, 2 * CHUNK + 12_345])
def test_an_upload_is_hashed_off_the_loop_and_matches_the_server(tmp_path: Path, size: int,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sheet.png"
    path.write_bytes(bytes(i % 251 for i in range(size)))
    updates: list[str] = []
    monkeypatch.setattr(client_module, "hashlib", SimpleNamespace(md5=lambda: Recorded(updates),
                                                                  sha256=hashlib.sha256))

    async def main(api: str, token: str) -> tuple[Upload, str]:
        async with RepositoryClient(api, token) as client:
            deposition: dict[str, Any] = await client.create({
                "title": "x", "upload_type": "image", "image_type": "photo", "description": "d",
                "creators": [{"name": "T"}]})
            return (await client.put_file(deposition["links"]["bucket"], "sheet.png", path),
                    threading.current_thread().name)

    with serve(tmp_path) as (api, token):
        upload, loop_thread = asyncio.run(main(api, token))
    data = path.read_bytes()
    assert upload.size == size and upload.md5 == hashlib.md5(data).hexdigest()
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.reply.body["checksum"] == f"md5:{upload.md5}"
    assert len(updates) == (1 if size <= CHUNK else 4)  # the chunks, and the empty read that ends a stream
    assert loop_thread not in updates
