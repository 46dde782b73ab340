"""`depot run` under the 2019 pilot's fault mix x20, side by side with the same run without faults.

Each round deposits the same one-image records into fresh `depot serve` instances:
1. plain;
2. ``--faults zenodo-2019 --fault-scale 20``, as shipped: about one request in eight fails (5xx before
   or after the commit, dropped answers, reset uploads; src/depot/repository/faults/profiles/), and the
   profile's 10 s outage window (every request answered 404 from 30 s after the server starts) is met
   by any run that lasts that long;
3. the same fault mix x20 without the outage window (the shipped file minus its [[outages]]), which is
   what "throughput under the fault mix" means for a run that is not short next to an outage.
The figure is records/s over the run's own time (the last progress event's ``elapsed_s``: from the start
of work to the end, without interpreter start-up and planning); medians over the rounds, and the ratio
faulty / plain (goal >= 0.8), also per round (the cases of a round run back to back). Exactly-once is
checked on the server after every faulty run: every key published once (duplicates 0), no draft left
(drafts 0).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx

from bench.deposit_run import make_source
from bench.harness import median, serve, sized, smoke, table

# DEPOT_BENCH_RECORDS / DEPOT_BENCH_ROUNDS: a longer run, whose tail (the last probes) weighs less.
RECORDS = int(os.environ.get("DEPOT_BENCH_RECORDS", "300"))
ROUNDS = int(os.environ.get("DEPOT_BENCH_ROUNDS", "3"))
TRANSFERS = 8
FAULTS = ("--faults", "zenodo-2019", "--fault-scale", "20")


def mix_only(folder: Path) -> tuple[str, ...]:
    """The shipped zenodo-2019 profile without its outage window, as a file."""
    text = (files("depot.repository.faults") / "profiles" / "zenodo-2019.toml").read_text(encoding="utf-8")
    path = folder / "zenodo-2019-mix.toml"
    path.write_text(text.split("[[outages]]")[0], encoding="utf-8")
    return ("--faults", str(path), "--fault-scale", "20")


def run(base: str, token: str, csv: Path, images: Path, ledger: Path) -> dict[str, Any]:
    env = {**os.environ, "DEPOT_TOKEN": token}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "depot", "run", str(csv), "--images", str(images),
                             "--path-template", "{images}/sheet.png", "--target", f"{base}/api", "--ledger",
                             str(ledger), "--profile", "specimen", "--var", "institution=Bench Herbarium",
                             "--var", "license=cc-by-4.0", "--transfers", str(TRANSFERS), "--progress", "json"],
                            capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    events = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
    if not events:
        raise RuntimeError(f"depot run printed no progress ({result.returncode}): {result.stderr[-2000:]}")
    return {**events[-1], "wall_s": wall, "exit": result.returncode}


def steady_rate(ledger: Path, share: float = 0.9) -> float:
    """Records/s until ``share`` of them were published (from the first request, per the ledger): the
    run's pace without its last stragglers, which in a short run wait out a probe (2 s, then 5 s)."""
    import sqlite3
    from datetime import datetime

    with sqlite3.connect(ledger) as db:
        start = datetime.fromisoformat(db.execute("SELECT min(at) FROM attempts").fetchone()[0])
        done = sorted(datetime.fromisoformat(r[0]) for r in db.execute(
            "SELECT published_at FROM specimens WHERE published_at IS NOT NULL"))
    k = max(1, int(len(done) * share))
    return k / max((done[k - 1] - start).total_seconds(), 1e-3)


