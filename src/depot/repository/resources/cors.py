"""CORS and allowed methods, as Zenodo answers them (Flask-CORS on the API, Flask's automatic OPTIONS).

Both are Starlette middleware inside the rate limiter (whose 429 adds ``cors_headers`` itself).
``AllowedMethods`` answers ``OPTIONS`` (a CORS preflight or a plain one) with the methods the path has,
and puts the same ``Allow`` list on every 405, whichever handler raised it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.routing import BaseRoute

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]

# What current Zenodo exposes to scripts in a browser (research/zenodo-api.md §5.2).
EXPOSED = b"Content-Type, ETag, Link, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
# Flask-CORS's default method list, which invenio-rest keeps (every preflight gets the same answer).
PREFLIGHT_METHODS = b"DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
MAX_AGE = b"600"


# Resumable uploads (tus) also expose their protocol's headers (resources/uploads.py).
TUS_PATH = "/api/uploads"
TUS_EXPOSED = EXPOSED + (b", Location, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, "
                         b"Tus-Checksum-Algorithm, Upload-Offset, Upload-Length, Upload-Metadata, Upload-Expires")


def cors_headers(path: str = "") -> list[tuple[bytes, bytes]]:
    exposed = TUS_EXPOSED if is_tus(path) else EXPOSED
    return [(b"access-control-allow-origin", b"*"), (b"access-control-expose-headers", exposed)]


def is_tus(path: str) -> bool:
    return path == TUS_PATH or path.startswith(TUS_PATH + "/")


def is_api(scope: Mapping[str, Any]) -> bool:
    path = str(scope.get("path", ""))
    return path == "/api" or path.startswith("/api/")


class Cors:
    """``Access-Control-Allow-Origin: *`` and the exposed headers on every API answer (no cookies are used,
    so the wildcard gives a page no more than ``curl`` has)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not is_api(scope):
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in cors_headers(scope["path"]) if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_with_cors)


class AllowedMethods:
    """``OPTIONS`` answered with 200 and ``Allow`` (plus the preflight headers when asked), and ``Allow``
    on every 405: the union of the methods of every route whose path matches."""

    def __init__(self, app: ASGIApp, routes: Callable[[], Iterable[BaseRoute]]) -> None:
        self.app = app
        self.routes = routes

    def allowed(self, path: str) -> list[str]:
        methods: set[str] = set()
        for route in self.routes():
            regex = getattr(route, "path_regex", None)
            route_methods = getattr(route, "methods", None)
            if regex is not None and route_methods and regex.match(path):
                methods |= set(route_methods)
        if methods:
            methods.add("OPTIONS")
        return sorted(methods)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope["headers"])
        if (scope["method"] == "OPTIONS" and is_tus(scope["path"])
                and b"access-control-request-method" not in request_headers):
            await self.app(scope, receive, send)  # tus's own OPTIONS (Tus-Version, Tus-Extension, ...)
            return
        if scope["method"] == "OPTIONS":
            allowed = self.allowed(scope["path"])
            if allowed:
                await self._options(scope, send, allowed)
                return
            await self.app(scope, receive, send)  # no such path: the router's 404
            return

        async def send_with_allow(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                allow = ", ".join(self.allowed(scope["path"])).encode()
                message["headers"] = [*headers, (b"allow", allow)]
            await send(message)

        await self.app(scope, receive, send_with_allow)

    async def _options(self, scope: Scope, send: Any, allowed: list[str]) -> None:
        headers = [(b"allow", ", ".join(allowed).encode()), (b"content-length", b"0")]
        request_headers = dict(scope["headers"])
        if b"access-control-request-method" in request_headers and is_api(scope):  # a CORS preflight
            headers += [(b"access-control-allow-origin", b"*"),
                        (b"access-control-allow-methods", PREFLIGHT_METHODS),
                        (b"access-control-max-age", MAX_AGE)]
            wanted = request_headers.get(b"access-control-request-headers")
            if wanted:
                headers.append((b"access-control-allow-headers", wanted))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
