"""``depot report --html`` on a large synthetic ledger: seconds, peak memory and page size.

The ledger holds N specimens (1,000,000; --quick: 50,000), published over three days, with three
attempts each and the pilot's error mix (about 1 % of requests failed, by status), and 0.1 % failed.
The figure to watch is that memory stays flat as N grows: counting is done in SQL by time bucket and
the DOI list is streamed.
"""

from __future__ import annotations

import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import sized
from depot.deposit.ledger import Ledger

STATUSES = (500, 502, 504, 404)


def build(path: Path, n: int) -> None:
    Ledger.open(str(path)).close()  # the schema, by the ledger's own migrations
    start = datetime(2026, 5, 14, 8, 0, tzinfo=UTC)
    step = timedelta(days=3) / n
    db = sqlite3.connect(path)
    with db:
        for lo in range(0, n, 50_000):
            specimens, versions, attempts = [], [], []
            for i in range(lo, min(lo + 50_000, n)):
                at = (start + step * i).isoformat(timespec="microseconds")
                failed = i % 1000 == 7
                specimens.append((f"urn:catalog:BR:{i:07d}", i + 1, "failed" if failed else "published",
                                  "publish" if failed else None, None if failed else f"10.5072/depot.{2 * i + 2}",
                                  f"10.5072/depot.{2 * i + 1}", "{}", "x", "x", 502 if failed else None,
                                  "HTTP 502: Bad Gateway" if failed else None, at, at, None if failed else at, 0, 0))
                if not failed:
                    versions.append((f"urn:catalog:BR:{i:07d}", 2 * i + 2, 1, f"10.5072/depot.{2 * i + 2}", "x", "x",
                                     at))
                for step_name in ("create", "upload", "publish"):
                    status = STATUSES[i % 4] if i % 97 == 0 and step_name == "publish" else 200
                    attempts.append((f"urn:catalog:BR:{i:07d}", step_name, status, 120, at))
            db.executemany("INSERT INTO specimens (key, seq, state, step, doi, concept_doi, metadata, metadata_hash, "
                           "fingerprint, last_status, last_error, created_at, updated_at, published_at, attempts, "
                           "pending_put) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", specimens)
            db.executemany("INSERT INTO versions (specimen_key, deposition_id, version, doi, metadata_hash, "
                           "files_hash, published_at) VALUES (?,?,?,?,?,?,?)", versions)
            db.executemany("INSERT INTO attempts (specimen_key, step, status, duration_ms, at) VALUES (?,?,?,?,?)",
                           attempts)
    db.close()


def main(quick: bool = False) -> None:
    n = sized(quick, 1_000_000, 50_000, 2_000)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Path(tmp) / "ledger.sqlite3"
        t0 = time.perf_counter()
        build(ledger, n)
        built = time.perf_counter() - t0
        out = Path(tmp) / "report.html"
        t0 = time.perf_counter()
        # The real command in a child process, so that its peak memory is its own.
        result = subprocess.run([sys.executable, "-m", "depot", "report", "--ledger", str(ledger), "--html", str(out)],
                                capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"report-html: {n:,} specimens, 3 attempts each (ledger built in {built:.0f} s); machine shared, "
              "figures are one run")
        print(f"  depot report --html {seconds:6.1f} s | page {out.stat().st_size / 1e6:6.1f} MB | "
              f"peak RSS {peak / 1024:5.0f} MB | {result.stderr.strip()}")
