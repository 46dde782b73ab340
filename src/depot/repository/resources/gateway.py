"""ASGI middleware in front of every route: resolve the caller's token, then apply rate limits.

Zenodo's limiter (Flask-Limiter, moving window) keys on the user, or on the address for anonymous
callers; a per-endpoint limit (record search: 30/min) replaces the user limit on that endpoint. Every
response carries ``X-RateLimit-Limit/-Remaining/-Reset`` and ``Retry-After`` (spec §5.2).

The counts live in the ``rate_limit_storage`` (a ``limits`` URL): in this process's memory by default, or in
Redis (``redis://HOST:PORT/DB``), where every web worker of every machine counts against the same limit.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import orjson
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from depot.repository.config import RepositoryConfig
from depot.repository.resources.cors import cors_headers, is_api
from depot.repository.services.permissions import ANONYMOUS, Identity
from depot.repository.store.keyfiles import load_or_create

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]
SEARCH_PATHS = {"/api/records", "/oai2d"}


class TokenCache:
    """token -> identity (user and scopes) lookups, cached: tokens are only ever added, never changed."""

    def __init__(self, lookup: Callable[[str], Identity | None], size: int = 4096) -> None:
        self.lookup = lookup
        self.size = size
        self.cache: OrderedDict[str, Identity] = OrderedDict()

    def __call__(self, token: str) -> Identity | None:
        if token in self.cache:
            self.cache.move_to_end(token)
            return self.cache[token]
        found = self.lookup(token)
        if found is not None:
            self.cache[token] = found
            if len(self.cache) > self.size:
                self.cache.popitem(last=False)
        return found


class Gateway:
    def __init__(self, app: ASGIApp, config: RepositoryConfig, lookup: Callable[[str], Identity | None],
                 clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.tokens = TokenCache(lookup)
        self.clock = clock
        self.limiter = MovingWindowRateLimiter(open_storage(config.rate_limit_storage))
        # In a shared store, the counts of this repository (its data directory, shared by its workers and
        # machines) are kept apart from another's using the same Redis.
        self.namespace = "" if config.rate_limit_storage.startswith("memory") else \
            load_or_create(config.data_dir / "instance-id", 8).hex() + ":"
        self.user_limits = _items(config.user_limit_per_minute, config.user_limit_per_hour,
                                  config.user_limit_minute_seconds, config.user_limit_hour_seconds)
        self.search_limits = _items(config.search_limit_per_minute, 0, config.user_limit_minute_seconds, 3600)
        self.hourly = self.user_limits[1:] if config.user_limit_per_minute > 0 else self.user_limits

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        identity = self._authenticate(scope)
        scope["depot.identity"] = identity
        user_id = identity.user_id
        is_search = scope["method"] == "GET" and scope["path"].rstrip("/") in SEARCH_PATHS
        limits = self.search_limits if is_search else self.user_limits
        if not limits:
            await self.app(scope, receive, send)
            return
        key = f"user:{user_id}" if user_id is not None else f"ip:{(scope.get('client') or ('-',))[0]}"
        bucket = self.namespace + ("search" if is_search else "global")
        refused = None
        for item in limits:
            if not await self.limiter.hit(item, bucket, key):
                refused = item
                break
        headers = await self._headers(limits[0], bucket, key)
        if refused is not None:
            await _send_429(send, refused, "hour" if refused in self.hourly else "minute",
                            [*headers, *(cors_headers() if is_api(scope) else [])])
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _authenticate(self, scope: Scope) -> Identity:
        token = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                parts = value.decode("latin-1").split(None, 1)
                if len(parts) == 2 and parts[0].lower() == "bearer":
                    token = parts[1].strip()
                break
        if token is None and scope.get("query_string"):
            token = (parse_qs(scope["query_string"].decode("latin-1")).get("access_token") or [None])[0]
        # A bad token leaves the request anonymous, as on current Zenodo (then 403 where auth is needed).
        return (self.tokens(token) if token else None) or ANONYMOUS

    async def _headers(self, item: RateLimitItem, bucket: str, key: str) -> list[tuple[bytes, bytes]]:
        stats = await self.limiter.get_window_stats(item, bucket, key)
        now = self.clock()
        reset_at = max(stats.reset_time, now)
        return [
            (b"x-ratelimit-limit", str(item.amount).encode()),
            (b"x-ratelimit-remaining", str(max(0, stats.remaining)).encode()),
            (b"x-ratelimit-reset", str(math.ceil(reset_at)).encode()),
            (b"retry-after", str(math.ceil(reset_at - now)).encode()),
        ]


def open_storage(url: str) -> Any:
    """The ``limits`` async storage for a ``rate_limit_storage`` URL: memory:// or redis://HOST:PORT/DB."""
    scheme = url.split("://", 1)[0].lower()
    if scheme == "memory":
        return storage_from_string("async+memory://")
    if scheme in {"redis", "rediss"}:
        return storage_from_string(f"async+{url}", implementation="redispy")
    raise ValueError(f"rate_limit_storage {url!r}: expected memory:// or redis://HOST:PORT/DB")


def _items(per_minute: int, per_hour: int, minute: int = 60, hour: int = 3600) -> list[RateLimitItem]:
    """The windows, in seconds: a minute and an hour unless a test shortens them."""
    items: list[RateLimitItem] = []
    if per_minute > 0:
        items.append(RateLimitItemPerSecond(per_minute, max(1, minute)))
    if per_hour > 0:
        items.append(RateLimitItemPerSecond(per_hour, max(1, hour)))
    return items


async def _send_429(send: Any, item: RateLimitItem, unit: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = orjson.dumps({"status": 429, "message": f"{item.amount} per 1 {unit}"})
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
