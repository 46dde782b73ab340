"""`depot serve --workers 2` against `--workers 1` on PostgreSQL, and both against the yardstick, for the
per-record cycle (create with metadata, PUT 100 KB, publish; 16 in flight; bench/bare_client.py).

Servers, each on a fresh PostgreSQL database, rate limits off, bags on:
- "1 worker, bags in process": today's default (a bag thread inside the one web process);
- "1 worker + queue": `--workers 1 --queue <db>`, one `depot worker` process writing the bags;
- "2 workers + queue": `--workers 2` (the queue is the database), one `depot worker`;
- the yardstick (../shared/yardstick: the least work a repository must do per record).
Rounds alternate the servers (A B C D, A B C D), so machine noise hits them alike. Printed per round:
records/s until the last publish was answered ("load") and until every bag was written ("idle"); then the
ratios of each round and their medians: 2 workers / 1 worker, and each server / the yardstick.
Needs DEPOT_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

from bench.bare_client import Load, load
from bench.harness import (
    BenchError,
    Server,
    fresh_postgres,
    have_yardstick,
    median,
    progress,
    serve,
    serve_yardstick,
    sized,
    table,
    yardstick_dir,
)

PAYLOAD = os.urandom(100 * 1024)
IN_FLIGHT = 16
NO_LIMITS = ("--rate-limit", "0", "--search-rate-limit", "0")


@contextlib.contextmanager
def _with_queue_worker(server: Server, db_url: str) -> Iterator[Server]:
    with (server.data_dir / "worker.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "depot", "worker", "--data-dir", str(server.data_dir),
                                 "--db", db_url, "--concurrency", "1"], stdout=log, stderr=subprocess.STDOUT)
    try:
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(quick: bool = False) -> None:
    records, rounds, warm = sized(quick, (600, 3, 50), (200, 2, 30), (12, 1, 6))
    if not os.environ.get("DEPOT_TEST_POSTGRES_URL"):
        raise BenchError("python -m bench workers needs PostgreSQL: set DEPOT_TEST_POSTGRES_URL")
    with contextlib.ExitStack() as stack:
        servers: list[tuple[str, Server]] = []
        for label, args in (("1 worker, bags in process", ()), ("1 worker + queue", ("--workers", "1")),
                            ("2 workers + queue", ("--workers", "2"))):
            pg = stack.enter_context(fresh_postgres())
            assert pg is not None
            extra = ("--queue", pg) if args == ("--workers", "1") else ()
            server = stack.enter_context(serve(*NO_LIMITS, *args, *extra, db_url=pg))
            if args:
                stack.enter_context(_with_queue_worker(server, pg))
            servers.append((label, server))
        if have_yardstick():
            servers.append(("yardstick", stack.enter_context(serve_yardstick())))
        else:
            print(f"no yardstick at {yardstick_dir()} (set DEPOT_YARDSTICK): no yardstick ratio")
        first = 0
        for _, server in servers:
            load(server, warm, PAYLOAD, first=first, in_flight=IN_FLIGHT)
        first += warm
        results: dict[str, list[Load]] = {label: [] for label, _ in servers}
        rows: list[list[object]] = []
        for n in range(rounds):
            for label, server in servers:
                got = load(server, records, PAYLOAD, first=first, in_flight=IN_FLIGHT)
                results[label].append(got)
                rows.append([f"round {n + 1}", label, f"{got.load_rate:.0f}", f"{got.rate:.0f}"])
                progress(rows[-1])
            first += records
    for label, got in results.items():
        rows.append(["median", label, f"{median([r.load_rate for r in got]):.0f}",
                     f"{median([r.rate for r in got]):.0f}"])
    table(f"per-record cycle on PostgreSQL: create -> PUT 100 KB -> publish, {IN_FLIGHT} in flight, {records} records "
          f"a round (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
          ["round", "server", "records/s (load)", "records/s (until idle)"], rows)

    def ratio(a: str, b: str, attr: str) -> str:
        values = [getattr(x, attr) / getattr(y, attr) for x, y in zip(results[a], results[b], strict=True)]
        return f"{median(values):.2f} ({min(values):.2f}-{max(values):.2f})"

    print(f"2 workers / 1 worker (both + queue): load {ratio('2 workers + queue', '1 worker + queue', 'load_rate')}, "
          f"until idle {ratio('2 workers + queue', '1 worker + queue', 'rate')}")
    if "yardstick" in results:
        for label in results:
            if label != "yardstick":
                print(f"{label} / yardstick: load {ratio(label, 'yardstick', 'load_rate')}, "
                      f"until idle {ratio(label, 'yardstick', 'rate')}")
