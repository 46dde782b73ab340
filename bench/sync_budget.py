"""`depot sync` request budget: 2,000 published records, 10 % of them changed, against `depot serve`.

Three syncs after one `depot run`, each counting the requests it sent (the goal of issue 6):
1. 10 % of the names corrected in the source: an edit in place each, exactly 3 requests (edit, PUT,
   publish), and 0 for the other 90 %.
2. 10 % of the images re-scanned: a new version each (newversion, DELETE the old scan, PUT the new one,
   PUT metadata, publish: 5 requests), 0 for the rest.
3. Nothing changed: 0 requests.
Each record has its own 20 KB image, so a re-scan changes one record only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import noise_png, serve, sized, table

RECORDS = 2000
SHARE = 0.10


def write_source(folder: Path, n: int, renamed: set[int]) -> Path:
    csv = folder / "specimens.csv"
    with csv.open("w", encoding="utf-8") as fh:
        fh.write("occurrenceID,catalogNumber,scientificName,institutionCode,country\n")
        for i in range(n):
            name = "Fucus serratus L." if i in renamed else "Fucus vesiculosus L."
            fh.write(f"urn:catalog:BENCH:{i},B{i:07d},{name},BENCH,Norway\n")
    return csv


def depot(command: str, base: str, token: str, csv: Path, images: Path, ledger: Path) -> tuple[float, dict]:
    env = {**os.environ, "DEPOT_TOKEN": token}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "depot", command, str(csv), "--images", str(images),
                             "--path-template", "{images}/{catalogNumber}.png", "--target", f"{base}/api",
                             "--ledger", str(ledger), "--profile", "specimen", "--var", "institution=Bench Herbarium",
                             "--var", "license=cc-by-4.0", "--transfers", "16", "--progress", "json"],
                            capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"depot {command} failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds, [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")][-1]


def main(quick: bool = False) -> None:
    n = sized(quick, RECORDS, 200, 20)
    changed = int(n * SHARE)
    rows = []
    with tempfile.TemporaryDirectory(prefix="depot-bench-sync-") as tmp:
        folder = Path(tmp)
        images = folder / "images"
        images.mkdir()
        for i in range(n):
            (images / f"B{i:07d}.png").write_bytes(noise_png(144))
        ledger = folder / "ledger.sqlite3"
        with serve("--rate-limit", "0", "--search-rate-limit", "0") as server:
            seconds, last = depot("run", server.base, server.token, write_source(folder, n, set()), images, ledger)
            rows.append(["deposit (depot run)", n, 0, last["requests"], "-", f"{seconds:.1f}"])
            # 1. Names corrected for 10 %: edits in place.
            renamed = set(range(0, n, n // changed))
            csv = write_source(folder, n, renamed)
            seconds, last = depot("sync", server.base, server.token, csv, images, ledger)
            rows.append(["10 % names corrected", n, len(renamed), last["requests"],
                         f"{last['requests'] / len(renamed):.2f}", f"{seconds:.1f}"])
            # 2. Images re-scanned for 10 % (others than the renamed): new versions.
            rescanned = [i + 1 for i in renamed]
            for i in rescanned:
                (images / f"B{i:07d}.png").write_bytes(noise_png(144))
            seconds, last = depot("sync", server.base, server.token, csv, images, ledger)
            rows.append(["10 % images re-scanned", n, len(rescanned), last["requests"],
                         f"{last['requests'] / len(rescanned):.2f}", f"{seconds:.1f}"])
            # 3. Nothing changed.
            seconds, last = depot("sync", server.base, server.token, csv, images, ledger)
            rows.append(["nothing changed", n, 0, last["requests"], "-", f"{seconds:.1f}"])
    table(f"depot sync, {n} published one-image records, against depot serve (16 transfers)",
          ["case", "records", "changed", "requests", "requests per changed record", "seconds"], rows)
