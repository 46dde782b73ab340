"""``--fetch-media``: download the media URLs of a dataset into a resumable cache folder (see ``cache``).

A GBIF archive often holds only links to the museum's image server. This fetches each link once, with a
bounded number of downloads in flight and retries for what may pass (a timeout, a reset, 429, 5xx). An
answer is kept only if it is a whole, non-empty file that is not a web page: a 404, an HTML error page
or a 0-byte body is recorded as that URL's error, and the specimen that names it gets it as a problem.

Every file is written under a dot-name and renamed when complete, so a run killed half-way leaves no
partial file that a later run could take for a finished one; a rerun skips the URLs already fetched and
tries the failed ones again.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp

from depot.deposit.sources.cache import ERROR_FILE, MediaCache
from depot.deposit.sources.media import IMAGE_EXTENSIONS, is_fetchable, url_file_candidates

MAX_BYTES = 2 * 1024**3  # the largest herbarium TIFFs are a few hundred MB
MAX_WAIT = 120.0  # the longest Retry-After we honour, in seconds
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_NOT_MEDIA = ("text/", "application/xhtml", "application/json", "application/xml")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 1 << 16
_IIIF_QUALITIES = frozenset({"default", "color", "colour", "gray", "grey", "bitonal", "native"})


@dataclass
class FetchSummary:
    """What one fetch pass did: files downloaded now, already in the cache, and URLs that failed."""

    downloaded: int = 0
    cached: int = 0
    failed: int = 0
    bytes: int = 0


class _Retry(Exception):
    """A failure that may pass on another try; ``after``: the seconds the server asked us to wait."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


def _retry_after(value: str | None) -> float | None:
    try:
        return min(max(float(value), 0.0), MAX_WAIT) if value else None
    except ValueError:
        return None  # an HTTP date: rare from image servers; the backoff is used instead


# Leading bytes of the image formats a museum serves, for an answer whose content type says nothing
_MAGIC = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"),
          (b"\x00\x00\x00\x0cjP  ", ".jp2"), (b"GIF8", ".gif"), (b"RIFF", ".webp"))


def file_name(url: str, content_type: str, head: bytes = b"") -> str:
    """The name a fetched file gets in the deposit: the URL's file name, with an extension that fits the
    content (its first bytes ``head``, else its content type)."""
    candidates = url_file_candidates(url)
    segments = [unquote(part) for part in urlsplit(url).path.split("/") if part]
    if len(segments) >= 5 and os.path.splitext(segments[-1])[0].lower() in _IIIF_QUALITIES:
        # IIIF: .../{identifier}/{region}/{size}/{rotation}/{quality}.{format}; "default.jpg" says nothing
        candidates = [segments[-5] + os.path.splitext(segments[-1])[1]]
    base = _UNSAFE_NAME.sub("_", candidates[0]).strip("._")[:100] if candidates else ""
    base = base or "media"
    if os.path.splitext(base)[1].lower() in IMAGE_EXTENSIONS:
        return base
    extension = next((ext for magic, ext in _MAGIC if head.startswith(magic)), None)
    if extension is None and content_type:
        guessed = mimetypes.guess_extension(content_type)
        extension = ".jpg" if guessed in (".jpe", ".jpeg") else guessed
    return base + (extension or "")


