"""ASGI middleware that injects a fault profile's failures and logs each one (JSON lines).

"after" faults run the request for real (it commits) and then replace or cut the answer: the
lost-response case behind the 2019 pilot's 701 published-but-logged-failed records. The log lets a test
compare what the server did with what the client believes.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from depot.repository.faults.profile import FaultProfile, Rule, Window, endpoint_of

MESSAGES = {404: "The persistent identifier does not exist.", 408: "Request Timeout",
            413: "The data value transmitted exceeds the capacity limit.", 429: "Too many requests",
            500: "The server encountered an internal error and was unable to complete your request.",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class InjectedDrop(Exception):
    """Raised inside the ASGI app to make the server close the connection mid-answer (on purpose)."""


class FaultInjector:
    def __init__(self, app: Any, profile: FaultProfile, log_path: Path | None,
                 clock: Any = time.monotonic) -> None:
        self.app = app
        self.profile = profile
        self.rng = random.Random(profile.seed)
        self.clock = clock
        self.started: float = clock()
        self.log_path = log_path
        self._lock = threading.Lock()
        self._firsts: dict[str, float] = {}  # endpoint -> when its first request came (windows with ``after``)

    def log(self, **event: Any) -> None:
        if self.log_path is None:
            return
        event["t"] = round(time.time(), 6)
        with self._lock, self.log_path.open("ab") as fh:
            fh.write(orjson.dumps(event) + b"\n")

    def chance(self, p: float) -> bool:
        return p > 0 and self.rng.random() < min(1.0, p * self.profile.scale)

    def pick(self, table: dict[int, float]) -> int | None:
        for status, p in table.items():
            if self.chance(p):
                return status
        return None

    def _since(self, window: Window, now: float) -> float:
        """Seconds on the window's clock: from the server's start, or from the first request to its endpoint."""
        if window.after is None:
            return now - self.started
        first = self._firsts.get(window.after)
        return -1.0 if first is None else now - first

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        endpoint = endpoint_of(method, path)
        now: float = self.clock()
        self._firsts.setdefault(endpoint, now)
        base = {"endpoint": endpoint, "method": method, "path": path}
        for window in self.profile.outages:
            if window.active(self._since(window, now)):
                self.log(fault=f"outage-{window.status}", **base)
                await _respond(send, window.status)
                return
        for window in self.profile.storms:
            since = self._since(window, now)
            if window.active(since) and self.rng.random() < window.probability:
                self.log(fault="storm-429", **base)
                await _respond(send, 429, {"retry-after": str(max(1, math.ceil(window.start + window.duration
                                                                                 - since)))})
                return
        rule = self.profile.rule_for(endpoint)
        if rule is None:
            await self.app(scope, receive, send)
            return
        if rule.latency is not None and rule.latency.median_ms > 0:
            delay = min(rule.latency.max_ms, rule.latency.median_ms * math.exp(self.rng.gauss(0, rule.latency.sigma)))
            await asyncio.sleep(delay / 1000)
        status = self.pick(rule.before)
        if status is not None:
            self.log(fault=f"before-{status}", **base)
            await _drain(receive)
            await _respond(send, status)
            return
        if self.chance(rule.reset_body):
            self.log(fault="reset-body", **base)
            await self._reset_body(receive, send)
            return
        await self._after(scope, receive, send, rule, base)

    async def _after(self, scope: dict[str, Any], receive: Any, send: Any, rule: Rule, base: dict[str, Any]) -> None:
        after = self.pick(rule.after)
        drop = after is None and self.chance(rule.drop_after)
        if after is None and not drop:
            await self.app(scope, receive, send)
            return
        captured: list[dict[str, Any]] = []

        async def capture(message: dict[str, Any]) -> None:
            captured.append(message)

        await self.app(scope, receive, capture)
        real_status = next((m["status"] for m in captured if m["type"] == "http.response.start"), None)
        body = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
        committed_id = None
        if body[:1] == b"{":
            with contextlib.suppress(orjson.JSONDecodeError):
                committed_id = orjson.loads(body).get("id")
        self.log(fault=f"after-{after}" if after else "drop-after", real_status=real_status,
                 real_id=committed_id, **base)
        if after is not None:
            await _respond(send, after)
            return
        await send({"type": "http.response.start", "status": real_status or 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        raise InjectedDrop("fault injection: connection dropped after the commit")

    async def _reset_body(self, receive: Any, send: Any) -> None:
        message = await receive()  # take the first chunk, then cut the connection before any commit
        del message
        await send({"type": "http.response.start", "status": 500,
                    "headers": [(b"content-length", b"1000"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        raise InjectedDrop("fault injection: connection reset during the upload body")


async def _drain(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def _respond(send: Any, status: int, headers: dict[str, str] | None = None) -> None:
    body = orjson.dumps({"status": status, "message": MESSAGES.get(status, "Injected fault")})
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    hdrs += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})
