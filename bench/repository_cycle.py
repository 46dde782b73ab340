"""Repository throughput: create (with metadata) -> bucket PUT (100 KB) -> publish, 16 in flight.

Goal (issue 2): ≥ 150 records/s on SQLite on a 2-core machine. Prints records/s and requests/s per
round and the median, for SQLite and (if DEPOT_TEST_POSTGRES_URL is set) PostgreSQL side by side.
The client is aiohttp (the fastest client measured here, see docs/decisions/0001-http-client.md).
"""

from __future__ import annotations

import asyncio
import os
import time

import aiohttp

from bench.harness import fresh_postgres_url, median, serve, table

PAYLOAD = os.urandom(100 * 1024)
META = {"metadata": {
    "title": "Fucus vesiculosus L. (TROM-A-{i})", "upload_type": "image", "image_type": "photo",
    "description": "Herbarium specimen image.", "creators": [{"name": "Bench Herbarium"}],
    "access_right": "open", "license": "cc-by-4.0",
}}


async def cycle(session: aiohttp.ClientSession, base: str, i: int) -> None:
    meta = {"metadata": {**META["metadata"], "title": f"Fucus vesiculosus L. (TROM-A-{i})",
                         "related_identifiers": [{"identifier": f"urn:catalog:TROM:A:{i}",
                                                  "relation": "isAlternateIdentifier"}]}}
    async with session.post(f"{base}/api/deposit/depositions", json=meta) as r:
        assert r.status == 201, await r.text()
        dep = await r.json()
    async with session.put(f"{dep['links']['bucket']}/sheet.jpg", data=PAYLOAD,
                           headers={"Content-Type": "application/octet-stream"}) as r:
        assert r.status == 201, await r.text()
    async with session.post(dep["links"]["publish"]) as r:
        assert r.status == 202, await r.text()


async def run(base: str, token: str, records: int, in_flight: int) -> float:
    queue = iter(range(records))
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "depot-bench"}
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def worker() -> None:
            for i in queue:
                await cycle(session, base, i)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return time.perf_counter() - start


def measure(db_url: str | None, records: int, rounds: int) -> list[list[object]]:
    rows: list[list[object]] = []
    with serve("--rate-limit", "0", "--search-rate-limit", "0", db_url=db_url) as server:
        asyncio.run(run(server.base, server.token, 50, 16))  # warm-up
        rates = []
        for n in range(rounds):
            seconds = asyncio.run(run(server.base, server.token, records, 16))
            rates.append(records / seconds)
            rows.append([f"round {n + 1}", records, f"{seconds:.2f}", f"{records / seconds:.0f}",
                         f"{3 * records / seconds:.0f}"])
        rows.append(["median", "", "", f"{median(rates):.0f}", f"{3 * median(rates):.0f}"])
    return rows


def main(quick: bool = False) -> None:
    records, rounds = (200, 1) if quick else (1000, 3)
    backends = {"sqlite": None}
    pg = fresh_postgres_url()
    if pg:
        backends["postgresql"] = pg
    for name, url in backends.items():
        table(f"repository cycle on {name}: create -> PUT 100 KB -> publish, 16 in flight",
              ["round", "records", "seconds", "records/s", "requests/s"], measure(url, records, rounds))
