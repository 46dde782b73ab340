"""`depot run` throughput: 2,000 one-image records against `depot serve` on loopback, twice.

1. No rate limit: records/s and requests/s, next to the repository's own ceiling (bench/repository_cycle.py).
2. The server enforcing Zenodo's 100 requests/min scaled up (1,500/min): the share of the limit the
   depositor uses and the 429s it meets (goal: >= 95 % and 0). The server's window is a moving minute,
   so the first minute's worth of requests goes at once (at the unlimited speed of case 1). The share
   is measured where the limit binds, after that burst: the ideal time for the other requests,
   (requests - limit) / (limit per second), over the time the run took for them.
The source is a CSV of 2,000 specimens sharing one 100 KB PNG (each record uploads it once).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import median, noise_png, serve, table

RECORDS = 2000


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


def main(quick: bool = False) -> None:
    n = 300 if quick else RECORDS
    per_minute = 1500
    rounds = 1 if quick else 3
    rows = []
    limited = []
    with tempfile.TemporaryDirectory(prefix="depot-bench-run-") as tmp:
        csv, images = make_source(Path(tmp), n)
        rates: list[float] = []
        request_rates: list[float] = []
        for r in range(rounds):
            with serve("--rate-limit", "0", "--search-rate-limit", "0") as server:
                seconds, last = deposit(server.base, server.token, csv, images, Path(tmp) / f"free-{r}.sqlite3",
                                        "--transfers", "16")
                rates.append(last["published"] / seconds)
                request_rates.append(last["requests"] / last["elapsed_s"])
                rows.append([f"no limit, round {r + 1}", last["published"], f"{seconds:.1f}",
                             f"{last['published'] / seconds:.0f}", f"{last['requests'] / seconds:.0f}",
                             last["errors"] or "-"])
        rows.append(["no limit, median", "", "", f"{median(rates):.0f}", "", ""])
        burst_rate = median(request_rates)
        with serve("--rate-limit", f"{per_minute}/{per_minute * 50}", "--search-rate-limit", "0") as server:
            seconds, last = deposit(server.base, server.token, csv, images, Path(tmp) / "limited.sqlite3",
                                    "--transfers", "16")
            ideal = max(0, last["requests"] - per_minute) / (per_minute / 60)
            used = ideal / (last["elapsed_s"] - per_minute / burst_rate)
            throttled = last["errors"].get("429", 0)
            limited.append([f"{per_minute}/min", last["published"], f"{seconds:.1f}",
                            f"{last['requests'] / seconds:.1f}", f"{used:.1%}", throttled])
    table(f"depot run, {n} one-image records (100 KB), 16 transfers, against depot serve",
          ["case", "records", "seconds", "records/s", "requests/s", "errors"], rows)
    table("depot run against a rate-limited depot serve (Zenodo's 100/min, scaled)",
          ["server limit", "records", "seconds", "requests/s", "share of limit used", "429s"], limited)