async def _download(session: aiohttp.ClientSession, url: str, cache: MediaCache, max_bytes: int) -> int:
    """Fetch one URL into the cache; returns its size. Raises _Retry, or ValueError with the final reason."""
    try:
        async with session.get(url) as response:
            if response.status in _RETRY_STATUSES:
                raise _Retry(f"HTTP {response.status}", _retry_after(response.headers.get("Retry-After")))
            if response.status >= 400:
                raise ValueError(f"HTTP {response.status} {response.reason or ''}".rstrip())
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if content_type.startswith(_NOT_MEDIA):
                raise ValueError(f"the server answered with a {content_type} page, not an image")
            length = response.content_length
            if length is not None and length > max_bytes:
                raise ValueError(f"the file is {length} bytes, more than the {max_bytes} allowed")
            folder = cache.folder(url)
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / ".download.part"
            size = 0
            try:
                with open(partial, "wb") as out:
                    async for chunk in response.content.iter_chunked(_CHUNK):
                        size += len(chunk)
                        if size > max_bytes:
                            raise ValueError(f"the file is more than the {max_bytes} bytes allowed")
                        out.write(chunk)
                with open(partial, "rb") as written:
                    head = written.read(512)
                if size == 0:
                    raise ValueError("the server answered with 0 bytes")
                if length is not None and size != length:
                    raise _Retry(f"the answer was cut short ({size} of {length} bytes)")
                if head.lstrip().lower().startswith((b"<!doctype html", b"<html")):
                    raise ValueError("the server answered with an HTML page, not an image")
                os.replace(partial, folder / file_name(str(response.url), content_type, head))
            finally:
                partial.unlink(missing_ok=True)
            return size
    except aiohttp.InvalidURL as exc:
        raise ValueError(f"not a valid URL ({exc})") from exc
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise _Retry(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc


async def _fetch_one(session: aiohttp.ClientSession, url: str, cache: MediaCache, *, retries: int, backoff: float,
                     max_bytes: int) -> tuple[int | None, str | None]:
    """(size, None) once the file is in the cache, or (None, why not) after the retries are spent."""
    reason = ""
    for attempt in range(retries + 1):
        try:
            return await _download(session, url, cache, max_bytes), None
        except ValueError as exc:
            return None, str(exc)
        except _Retry as exc:
            reason, wait = str(exc), exc.after
        except OSError as exc:  # the cache folder cannot be written: every URL would fail alike
            return None, f"cannot write to the media cache: {exc}"
        if attempt < retries:
            await asyncio.sleep(backoff * 2**attempt if wait is None else wait)
    return None, f"{reason} (after {retries + 1} tries)"


def _record(cache: MediaCache, url: str, error: str | None) -> None:
    marker = cache.folder(url) / ERROR_FILE
    if error is None:
        marker.unlink(missing_ok=True)
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(error + "\n", encoding="utf-8")


async def fetch_media_async(urls: Iterable[str], cache: MediaCache, *, transfers: int = 8, retries: int = 3,
                            backoff: float = 0.5, timeout: float = 60.0, max_bytes: int = MAX_BYTES) -> FetchSummary:
    """Download every http(s) URL of ``urls`` that the cache does not hold yet, ``transfers`` at a time.

    ``urls`` is consumed lazily (it may be a source being read); repeats are fetched once. Failures are
    recorded in the cache, never raised.
    """
    summary = FetchSummary()
    queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=transfers * 2)
    client_timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)

    async def worker(session: aiohttp.ClientSession) -> None:
        while (url := await queue.get()) is not None:
            size, error = await _fetch_one(session, url, cache, retries=retries, backoff=backoff,
                                           max_bytes=max_bytes)
            _record(cache, url, error)
            if error is None and size is not None:
                summary.downloaded += 1
                summary.bytes += size
            else:
                summary.failed += 1

    seen: set[str] = set()
    async with aiohttp.ClientSession(timeout=client_timeout, headers={"User-Agent": "depot --fetch-media"}) as session:
        workers = [asyncio.create_task(worker(session)) for _ in range(transfers)]
        try:
            for url in urls:
                if url in seen or not is_fetchable(url):
                    continue
                seen.add(url)
                if cache.lookup(url)[0] is not None:
                    summary.cached += 1
                    continue
                await queue.put(url)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
    return summary


def fetch_media(urls: Iterable[str], cache_dir: Path, *, transfers: int = 8, retries: int = 3,
                backoff: float = 0.5) -> FetchSummary:
    """Blocking form of :func:`fetch_media_async`, for the command line."""
    return asyncio.run(fetch_media_async(urls, MediaCache(cache_dir), transfers=transfers, retries=retries,
                                         backoff=backoff))
