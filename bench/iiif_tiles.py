"""IIIF tile latency on the largest herbarium sheet of the corpus (ICEDIG BR0000008525000, 7319 x 10319,
75.5 megapixels; the 62-megapixel Meise sheets are not in this copy of the corpus). Renders with
depot.repository.iiif directly and prints the median latency per kind of request, with peak memory.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from pathlib import Path

from bench.harness import sized, table
from depot.repository.iiif.images import dimensions, render
from depot.repository.iiif.params import resolve

SHEET = Path(os.environ.get("DEPOT_CORPUS", Path(__file__).resolve().parents[1] / "tests" / "data" / "corpus")) / \
    "icedig-benchmark-BR0000008525000" / "BR0000008525000.jpg"

CASES = [
    ("full-size tile at the top", ("0,0,512,512", "512,", "0", "default.jpg")),
    ("full-size tile in the middle", ("3584,5120,512,512", "512,", "0", "default.jpg")),
    ("full-size tile at the bottom", ("6656,9728,512,512", "512,", "0", "default.jpg")),
    ("1/8-scale tile (4096 px region)", ("0,0,4096,4096", "512,", "0", "default.jpg")),
    ("thumbnail !512,512", ("full", "!512,512", "0", "default.jpg")),
    ("viewer overview !1024,1024 gray", ("full", "!1024,1024", "0", "gray.jpg")),
]


def main(quick: bool = False) -> None:
    if not SHEET.exists():
        print(f"skipped: {SHEET} not found (set DEPOT_CORPUS)")
        return
    width, height = dimensions(SHEET)
    rounds = sized(quick, 9, 3, 1)
    rows = []
    for label, args in CASES:
        op = resolve(*args, width, height)
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            render(SHEET, op)
            times.append(time.perf_counter() - started)
        rows.append([label, f"{op.out_w}x{op.out_h}", f"{statistics.median(times) * 1000:.0f}",
                     f"{max(times) * 1000:.0f}"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table(f"IIIF on a {width}x{height} JPEG ({width * height / 1e6:.1f} MP), {rounds} rounds; peak RSS {peak:.0f} MB "
          f"(the decoded sheet alone would be {width * height * 3 / 1e6:.0f} MB)",
          ["request", "output", "median ms", "max ms"], rows)
