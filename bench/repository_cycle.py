"""Repository throughput: create (with metadata) -> bucket PUT (100 KB) -> publish, 16 in flight, counted
until the repository is idle (every bag written), beside the yardstick (../shared/yardstick/ideal_repo.py:
the least work a repository must do per record) in the same run.

Rounds alternate the servers (depot serve on SQLite, on PostgreSQL if DEPOT_TEST_POSTGRES_URL is set, and
the yardstick), each round a fresh batch of records into the same running servers, after a warm-up. The
client is the bare aiohttp one (bench/bare_client.py). Printed per round: seconds until the last publish
was answered, bags written by then, seconds until idle, records/s until idle; then the medians, and the
ratio depot serve / yardstick of each round (its median and range), which is the figure to quote: absolute
rates follow the machine's load.
"""

from __future__ import annotations

import contextlib
import os

from bench.bare_client import Load, load
from bench.harness import (
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


def main(quick: bool = False) -> None:
    records, rounds, warm = sized(quick, (1000, 3, 50), (200, 1, 50), (24, 1, 16))
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(fresh_postgres())
        servers = [stack.enter_context(serve("--rate-limit", "0", "--search-rate-limit", "0"))]
        if pg:
            servers.append(stack.enter_context(serve("--rate-limit", "0", "--search-rate-limit", "0", db_url=pg)))
        if have_yardstick():
            servers.append(stack.enter_context(serve_yardstick()))
        else:
            print(f"no yardstick at {yardstick_dir()} (set DEPOT_YARDSTICK): depot serve alone, no ratio")
        first = 0
        for server in servers:
            load(server, warm, PAYLOAD, first=first, in_flight=IN_FLIGHT)
        first += warm
        results: dict[str, list[Load]] = {s.name: [] for s in servers}
        rows: list[list[object]] = []
        for n in range(rounds):  # A B C, A B C: machine noise hits every server alike
            for server in servers:
                got = load(server, records, PAYLOAD, first=first, in_flight=IN_FLIGHT)
                results[server.name].append(got)
                rows.append([f"round {n + 1}", server.name, f"{got.load_s:.2f}",
                             "-" if got.bags_at_load_end is None else f"{got.bags_at_load_end}/{records}",
                             f"{got.idle_s:.2f}", f"{got.load_rate:.0f}", f"{got.rate:.0f}"])
                progress(rows[-1])
            first += records
    medians = {name: median([r.rate for r in got]) for name, got in results.items()}
    for name, got in results.items():
        rows.append(["median", name, "", "", "", f"{median([r.load_rate for r in got]):.0f}", f"{medians[name]:.0f}"])
    table(f"repository cycle: create -> PUT 100 KB -> publish, {IN_FLIGHT} in flight, {records} records a round, "
          f"counted until the repository is idle (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
          ["round", "server", "load s", "bags by then", "until idle s", "records/s (load)",
           "records/s (until idle)"], rows)
    if "yardstick" in results:
        for name, got in results.items():
            if name != "yardstick":  # round by round: both servers met the same machine load
                ratios = [a.rate / b.rate for a, b in zip(got, results["yardstick"], strict=True)]
                print(f"{name} / yardstick, records/s until idle: {median(ratios):.2f} (median of {rounds} rounds; "
                      f"{min(ratios):.2f}-{max(ratios):.2f})")
