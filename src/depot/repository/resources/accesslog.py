"""The access log (``--access-log PATH``): one JSON object a line per request, at any log level.

Outermost ASGI middleware, so rate-limited (429) and refused requests are logged too. A line holds the
time (UTC), client address, method, path, query (any ``access_token`` value redacted), status, response
bytes, duration in milliseconds, the caller's user id (null when anonymous) and the id of the process that
answered (``pid``: which worker, under ``depot serve --workers N``, all appending to one file). A client that went away
before sending its whole body is logged with status 499 (nginx's "client closed request"); a request
that ended with no response at all with status null and ``"disconnected": true``. Each line is written
whole with one ``write`` on a line-buffered file, so a reader never sees half a line (``tail -f | jq``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode

import orjson

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]


def open_log(target: str) -> IO[str]:
    """The log file (created 0600 by the server's umask) or standard error for ``-``."""
    if target == "-":
        return sys.stderr
    return open(target, "a", buffering=1, encoding="utf-8")


class AccessLog:
    def __init__(self, app: ASGIApp, sink: IO[str], clock: Callable[[], float] = time.perf_counter) -> None:
        self.app = app
        self.sink = sink
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = self.clock()
        status: int | None = None
        size = 0

        async def send_logged(message: dict[str, Any]) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            self.sink.write(line(scope, status, size, (self.clock() - start) * 1000))


def line(scope: Scope, status: int | None, size: int, millis: float) -> str:
    identity = scope.get("depot.identity")
    entry: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "client": (scope.get("client") or ("",))[0],
        "method": scope["method"],
        "path": scope["path"],
        "query": _redacted(scope.get("query_string", b"").decode("latin-1")),
        "status": status,
        "bytes": size,
        "ms": round(millis, 1),
        "user": getattr(identity, "user_id", None),
        "pid": os.getpid(),
    }
    if status is None:
        entry["disconnected"] = True
    return orjson.dumps(entry).decode() + "\n"


def _redacted(query: str) -> str:
    if "access_token" not in query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, "REDACTED" if k == "access_token" else v) for k, v in pairs])
