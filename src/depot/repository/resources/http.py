"""Small HTTP helpers shared by the resources: fast JSON responses, body parsing, query parameters, and the
one seam (``blocking``, ``off_loop``) by which handlers run database work off the event loop."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar
from urllib.parse import unquote_to_bytes

import anyio.to_thread
import orjson
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from depot.metadata import FieldError
from depot.repository.errors import QuotaExceededError, UnsupportedMediaError, ValidationError
from depot.repository.services.facets import parse_filters
from depot.repository.services.ids import parse_id
from depot.repository.services.keys import lookup_key
from depot.repository.services.permissions import ANONYMOUS, Identity

if TYPE_CHECKING:
    from depot.repository.context import Context

P = ParamSpec("P")
T = TypeVar("T")


class HasContext(Protocol):
    ctx: Context


R = TypeVar("R", bound=HasContext)

# Threads running database work at once, per event loop: well under the connections of the PostgreSQL pool
# (10 + 20 overflow), and apart from anyio's default limiter (file downloads, blob writes), so that neither
# starves the other.
DB_THREADS = 8
_DB_LIMITER: RunVar[CapacityLimiter] = RunVar("depot_db_limiter")


async def blocking(ctx: Context, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``, a service call doing database work, on a worker thread on PostgreSQL: a
    round trip, a row lock or a publish writing many rows must not stop the event loop serving the other
    requests meanwhile. At most DB_THREADS run at once; the others queue here.

    On SQLite it runs here, on the loop: its work is local and under the GIL, its writers are serialised
    anyway, and the thread hops cost 10-15 % of the repository's throughput (docs/decisions/0011)."""
    if ctx.deposits.db.is_sqlite:
        return fn(*args, **kwargs)
    try:
        limiter = _DB_LIMITER.get()
    except LookupError:
        limiter = CapacityLimiter(DB_THREADS)
        _DB_LIMITER.set(limiter)
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=limiter)


def off_loop(handler: Callable[[R, Request], Response]) -> Callable[[R, Request], Awaitable[Response]]:
    """A handler that reads no body, run whole through ``blocking``."""

    @functools.wraps(handler)
    async def run(resource: R, request: Request) -> Response:
        return await blocking(resource.ctx, handler, resource, request)

    return run


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


def tagged_json(body: Any, status: int = 200) -> Response:
    """JSON with an ``ETag``, as Zenodo sends on depositions and records."""
    return with_etag(json_response(body, status))


def with_etag(response: Response) -> Response:
    """``response`` with an ``ETag`` naming its body. Zenodo's is the revision id; here it is a digest of
    the representation, which changes whenever the answer does (a client only compares them)."""
    response.headers["ETag"] = '"' + hashlib.blake2b(bytes(response.body), digest_size=16).hexdigest() + '"'
    return response


def empty(status: int = 204) -> Response:
    return Response(b"", status_code=status)


TOO_LARGE = "The data value transmitted exceeds the capacity limit."  # werkzeug's 413, as Zenodo answers


def too_large() -> QuotaExceededError:
    return QuotaExceededError(TOO_LARGE, 413)


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body of at most ``limit`` bytes; a missing Content-Type counts as JSON, as on current Zenodo.

    A declared Content-Length past the limit is refused before a byte is read, a chunked body as soon as
    it passes the limit: the server never holds more than ``limit`` bytes of one request.
    """
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype != "application/json":
        raise UnsupportedMediaError("Invalid 'Content-Type' header. Expected one of: application/json")
    raw = await read_body(request, limit)
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(message="The browser (or proxy) sent a request that this server could not "
                                      "understand.") from exc


async def read_body(request: Request, limit: int) -> bytes:
    """The body of at most ``limit`` bytes, else a 413: at once if Content-Length says so, else when the
    streamed body passes the limit."""
    length = header_int(request, "content-length")
    if length is not None and length > limit:
        raise too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def bounded(request: Request, limit: int) -> Request:
    """``request`` whose body raises a 413 once more than ``limit`` bytes have arrived (a chunked upload)."""
    received = 0
    source = request.receive

    async def receive() -> Message:
        nonlocal received
        message = await source()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large()
        return message

    return Request(request.scope, receive)


def identity(request: Request) -> Identity:
    return request.scope.get("depot.identity", ANONYMOUS)  # type: ignore[no-any-return]


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValidationError([FieldError(name, ("Not a valid integer.",))]) from exc


def facet_filters(request: Request) -> dict[str, tuple[str, ...]]:
    """The search's facet filters (``f=resource_type:image`` or ``resource_type=image``); a 400 names a
    malformed ``f=``."""
    try:
        return parse_filters(list(request.query_params.multi_items()))
    except ValueError as exc:
        raise ValidationError([FieldError("f", (str(exc),))]) from exc


def bool_param(request: Request, name: str) -> bool:
    if name not in request.query_params:
        return False
    raw = request.query_params.get(name, "").strip().lower()
    return raw in {"", "1", "true", "yes"}  # a bare ?all_versions means true (zenodo-rdm params.py)


def path_int(request: Request, name: str) -> int:
    """The record or deposit id in the path; any other spelling of a number is a 404, as on Zenodo."""
    from depot.repository.errors import NotFoundError

    found = parse_id(request.path_params.get(name, ""))
    if found is None:
        raise NotFoundError()
    return found


def path_key(request: Request) -> str:
    """The file key in the path, in its stored form (NFC); a 400 if its bytes are not UTF-8.

    The server decodes the path with U+FFFD for undecodable bytes, which would make ``a%FFb`` and
    ``a%FEb`` one name: the raw path says whether the replacement character was really sent.
    """
    key = str(request.path_params["key"])
    if "\ufffd" in key:
        try:
            unquote_to_bytes(request.scope.get("raw_path") or b"").decode("utf-8")
        except UnicodeDecodeError:
            message = "Invalid file name: it is not valid UTF-8 (percent-encode the name's UTF-8 bytes)."
            raise ValidationError([FieldError("filename", (message,))], message=message) from None
    return lookup_key(key)


def header_int(request: Request, name: str) -> int | None:
    """A header holding a count (Content-Length): ASCII digits only, else None."""
    raw = request.headers.get(name)
    return int(raw) if raw and raw.isascii() and raw.isdigit() else None
