"""The image check (decode + barcodes, depot.deposit.images) on 60 MP and larger herbarium sheets.

Sheets: the ICEDIG sheet (7319 x 10319, 75.5 MP, 2.5 MB; its EAN-13 is read at 1/4 scale), the same
upscaled 1.2x (108 MP), and two cases that cost a second, finer pass: the sheet checked under another
specimen's key (a swapped image) and the sheet with its barcode label painted out (no barcode). Each set
checks the same file N times without the cache (the file stays in the page cache: disk reads are not
measured). Goal: >= 3 sheets/s on 2 processes, above the ~2.3 one-image records/s of Zenodo's budget.

The added cost: the same N records deposited by `depot run` into `depot serve` on loopback (one 75 MP
JPEG each), against the time FileChecker takes for them (pool start included).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyvips

from bench.harness import median, serve, sized, smoke, table
from depot.deposit.images import BarcodeMode, FileChecker, ImageRules, check_file

SHEET = Path(os.environ.get("DEPOT_CORPUS", Path(__file__).resolve().parents[1] / "tests" / "data" / "corpus")) / \
    "icedig-benchmark-BR0000008525000" / "BR0000008525000.jpg"
KEY = "BR0000008525000"
RULES = ImageRules(min_bytes=100_000, min_pixels=4_000_000, barcode=BarcodeMode.CHECK, key_prefixes=("BR",))


def make_sheets(folder: Path, upscaled: bool, painted: bool) -> dict[str, tuple[Path, str]]:
    """Name -> (file, key it is checked under); the 108 MP sheet and the one without a barcode only if
    asked (each takes seconds to make)."""
    own = folder / "BR0000008525000.jpg"
    shutil.copy(SHEET, own)
    big = folder / "upscaled.jpg"
    if upscaled:
        pyvips.Image.new_from_file(str(SHEET), access="sequential").resize(1.2).write_to_file(str(big), Q=85)
    bare = folder / "bare.jpg"
    if painted:
        sheet = pyvips.Image.new_from_file(str(SHEET), access="sequential")
        white = (pyvips.Image.black(2562, 1443, bands=3) + 255).cast("uchar")
        sheet.insert(white, 3660, 7014).write_to_file(str(bare), Q=90)  # the barcode label, painted out
    sheets = {"75 MP, own barcode": (own, KEY), "108 MP, own barcode": (big, KEY),
              "75 MP, another's barcode (swapped)": (own, "BR0000000000001"), "75 MP, no barcode": (bare, KEY)}
    return {name: sheet for name, sheet in sheets.items() if sheet[0].exists()}


def check_rate(path: Path, key: str, n: int, processes: int, rules: ImageRules = RULES) -> tuple[float, float, int]:
    """(seconds for n checks once the pool runs; seconds from the pool's start, which adds one warm-up
    sheet per process: a pessimistic figure; problems found)."""
    items = [(key, str(path), path.name)] * n
    started = time.perf_counter()
    with FileChecker(rules, processes=processes) as checker:
        list(checker.check(items[:max(processes, 1)]))  # start the workers (imports, first decode)
        warm = time.perf_counter()
        results = list(checker.check(items))
        done = time.perf_counter()
    return done - warm, done - started, sum(bool(r.problems) for r in results)


def cpu_per_sheet(path: Path, key: str, rules: ImageRules, n: int) -> float:
    """CPU seconds one check takes in this process with one libvips thread (what a worker does): a figure
    the other agents' load does not change much."""
    pyvips.concurrency_set(1)
    check_file(str(path), path.name, key, rules)
    started = time.process_time()
    for _ in range(n):
        check_file(str(path), path.name, key, rules)
    return (time.process_time() - started) / n


def deposit_seconds(folder: Path, n: int) -> float:
    images = folder / "deposit-images"
    images.mkdir(exist_ok=True)
    shutil.copy(SHEET, images / "sheet.jpg")
    csv = folder / "sheets.csv"
    csv.write_text("occurrenceID,catalogNumber,scientificName,institutionCode\n" + "".join(
        f"urn:catalog:BR:{i},BR{i:013d},Barleria velutina Champl.,BR\n" for i in range(n)), encoding="utf-8")
    with serve("--rate-limit", "0", "--search-rate-limit", "0") as server:
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "depot", "run", str(csv), "--images", str(images),
                                 "--path-template", "{images}/sheet.jpg", "--target", f"{server.base}/api",
                                 "--ledger", str(folder / f"ledger-{time.monotonic_ns()}.sqlite3"),
                                 "--profile", "specimen", "--var", "institution=Meise Botanic Garden",
                                 "--var", "license=cc-by-4.0"], capture_output=True, text=True,
                                env={**os.environ, "DEPOT_TOKEN": server.token})
        seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"depot run failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds


def main(quick: bool = False) -> None:
    if not SHEET.exists():
        print(f"skipped: {SHEET} not found (set DEPOT_CORPUS)")
        return
    quick = quick or smoke()
    # quick: the common case and a decode-only run, under a minute when loaded; smoke: the same, 2 sheets
    n, rounds, cpu_rounds = sized(quick, (12, 3, 4), (4, 1, 1), (2, 1, 1))
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="depot-bench-barcodes-") as tmp:
        folder = Path(tmp)
        sheets = make_sheets(folder, upscaled=not quick, painted=not smoke())
        cases = [(name, path, key, 2, RULES) for name, (path, key) in sheets.items()
                 if not quick or name == "75 MP, own barcode"]
        own, _ = sheets["75 MP, own barcode"]
        cases += [("75 MP, own barcode, 1 process", own, KEY, 1, RULES)] * (not quick)
        cases += [("75 MP, barcode off (decode only)", own, KEY, 2, ImageRules(min_pixels=4_000_000))]
        rows = []
        seconds_for: dict[str, float] = {}
        for name, path, key, processes, rules in cases:
            times, cold, problems = [], [], 0
            for _ in range(rounds):
                seconds, with_start, problems = check_rate(path, key, n, processes, rules)
                times.append(seconds)
                cold.append(with_start)
            image = pyvips.Image.new_from_file(str(path))
            cpu = cpu_per_sheet(path, key, rules, cpu_rounds)
            seconds_for[name] = median(cold)
            rows.append([name, f"{image.width}x{image.height}", processes, n, f"{n / median(times):.1f}",
                         f"{n / max(times):.1f}", f"{n / median(cold):.1f}", f"{cpu:.2f}", f"{2 / cpu:.1f}",
                         problems])
        table(f"image check, {n} sheets per set, median of {rounds} rounds (load average {load:.1f} on "
              f"{os.cpu_count()} cores, shared with other agents)",
              ["set", "pixels", "processes", "sheets", "sheets/s", "worst", "from pool start",
               "CPU s/sheet", "sheets/s on 2 idle cores (2 / CPU s)", "problems"], rows)
        deposits = [deposit_seconds(folder, n) for _ in range(rounds)]
        checked = seconds_for["75 MP, own barcode"]
        table(f"added cost: {n} records with one 75 MP sheet each, median of {rounds} rounds",
              ["step", "median s", "records/s", "ratio to deposit"],
              [["depot run into depot serve (loopback, no rate limit)", f"{median(deposits):.2f}",
                f"{n / median(deposits):.1f}", "1.00"],
               ["image check, 2 processes, pool start included", f"{checked:.2f}", f"{n / checked:.1f}",
                f"{checked / median(deposits):.2f}"],
               ["Zenodo's request budget (~2.3 records/s)", f"{n / 2.3:.2f}", "2.3",
                f"{n / 2.3 / median(deposits):.2f}"]])
