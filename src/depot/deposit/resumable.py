"""I/O: resumable uploads of large files, tus 1.0 (decision 0006), over the repository client's session.

A file above the run's threshold is created as a tus upload at ``API/uploads`` (its bucket and name in
Upload-Metadata), then sent in PATCHes of ``chunk`` bytes. The upload's URL is handed to ``remember``
before a byte is sent, so that a later run (after a kill -9) resumes it: HEAD gives the server's offset and
only the rest is sent. A cut connection or a 5xx mid-file is resumed in place the same way, from the
server's offset, up to ``retries`` times in a row without progress. A target with no tus (Zenodo: no
``Tus-Version`` on ``OPTIONS API/uploads``) gets the plain PUT.

The md5 and sha256 are computed while the bytes are read, each byte once, in order: a resume never starts
past what was read, and an upload resumed by a new process first hashes the part the server already has.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urljoin

from depot.deposit.client import CHUNK, RepositoryClient, Upload
from depot.deposit.errors import HTTPStatusError, IntegrityError, TransportError

TUS = {"Tus-Resumable": "1.0.0"}
MIB = 1024 * 1024
DEFAULT_CHUNK = 32 * MIB


def header(headers: dict[str, str], name: str) -> str:
    """A header of a reply whatever the case the server wrote its name in ("" if absent)."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), "")


class _Hasher:
    """md5 and sha256 of a file's bytes read so far, in order."""

    def __init__(self) -> None:
        self.md5, self.sha256, self.upto = hashlib.md5(), hashlib.sha256(), 0

    def feed(self, position: int, data: bytes) -> None:
        if position <= self.upto < position + len(data):
            piece = data[self.upto - position:]
            self.md5.update(piece)
            self.sha256.update(piece)
            self.upto += len(piece)

    def catch_up(self, path: Path, offset: int) -> None:
        with path.open("rb") as fh:
            fh.seek(self.upto)
            while self.upto < offset:
                data = fh.read(min(CHUNK, offset - self.upto))
                if not data:
                    break
                self.feed(self.upto, data)


class Resumable:
    """tus uploads through ``client``; ``supported()`` says whether its target speaks tus."""

    def __init__(self, client: RepositoryClient, *, chunk: int = DEFAULT_CHUNK, retries: int = 5) -> None:
        self.client = client
        self.chunk = chunk
        self.retries = retries
        self._supported: bool | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.client.api_url}/uploads"

    async def supported(self) -> bool:
        """Asked once (OPTIONS); a 429, a 5xx or no answer is not a verdict: this file goes by PUT, the next
        one asks again."""
        if not self.client.bucket_uploads:  # the RDM client uploads to a draft's files, in its three steps
            return False
        if self._supported is None:
            try:
                reply = await self.client.request("tus-options", "OPTIONS", self.endpoint)
                self._supported = "1.0.0" in header(reply.headers, "Tus-Version").split(",")
            except HTTPStatusError as exc:
                if exc.status == 429 or exc.status >= 500:
                    return False
                self._supported = False
            except TransportError:
                return False
        return self._supported

    async def upload(self, bucket_url: str, name: str, path: Path, *, known_url: str | None = None,
                     remember: Callable[[str], Awaitable[None]] | None = None) -> Upload:
        size = os.stat(path).st_size
        hasher = _Hasher()
        url, offset = None, 0
        if known_url:
            offset_found = await self._offset(known_url)
            if offset_found is not None:
                url, offset = known_url, offset_found
        if url is None:
            url = await self._create(bucket_url, name, size)
            if remember is not None:
                await remember(url)
        failures = 0
        while offset < size:
            if hasher.upto < offset:  # resumed by a new process: hash what the server already has
                await asyncio.to_thread(hasher.catch_up, path, offset)
            try:
                offset = await self._patch(url, path, offset, min(self.chunk, size - offset), hasher)
                failures = 0
            except (TransportError, HTTPStatusError) as exc:
                if isinstance(exc, HTTPStatusError) and exc.status < 500 and exc.status not in (409, 423, 460):
                    raise
                failures += 1
                if failures > self.retries:
                    raise
                await asyncio.sleep(min(0.1 * 2 ** failures, 5.0))  # the server may still hold the cut PATCH
                found = await self._offset(url)
                if found is None:
                    raise
                offset = found
        if hasher.upto < size:
            await asyncio.to_thread(hasher.catch_up, path, size)
        local = hasher.md5.hexdigest()
        reply = await self.client.request("bucket", "GET", bucket_url)
        remote = next((str(o.get("checksum", "")).removeprefix("md5:") for o in (reply.body or {}).get("contents", [])
                       if o.get("key") == name), "")
        if remote != local:
            raise IntegrityError(str(path), "md5", local, remote or None)
        body = next(o for o in reply.body["contents"] if o.get("key") == name)
        reply.body = body
        return Upload(reply, size, local, hasher.sha256.hexdigest())

    async def _create(self, bucket_url: str, name: str, size: int) -> str:
        bucket = bucket_url.rstrip("/").rsplit("/", 1)[1]
        meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in
                        (("bucket", bucket), ("filename", name)))
        reply = await self.client.request("tus-create", "POST", self.endpoint, headers={
            **TUS, "Upload-Length": str(size), "Upload-Metadata": meta})
        return urljoin(self.endpoint, header(reply.headers, "Location"))

    async def _offset(self, url: str) -> int | None:
        """The server's offset, or None for an upload it no longer has (terminated, expired)."""
        try:
            reply = await self.client.request("tus-head", "HEAD", url, headers=TUS)
        except HTTPStatusError as exc:
            if exc.status in (404, 410):
                return None
            raise
        return int(header(reply.headers, "Upload-Offset") or -1)

    async def _patch(self, url: str, path: Path, offset: int, length: int, hasher: _Hasher) -> int:
        stats = self.client.stats

        async def body(fh: BinaryIO) -> AsyncIterator[bytes]:
            fh.seek(offset)
            position, left = offset, length

            def read() -> bytes:
                data: bytes = fh.read(min(CHUNK, left))
                hasher.feed(position, data)
                return data

            while left > 0:
                data = await asyncio.to_thread(read)
                if not data:
                    break
                position += len(data)
                left -= len(data)
                stats.bytes_sent += len(data)
                yield data

        headers: dict[str, Any] = {**TUS, "Upload-Offset": str(offset), "Content-Length": str(length),
                                   "Content-Type": "application/offset+octet-stream"}
        # Opened here and closed when the request ends, however it ends: opened in a thread, or closed by
        # the body's generator, the file leaked when a cut connection cancelled the request first (the
        # generator is then never finished).
        with path.open("rb") as fh:
            reply = await self.client.request("upload", "PATCH", url, data=body(fh), headers=headers,
                                              timeout=self.client.upload_timeout)
        return int(header(reply.headers, "Upload-Offset") or -1)
