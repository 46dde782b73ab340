"""The bare client: aiohttp doing create (with metadata) -> bucket PUT -> publish, N in flight, nothing else.

The least a depositor must do per record, as the yardstick is the least a repository must do: the
repository bench drives `depot serve` and the yardstick with it, the deposit bench puts `depot run` beside
it against the same server. The figure counts until the server is idle (its bag queue empty), since a
record is not preserved before its bag is written.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from bench.harness import Server

META = {"upload_type": "image", "image_type": "photo", "description": "Herbarium specimen image.",
        "creators": [{"name": "Bench Herbarium"}], "access_right": "open", "license": "cc-by-4.0"}


@dataclass(frozen=True)
class Load:
    records: int
    load_s: float  # until the last publish was answered
    idle_s: float  # until the server's background work (bags) was done as well
    bags_at_load_end: int | None  # bags the server had written when the last publish was answered

    @property
    def rate(self) -> float:
        """Records per second until idle: what the repository sustains."""
        return self.records / self.idle_s

    @property
    def load_rate(self) -> float:
        return self.records / self.load_s


async def cycle(session: aiohttp.ClientSession, base: str, i: int, payload: bytes, name: str) -> None:
    meta = {"metadata": {**META, "title": f"Fucus vesiculosus L. (TROM-A-{i})",
                         "related_identifiers": [{"identifier": f"urn:catalog:TROM:A:{i}",
                                                  "relation": "isAlternateIdentifier"}]}}
    async with session.post(f"{base}/api/deposit/depositions", json=meta) as r:
        if r.status != 201:
            raise RuntimeError(f"create: {r.status} {(await r.text())[:500]}")
        dep = await r.json()
    async with session.put(f"{dep['links']['bucket']}/{name}", data=payload,
                           headers={"Content-Type": "application/octet-stream"}) as r:
        if r.status != 201:
            raise RuntimeError(f"PUT: {r.status} {(await r.text())[:500]}")
    async with session.post(dep["links"]["publish"]) as r:
        if r.status != 202:
            raise RuntimeError(f"publish: {r.status} {(await r.text())[:500]}")


async def _drive(server: Server, first: int, records: int, in_flight: int, payload: bytes, name: str) -> float:
    queue = iter(range(first, first + records))
    headers = {"Authorization": f"Bearer {server.token}", "User-Agent": "depot-bench"}
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def worker() -> None:
            for i in queue:
                await cycle(session, server.base, i, payload, name)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return time.perf_counter() - start


def load(server: Server, records: int, payload: bytes, *, first: int = 0, in_flight: int = 16,
         name: str = "sheet.jpg") -> Load:
    """Deposit ``records`` records (keys from ``first``) into a server that is idle, and wait until it is
    idle again."""
    server.wait_idle()
    before = server.backlog()["written"]
    start = time.perf_counter()
    load_s = asyncio.run(_drive(server, first, records, in_flight, payload, name))
    at_end = server.backlog()["written"] - before if server.admin else None
    after = server.wait_idle()
    if after["failed"]:
        raise RuntimeError(f"{server.name}: bags failed: {after['failed'][:3]}")
    return Load(records, load_s, time.perf_counter() - start, at_end)
