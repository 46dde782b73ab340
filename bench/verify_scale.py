"""`depot verify` at the pilot's error rate, against `depot serve --faults zenodo-2019`, projected to 281,372.

The 2019 pilot published 281,372 records; re-reading them all is 281,372 GETs. The zenodo-2019 profile
fails 0.2 % of GETs (502 and 504) and, 30 s after the server starts, answers everything with 404 for
10 s (the database incident). Before, verify stopped at the first of these: the chance that it
finished was 0.998^n (0.55 at 300 records, about 10^-245 at 281,372).

Here: REAL distinct records are deposited on a sound `depot serve`; a ledger of N published specimens
that stand for them (cycling; bench/ledger_fill.py) is written; the server is restarted with the faults
and `depot verify` reads all N (full: 20,000, so it meets the outage; quick: 2,000). Printed: its exit
code and summary, the faults it met, its rate, and the projection to 281,372 records here and at
Zenodo's documented limits (100/min and 5,000/h: the hour window binds).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from bench.harness import serve, sized, table
from bench.ledger_fill import RealRecord, fill
from depot.deposit.reconcile import SERVER_FIELDS

PILOT = 281_372
ZENODO_PER_HOUR = 5000


def deposit(base: str, token: str, n: int) -> list[RealRecord]:
    """n published records, one small image each; as the server reports them."""
    out = []
    h = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{base}/api", headers=h, timeout=60) as client:
        for i in range(n):
            key = f"urn:catalog:VBENCH:{i}"
            meta = {"title": f"Fucus vesiculosus L. sheet {i}", "upload_type": "image", "image_type": "photo",
                    "creators": [{"name": "Bench Herbarium"}], "description": "A herbarium sheet.",
                    "related_identifiers": [{"identifier": key, "relation": "isAlternateIdentifier",
                                             "scheme": "other"}]}
            dep = client.post("/deposit/depositions", json={"metadata": meta}).raise_for_status().json()
            client.put(f"{dep['links']['bucket']}/V{i:05d}.png",
                       content=b"\x89PNG\r\n\x1a\n" + str(i).encode() * 64).raise_for_status()
            client.post(f"/deposit/depositions/{dep['id']}/actions/publish").raise_for_status()
            done = client.get(f"/deposit/depositions/{dep['id']}").raise_for_status().json()
            metadata = {k: v for k, v in done["metadata"].items() if k not in SERVER_FIELDS}
            out.append(RealRecord(int(done["id"]), done["doi"], str(done.get("conceptdoi") or ""),
                                  str((done.get("links") or {}).get("html") or ""), metadata,
                                  [(f["filename"], int(f["filesize"]), f["checksum"]) for f in done["files"]]))
    return out


def main(quick: bool = False) -> None:
    real, n = sized(quick, (300, 20_000), (50, 2_000), (10, 200))
    with tempfile.TemporaryDirectory(prefix="depot-bench-verify-") as tmp:
        data = Path(tmp) / "repo"
        data.mkdir()
        with serve("--rate-limit", "0", "--search-rate-limit", "0", data_dir=data) as server:
            records = deposit(server.base, server.token, real)
            token = server.token
        ledger = Path(tmp) / "ledger.sqlite3"
        fill(ledger, n, records=records, verified=False)
        with serve("--rate-limit", "0", "--search-rate-limit", "0", "--faults", "zenodo-2019",
                   data_dir=data) as server:
            started = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "depot", "verify", "--ledger", str(ledger), "--target",
                                     f"{server.base}/api"], capture_output=True, text=True,
                                    env={**os.environ, "DEPOT_TOKEN": token})
            seconds = time.perf_counter() - started
        faults = [orjson.loads(line) for line in (data / "faults.log").read_bytes().splitlines()] \
            if (data / "faults.log").exists() else []
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    transient = sum(1 for e in faults if not str(e.get("fault", "")).startswith("outage"))
    outage = sum(1 for e in faults if str(e.get("fault", "")).startswith("outage"))
    rate = n / seconds
    finish_before = math.log10(0.998) * PILOT
    table(f"depot verify of {n:,} records ({real} real ones, each read {n // real} times) against "
          f"depot serve --faults zenodo-2019 (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
          ["figure", "value"],
          [["exit code (0: finished, all agree)", result.returncode],
           ["summary", summary],
           ["faults met: 502/504 answers / outage 404s", f"{transient} / {outage}"],
           ["seconds / records per second", f"{seconds:.1f} / {rate:.0f}"],
           [f"projected: {PILOT:,} records here", f"{PILOT / rate / 60:.0f} min"],
           [f"projected: {PILOT:,} records at Zenodo's 5,000/h", f"{PILOT / ZENODO_PER_HOUR:.1f} h"],
           ["before: chance a 281,372-record verify finished", f"0.998^{PILOT} = 10^{finish_before:.0f}"]])
    if result.returncode != 0:
        print(result.stderr[-2000:])


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
