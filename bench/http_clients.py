"""Which HTTP client for the depositor? aiohttp vs httpx (async) vs httpx (threads), same server, same load.

Each client sends GET /api/communities (a small JSON answer) to `depot serve` on loopback with 32 in
flight; prints requests/s per round and the median. The decision is in docs/decisions/0001-http-client.md.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import httpx

from bench.harness import median, serve, sized, table

IN_FLIGHT = 32


async def with_aiohttp(url: str, n: int) -> float:
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as session:
        it = iter(range(n))

        async def worker() -> None:
            for _ in it:
                async with session.get(url) as r:
                    await r.read()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        return n / (time.perf_counter() - start)


async def with_httpx_async(url: str, n: int) -> float:
    limits = httpx.Limits(max_connections=IN_FLIGHT)
    async with httpx.AsyncClient(limits=limits) as client:
        it = iter(range(n))

        async def worker() -> None:
            for _ in it:
                (await client.get(url)).read()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        return n / (time.perf_counter() - start)


def with_httpx_threads(url: str, n: int) -> float:
    with httpx.Client(limits=httpx.Limits(max_connections=IN_FLIGHT)) as client:
        start = time.perf_counter()
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            list(pool.map(lambda _: client.get(url).read(), range(n)))
        return n / (time.perf_counter() - start)


def main(quick: bool = False) -> None:
    n, rounds = sized(quick, (3000, 3), (500, 1), (100, 1))
    rows = []
    with serve("--rate-limit", "0", "--search-rate-limit", "0") as server:
        url = server.base + "/api/communities"
        results: dict[str, list[float]] = {"aiohttp": [], "httpx async": [], "httpx 32 threads": []}
        for _ in range(rounds):  # interleaved so that machine noise hits every client alike
            results["aiohttp"].append(asyncio.run(with_aiohttp(url, n)))
            results["httpx async"].append(asyncio.run(with_httpx_async(url, n)))
            results["httpx 32 threads"].append(with_httpx_threads(url, n))
        base = median(results["aiohttp"])
        for name, rates in results.items():
            rows.append([name, " ".join(f"{r:.0f}" for r in rates), f"{median(rates):.0f}",
                         f"{median(rates) / base:.2f}"])
    table(f"HTTP clients against depot serve, GET /api/communities, {IN_FLIGHT} in flight",
          ["client", "requests/s per round", "median", "vs aiohttp"], rows)
