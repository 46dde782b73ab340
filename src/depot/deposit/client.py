"""I/O: the repository client. One method per endpoint of Zenodo's legacy deposit API, over aiohttp.

Every request goes through the run's rate limiter first and reports its answer to it, so that the
``X-RateLimit-*`` and ``Retry-After`` headers of the very first response already pace the run. HTTP
and transport failures are turned into the depositor's errors here, once; *what to do* about them is
``policy.classify``'s job.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from depot import __version__
from depot.deposit.errors import (
    AuthError,
    FileChangedError,
    HTTPStatusError,
    IntegrityError,
    TransportError,
    ValidationError,
)
from depot.deposit.search_lag import declared_lag

USER_AGENT = f"depot/{__version__} (bulk specimen depositor) aiohttp/{aiohttp.__version__}"
CHUNK = 1 << 20


class Limiter(Protocol):
    async def acquire(self, bucket: str = "default") -> None: ...

    def observe(self, status: int, headers: Any, bucket: str = "default") -> None: ...


class NoLimit:
    async def acquire(self, bucket: str = "default") -> None:
        return None

    def observe(self, status: int, headers: Any, bucket: str = "default") -> None:
        return None


@dataclass
class Reply:
    """One HTTP answer: status, headers, decoded body and how long it took."""

    status: int
    headers: dict[str, str]
    body: Any
    seconds: float


@dataclass
class Upload:
    """A finished file upload: what the server answered and what we hashed while sending."""

    reply: Reply
    size: int
    md5: str
    sha256: str


@dataclass
class ClientStats:
    requests: int = 0
    bytes_sent: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class RepositoryClient:
    """A Zenodo-compatible repository at ``api_url`` (e.g. ``https://zenodo.org/api``)."""

    bucket_uploads = True  # files go to a bucket (so a tus upload may stand in for the PUT: resumable.py)

    def __init__(self, api_url: str, token: str, *, limiter: Limiter | None = None,
                 timeout: float = 120.0, upload_timeout: float = 3600.0,
                 on_reply: Callable[[str, Reply | None, BaseException | None], None] | None = None,
                 connections: int = 32, session: aiohttp.ClientSession | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.limiter = limiter or NoLimit()
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=30)
        self.upload_timeout = aiohttp.ClientTimeout(total=upload_timeout, connect=30, sock_read=timeout)
        self.on_reply = on_reply
        self.stats = ClientStats()
        self.search_lag: float | None = None  # the listing's lag as the server declares it (search_lag.py)
        self._headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT,
                         "Accept": "application/json"}
        self._connections = connections
        # The transport seam: a caller (a test, an application with its own pool) may bring its session;
        # it stays theirs to close. Our headers go with every request, so any session will do.
        self._session: aiohttp.ClientSession | None = session
        self._own_session = session is None

    async def __aenter__(self) -> RepositoryClient:
        if self._own_session:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._connections))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use the client inside 'async with'")
        return self._session

    # -- one method per endpoint --------------------------------------------------------------------
    async def create(self, metadata: dict[str, Any]) -> dict[str, Any]:
        reply = await self.request("create", "POST", f"{self.api_url}/deposit/depositions", json={"metadata": metadata})
        return reply.body  # type: ignore[no-any-return]

    async def get(self, deposition_id: int) -> dict[str, Any]:
        return (await self.request("get", "GET", self._dep(deposition_id))).body  # type: ignore[no-any-return]

    async def update(self, deposition_id: int, metadata: dict[str, Any]) -> dict[str, Any]:
        reply = await self.request("update", "PUT", self._dep(deposition_id), json={"metadata": metadata})
        return reply.body  # type: ignore[no-any-return]

    async def delete(self, deposition_id: int) -> None:
        await self.request("delete", "DELETE", self._dep(deposition_id))

    async def action(self, deposition_id: int, name: str) -> dict[str, Any] | None:
        """``publish``, ``edit``, ``discard`` or ``newversion``; discard answers 204 with no body."""
        reply = await self.request(name, "POST", f"{self._dep(deposition_id)}/actions/{name}")
        return reply.body if isinstance(reply.body, dict) else None

    async def publish(self, deposition_id: int) -> dict[str, Any]:
        body = await self.action(deposition_id, "publish")
        assert body is not None
        return body

    async def list_depositions(self, *, q: str | None = None, page: int = 1, size: int = 100,
                               sort: str = "mostrecent", all_versions: bool = False) -> list[dict[str, Any]]:
        params: dict[str, str] = {"page": str(page), "size": str(size), "sort": sort}
        if q:
            params["q"] = q
        if all_versions:
            params["all_versions"] = "true"
        reply = await self.request("list", "GET", f"{self.api_url}/deposit/depositions", params=params)
        return reply.body  # type: ignore[no-any-return]

    async def delete_file(self, bucket_url: str, name: str) -> None:
        await self.request("delete-file", "DELETE", f"{bucket_url}/{quote(name)}")

    async def put_file(self, bucket_url: str, name: str, path: Path, *,
                       expect: tuple[int, int] | None = None) -> Upload:
        """Stream ``path`` to ``bucket_url/name``, hashing as it is read; verify the server's md5. ``expect``:
        see ``send_file``."""
        upload = await self.send_file(f"{bucket_url}/{quote(name)}", path, expect=expect)
        return checked_upload(upload, path)

    async def send_file(self, url: str, path: Path, *, method: str = "PUT",
                        expect: tuple[int, int] | None = None) -> Upload:
        """Stream ``path`` to ``url``, hashing as it is read (the md5 is not checked here). ``expect``: the
        (size, mtime_ns) the file had when it was checked; a file opened with others raises FileChangedError
        before a byte is sent.

        Opening, reading and hashing happen on a thread, never on the event loop (hashlib lets go of the
        GIL for chunks this size); a file of one chunk or less takes one trip to the thread in all."""
        md5, sha256 = hashlib.md5(), hashlib.sha256()

        def read(fh: Any) -> bytes:
            chunk: bytes = fh.read(CHUNK)
            md5.update(chunk)
            sha256.update(chunk)
            return chunk

        def start() -> tuple[Any, int, bytes]:
            fh = path.open("rb")
            try:
                st = os.fstat(fh.fileno())
                size = st.st_size
                FileChangedError.unless_same(str(path), expect, size, st.st_mtime_ns)
                first = read(fh)
            except BaseException:
                fh.close()
                raise
            if len(first) >= size:  # all of it: no stream to keep open
                fh.close()
                size = len(first)
            return fh, size, first

        fh, size, first = await asyncio.to_thread(start)

        async def body() -> AsyncIterator[bytes]:
            chunk = first
            while chunk:
                self.stats.bytes_sent += len(chunk)
                yield chunk
                chunk = await asyncio.to_thread(read, fh)

        if fh.closed:
            self.stats.bytes_sent += size
        try:
            reply = await self.request("upload", method, url,
                                       data=first if fh.closed else body(),
                                       headers={"Content-Type": "application/octet-stream",
                                                "Content-Length": str(size)},
                                       timeout=self.upload_timeout)
        finally:
            fh.close()
        return Upload(reply, size, md5.hexdigest(), sha256.hexdigest())

    # -- plumbing -------------------------------------------------------------------------------------
    def _dep(self, deposition_id: int) -> str:
        return f"{self.api_url}/deposit/depositions/{deposition_id}"

    async def request(self, step: str, method: str, url: str, *, json: Any = None, data: Any = None,
                      params: dict[str, str] | None = None, headers: dict[str, str] | None = None,
                      timeout: aiohttp.ClientTimeout | None = None, bucket: str = "default",
                      expected: frozenset[int] = frozenset()) -> Reply:
        """One request: rate-limited, timed, counted; non-2xx and transport failures raised as errors.
        An ``expected`` error status is raised but not reported to ``on_reply`` (no breaker, no error count):
        the caller asked knowing it may be the answer (the RDM client's draft-or-record read)."""
        await self.limiter.acquire(bucket)
        started = time.perf_counter()
        self.stats.requests += 1
        try:
            async with self.session.request(method, url, json=json, data=data, params=params,
                                            headers={**self._headers, **(headers or {})},
                                            timeout=timeout or self.timeout) as resp:
                raw = await resp.read()
                reply = Reply(resp.status, dict(resp.headers), _decode(raw, resp.content_type),
                              time.perf_counter() - started)
        except (TimeoutError, aiohttp.ClientError) as exc:
            # Whether the server acted on the request cannot be known here: a connection refused
            # never reached it, but a timeout or a dropped connection after sending may have.
            sent = not isinstance(exc, aiohttp.ClientConnectorError)
            self.limiter.observe(0, {}, bucket)  # no answer: a request waiting on this one may go
            error = TransportError(f"{method} {url}: {type(exc).__name__}: {exc}", sent=sent,
                                   timed_out=isinstance(exc, TimeoutError))
            if self.on_reply:
                self.on_reply(step, None, error)
            raise error from exc
        if reply.status not in expected:  # an answer the caller asked for is no error to show in the progress
            self.stats.by_status[reply.status] = self.stats.by_status.get(reply.status, 0) + 1
        self.limiter.observe(reply.status, reply.headers, bucket)
        if (lag := declared_lag(reply.headers)) is not None:
            self.search_lag = lag if self.search_lag is None else max(self.search_lag, lag)
        if self.on_reply and reply.status not in expected:
            self.on_reply(step, reply, None)
        if reply.status >= 400:
            raise _status_error(reply)
        return reply


def checked_upload(upload: Upload, path: Path) -> Upload:
    """The upload, if the md5 the server answered is the one hashed while sending."""
    remote = str((upload.reply.body or {}).get("checksum", "")).removeprefix("md5:")
    if remote != upload.md5:
        raise IntegrityError(str(path), "md5", upload.md5, remote or None)
    return upload


def _decode(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if content_type == "application/json" or raw[:1] in (b"{", b"["):
        import orjson

        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return raw.decode("utf-8", "replace")


def _status_error(reply: Reply) -> HTTPStatusError:
    body = reply.body if isinstance(reply.body, dict) else {}
    message = str(body.get("message") or reply.body or f"HTTP {reply.status}")[:2000]
    if reply.status in (401, 403):
        return AuthError(reply.status, message, reply.headers)
    if reply.status == 400 and body.get("errors"):
        return ValidationError(reply.status, message, reply.headers, errors=list(body["errors"]))
    return HTTPStatusError(reply.status, message, reply.headers)