def server_state(base: str, token: str) -> tuple[int, int, int]:
    """(published keys, duplicated keys, drafts left) as the server sees them; its own 5xx and outage 404s
    are retried."""
    deps: list[dict[str, Any]] = []
    page = 1
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        while True:
            for _ in range(60):  # through the profile's outage window too (10 s of 404)
                reply = client.get(f"{base}/api/deposit/depositions",
                                   params={"size": 100, "page": page, "all_versions": 1})
                if reply.status_code < 500 and reply.status_code != 404:
                    break
                time.sleep(0.5)
            reply.raise_for_status()
            batch = reply.json()
            deps += batch
            if len(batch) < 100:
                break
            page += 1
    keys = Counter(r["identifier"] for d in deps if d["submitted"]
                   for r in d["metadata"].get("related_identifiers", []) if r["relation"] == "isAlternateIdentifier")
    return len(keys), sum(1 for n in keys.values() if n > 1), sum(1 for d in deps if not d["submitted"])


def faults_seen(data: Path) -> Counter[str]:
    log = data / "faults.log"
    if not log.exists():
        return Counter()
    return Counter(json.loads(line)["fault"] for line in log.read_text().splitlines() if line.strip())


def main(quick: bool = False) -> None:
    quick = quick or smoke()
    n, rounds = sized(quick, (RECORDS, ROUNDS), (60, 1), (20, 1))
    rows: list[list[object]] = []
    rates: dict[str, list[float]] = {}
    steady: dict[str, list[float]] = {}
    exact: list[bool] = []
    with tempfile.TemporaryDirectory(prefix="depot-bench-faults-") as tmp:
        csv, images = make_source(Path(tmp), n)
        cases: tuple[tuple[str, tuple[str, ...]], ...] = (("no faults", ()), ("zenodo-2019 x20", FAULTS))
        if not quick:  # a quick run is over before the outage window opens
            cases += (("zenodo-2019 x20, no outage", mix_only(Path(tmp))),)
        for r in range(rounds):
            for c, (label, flags) in enumerate(cases):
                with serve("--rate-limit", "0", "--search-rate-limit", "0", *flags) as server:
                    ledger = Path(tmp) / f"{r}-{c}.sqlite3"
                    last = run(server.base, server.token, csv, images, ledger)
                    published, duplicates, drafts = server_state(server.base, server.token)
                    seen = faults_seen(server.data_dir)
                rate = last["published"] / last["elapsed_s"]
                rates.setdefault(label, []).append(rate)
                steady.setdefault(label, []).append(steady_rate(ledger))
                if flags:
                    exact.append(duplicates == 0 and drafts == 0 and published == n)
                injected = sum(v for k, v in seen.items() if not k.startswith("outage"))
                rows.append([f"{label}, round {r + 1}", f"{published}/{n}", f"{last['elapsed_s']:.1f}",
                             f"{rate:.1f}", f"{steady[label][-1]:.1f}", last["requests"], injected, last["probes"],
                             last["retries"],
                             "yes" if seen.get("outage-404") else "no", duplicates, drafts, last["exit"]])
    for label, values in rates.items():
        rows.append([f"median {label}", "", "", f"{median(values):.1f}", f"{median(steady[label]):.1f}",
                     "", "", "", "", "", "", "", ""])
    table(f"depot run, {n} one-image records, {TRANSFERS} transfers, against depot serve with and without "
          "--faults zenodo-2019 --fault-scale 20 (the machine is shared with other jobs)",
          ["case", "published", "seconds", "records/s", "to 90 %", "requests", "faults", "probes", "retries",
           "outage hit", "duplicates", "drafts", "exit"], rows)
    plain, plain90 = median(rates["no faults"]), median(steady["no faults"])
    for label, _ in cases[1:]:
        # Each round runs its cases back to back, so a ratio within a round shares that round's load; the
        # median of those ratios is steadier than a ratio of medians when the load drifts between rounds.
        per_round = [f / p for f, p in zip(rates[label], rates["no faults"], strict=True)]
        print(f"{label} / no faults (medians): records/s {median(rates[label]) / plain:.2f}, "
              f"records/s to 90 % {median(steady[label]) / plain90:.2f}; per round "
              f"{', '.join(f'{x:.2f}' for x in per_round)}, median {median(per_round):.2f}  (goal >= 0.80)")
    print(f"exactly-once (0 duplicates, 0 drafts, all published) in {sum(exact)}/{len(exact)} faulty runs")
