"""`depot run` throughput beside the bare client (bench/bare_client.py), against the same servers in one run.

1. No rate limit: each round deposits N one-image records (2,000; the same 100 KB PNG) with `depot run`
   (16 transfers) and then with the bare aiohttp client (16 in flight), into a fresh `depot serve` and
   into the yardstick (../shared/yardstick, if present). Each run starts on an idle server and the server
   is let go idle after it (bags written), so that no run pays for another's backlog. The depositor's
   figure is its wall time (interpreter start, planning and image checks included: what a user waits);
   its own ``elapsed_s`` (from the first request) is shown too. Ratios depot run / bare client are per
   server and round, then their median (issue 16 goals: >= 0.85 against depot serve, >= 0.5 against the yardstick).
2. The server enforcing Zenodo's 100 requests/min scaled up (1,500/min): the share of the limit the
   depositor uses and the 429s it meets (goal: >= 95 % and 0). The server's window is a moving minute,
   so the first minute's worth of requests goes at once (at the unlimited speed of case 1). The share
   is measured where the limit binds, after that burst: the ideal time for the other requests,
   (requests - limit) / (limit per second), over the time the run took for them. Not in a smoke run
   (too few requests to reach the limit).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bare_client import load
from bench.harness import (
    Server,
    have_yardstick,
    median,
    noise_png,
    progress,
    serve,
    serve_yardstick,
    sized,
    smoke,
    table,
)

RECORDS = 2000
TRANSFERS = 16


def make_source(folder: Path, n: int) -> tuple[Path, Path]:
    images = folder / "images"
    images.mkdir()
    (images / "sheet.png").write_bytes(noise_png(320))  # a real 100 KB PNG
    csv = folder / "specimens.csv"
    with csv.open("w", encoding="utf-8") as fh:
        fh.write("occurrenceID,catalogNumber,scientificName,institutionCode,country\n")
        for i in range(n):
            fh.write(f"urn:catalog:BENCH:{i},B{i:07d},Fucus vesiculosus L.,BENCH,Norway\n")
    return csv, images


def deposit(base: str, token: str, csv: Path, images: Path, ledger: Path, *extra: str) -> tuple[float, dict]:
    env = {**os.environ, "DEPOT_TOKEN": token}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "depot", "run", str(csv), "--images", str(images),
                             "--path-template", "{images}/sheet.png", "--target", f"{base}/api", "--ledger",
                             str(ledger), "--profile", "specimen", "--var", "institution=Bench Herbarium",
                             "--var", "license=cc-by-4.0",
                             "--progress", "json", *extra], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"depot run failed ({result.returncode}): {result.stderr[-2000:]}")
    last = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")][-1]
    return seconds, last


def side_by_side(server: Server, r: int, n: int, csv: Path, images: Path, folder: Path,
                 rows: list[list[object]], rates: dict[str, list[float]]) -> float:
    """depot run, then the bare client, into ``server``; the depositor's requests/s."""
    server.wait_idle()
    seconds, last = deposit(server.base, server.token, csv, images, folder / f"{server.name}-{r}.sqlite3",
                            "--transfers", str(TRANSFERS))
    if last["published"] != n:
        raise RuntimeError(f"depot run published {last['published']} of {n} records into {server.name}")
    started = time.perf_counter()
    server.wait_idle()
    idle = seconds + time.perf_counter() - started
    rates.setdefault(f"run {server.name}", []).append(n / seconds)
    rates.setdefault(f"run own {server.name}", []).append(n / last["elapsed_s"])
    rows.append([f"round {r + 1}", server.name, "depot run", f"{seconds:.1f}", f"{last['elapsed_s']:.1f}",
                 f"{idle:.1f}", f"{n / seconds:.0f}", f"{n / last['elapsed_s']:.0f}", last["errors"] or "-"])
    progress(rows[-1])
    bare = load(server, n, (images / "sheet.png").read_bytes(), first=(r + 1) * n, in_flight=TRANSFERS,
                name="sheet.png")
    rates.setdefault(f"bare {server.name}", []).append(bare.load_rate)
    rows.append([f"round {r + 1}", server.name, "bare client", f"{bare.load_s:.1f}", f"{bare.load_s:.1f}",
                 f"{bare.idle_s:.1f}", f"{bare.load_rate:.0f}", f"{bare.load_rate:.0f}", "-"])
    progress(rows[-1])
    return float(last["requests"]) / last["elapsed_s"]


def main(quick: bool = False) -> None:
    n, rounds = sized(quick, (RECORDS, 3), (300, 1), (20, 1))
    per_minute = 1500
    rows: list[list[object]] = []
    limited: list[list[object]] = []
    rates: dict[str, list[float]] = {}
    request_rates: list[float] = []
    names: list[str] = []
    with tempfile.TemporaryDirectory(prefix="depot-bench-run-") as tmp:
        csv, images = make_source(Path(tmp), n)
        for r in range(rounds):
            with contextlib.ExitStack() as stack:
                servers = [stack.enter_context(serve("--rate-limit", "0", "--search-rate-limit", "0"))]
                if have_yardstick():
                    servers.append(stack.enter_context(serve_yardstick()))
                for server in servers:
                    request_rate = side_by_side(server, r, n, csv, images, Path(tmp), rows, rates)
                    if server.admin:
                        request_rates.append(request_rate)
                names = [s.name for s in servers]
        if not smoke():
            burst_rate = median(request_rates)
            with serve("--rate-limit", f"{per_minute}/{per_minute * 50}", "--search-rate-limit", "0") as server:
                seconds, last = deposit(server.base, server.token, csv, images, Path(tmp) / "limited.sqlite3",
                                        "--transfers", str(TRANSFERS))
                ideal = max(0, last["requests"] - per_minute) / (per_minute / 60)
                used = ideal / (last["elapsed_s"] - per_minute / burst_rate)
                throttled = last["errors"].get("429", 0)
                limited.append([f"{per_minute}/min", last["published"], f"{seconds:.1f}",
                                f"{last['requests'] / seconds:.1f}", f"{used:.1%}", throttled])
    for name in names:
        for who in ("run", "bare"):
            rows.append(["median", name, "depot run" if who == "run" else "bare client", "", "", "",
                         f"{median(rates[f'{who} {name}']):.0f}",
                         f"{median(rates[f'run own {name}']):.0f}" if who == "run" else "", ""])
    table(f"depot run beside the bare client, {n} one-image records (100 KB), {TRANSFERS} in flight "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
          ["round", "server", "client", "wall s", "own s", "until idle s", "records/s (wall)",
           "records/s (own)", "errors"], rows)
    for name in names:  # round by round: both clients met the same machine load
        wall = [a / b for a, b in zip(rates[f"run {name}"], rates[f"bare {name}"], strict=True)]
        own = [a / b for a, b in zip(rates[f"run own {name}"], rates[f"bare {name}"], strict=True)]
        print(f"depot run / bare client against {name}: {median(wall):.2f} wall ({min(wall):.2f}-{max(wall):.2f}), "
              f"{median(own):.2f} from its first request ({min(own):.2f}-{max(own):.2f}); medians of {rounds} "
              "rounds")
    if limited:
        table("depot run against a rate-limited depot serve (Zenodo's 100/min, scaled)",
              ["server limit", "records", "seconds", "requests/s", "share of limit used", "429s"], limited)
