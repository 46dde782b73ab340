"""Bulk ingest (issue 14): `depot run --bulk` against `depot run` (per record) in the same run.

Each mode deposits N one-image records (a small PNG each, distinct bytes; fsync on, bags on) into a fresh
`depot serve` on SQLite. The figure is the whole job: from `depot run` starting to the repository being idle
(every bag written). Peak RSS of the server (VmHWM of `depot serve` plus its bag writer's) and of the client
(VmHWM of `depot run`, sampled while it runs) are given, and the CPU each side spent per record (the server's
includes its bag writer, the client's its image checkers): on 2 cores, that is what bounds the whole job.
The issue's goal: 281,372 records in <= 15 min on 2 cores and >= 4x the per-record path; the projection to
281,372 is linear in records at the measured rate.

``python -m bench bulk [--records N] [--batch-size B]`` (default N 3,000, B 1,000). DEPOT_BENCH_BULK_ONLY=1
runs the bulk mode alone (no ratio): for comparing two versions of the bulk path, round after round.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Server, family, noise_png, progress, serve, sized, table

PILOT = 281_372
TRANSFERS = 16


def make_source(folder: Path, n: int) -> tuple[Path, Path]:
    images = folder / "images"
    images.mkdir()
    csv = folder / "specimens.csv"
    with csv.open("w", encoding="utf-8") as fh:
        fh.write("occurrenceID,catalogNumber,scientificName,institutionCode,country\n")
        for i in range(n):
            (images / f"B{i:07d}.png").write_bytes(noise_png(120, seed=i))  # ~15 KB, distinct
            fh.write(f"urn:catalog:BULK:{i},B{i:07d},Fucus vesiculosus L.,BENCH,Norway\n")
    return csv, images


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def own_cpu(pid: int) -> float:
    """User plus system CPU of one live process (with its children that it waited for)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU of a live process and its live descendants (the bag writer, the forkserver)."""
    return sum(own_cpu(member) for member in family(pid))


def deposit(server: Server, csv: Path, images: Path, ledger: Path,
            *extra: str) -> tuple[float, float, float, dict[str, Any], float, float]:
    """(seconds until idle, seconds of `depot run`, client peak RSS MB, last progress line, client CPU seconds
    with its image checkers, the image checkers' CPU seconds alone)."""
    env = {**os.environ, "DEPOT_TOKEN": server.token}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "depot", "run", str(csv), "--images", str(images),
                                 "--path-template", "{images}/{catalogNumber}.png", "--target", f"{server.base}/api",
                                 "--ledger", str(ledger), "--profile", "specimen", "--var",
                                 "institution=Bench Herbarium", "--var", "license=cc-by-4.0", "--progress", "json",
                                 "--stats", "0", *extra], stdout=subprocess.DEVNULL, stderr=err, env=env)
        peak, checkers = [0.0], [0.0]

        def sample() -> None:
            while proc.poll() is None:
                peak[0] = max(peak[0], peak_rss_mb(proc.pid) or 0.0)
                # The image checkers are the forkserver's children, which nobody waits for: sampled live.
                checkers[0] = max(checkers[0], sum(own_cpu(p) for p in family(proc.pid)[1:]))
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        sampler.join()
        err.seek(0)
        text = err.read().decode(errors="replace")
    client_s = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) + checkers[0]
    if code != 0:
        raise RuntimeError(f"depot run {' '.join(extra)} failed ({code}): {text[-2000:]}")
    server.wait_idle()
    seconds = time.perf_counter() - started
    last = [json.loads(x) for x in text.splitlines() if x.startswith("{")][-1]
    return seconds, client_s, peak[0], last, client_cpu, checkers[0]


def job_seconds(server: Server) -> float:
    """Sum of the bulk jobs' own durations on the server (created -> finished)."""
    from datetime import datetime

    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{server.data_dir / 'repository.sqlite3'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT created, finished FROM bulk_jobs WHERE finished IS NOT NULL")).all()
    engine.dispose()
    return sum((datetime.fromisoformat(f) - datetime.fromisoformat(c)).total_seconds() for c, f in rows)


def main(quick: bool = False) -> None:
    n = int(os.environ.get("DEPOT_BENCH_RECORDS") or sized(quick, 3000, 600, 20))
    batch = int(os.environ.get("DEPOT_BENCH_BATCH_SIZE") or min(1000, max(1, n // 2)))
    rows: list[list[object]] = []
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="depot-bench-bulk-") as tmp:
        folder = Path(tmp)
        csv, images = make_source(folder, n)
        modes: list[tuple[str, tuple[str, ...], dict[str, str]]] = [
            ("per record", ("--transfers", str(TRANSFERS)), {}),
            ("bulk", ("--bulk", "--batch-size", str(batch)), {})]
        if os.environ.get("DEPOT_BENCH_BULK_ONLY"):
            modes = modes[1:]
        if os.environ.get("DEPOT_BENCH_BULK_BAGS_OFF"):  # what the bags cost (the figure is bags on)
            modes.append(("bulk, bags off", ("--bulk", "--batch-size", str(batch)), {"DEPOT_BAGS": "0"}))
        for i, (mode, extra, env) in enumerate(modes):
            # Each mode's repository is removed at the end, with the others: removing tens of thousands of
            # files right before the next mode would slow its file creation (ext4 passes over recently
            # freed inodes for minutes; measured here, 30 µs a file became 350-900 µs).
            repo = folder / f"repository-{i}"
            repo.mkdir()
            with serve("--rate-limit", "0", "--search-rate-limit", "0", env=env, data_dir=repo) as server:
                server_cpu = cpu_seconds(server.proc.pid)
                s, client_s, client_mb, last, client_cpu, checks_cpu = deposit(
                    server, csv, images, folder / f"{mode}.sqlite3", *extra)
                server_cpu = cpu_seconds(server.proc.pid) - server_cpu
                if last["published"] != n:
                    raise RuntimeError(f"{mode}: published {last['published']} of {n}")
                server_mb = sum(peak_rss_mb(pid) or 0.0 for pid in family(server.proc.pid))
                jobs = job_seconds(server) if mode.startswith("bulk") else None
                with contextlib.suppress(httpx.HTTPError):
                    server.wait_idle()
            seconds[mode] = s
            rows.append([mode, n, f"{s:.1f}", f"{client_s:.1f}", f"{last['elapsed_s']:.1f}", f"{n / s:.0f}",
                         f"{PILOT / (n / s) / 60:.0f}",
                         f"{jobs:.1f}" if jobs is not None else "-", f"{server_mb:.0f}", f"{client_mb:.0f}",
                         f"{server_cpu * 1000 / n:.1f}", f"{client_cpu * 1000 / n:.1f}",
                         f"{checks_cpu * 1000 / n:.1f}"])
            progress(rows[-1])
    table(f"bulk ingest against per-record deposit, {n} one-image records (~15 KB PNG), fsync and bags on, "
          f"batch size {batch} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
          ["mode", "records", "until idle s", "depot run s", "from 1st request s", "records/s",
           f"{PILOT:,} projected min", "server job s", "server peak MB", "client peak MB",
           "server CPU ms/rec", "client CPU ms/rec", "of which image checks"], rows)
    if "per record" not in seconds:
        return
    print(f"bulk / per record: {seconds['per record'] / seconds['bulk']:.2f}x faster (goal >= 4x); "
          f"projected {PILOT:,} records in {PILOT / (n / seconds['bulk']) / 60:.0f} min (goal <= 15)",
          file=sys.stdout)
