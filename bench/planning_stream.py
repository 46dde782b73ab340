"""Planning that streams: `depot run` on a 281,372-row table against `depot serve --rate-limit 0`.

Measures, for the depot run process:
- time to first request: from the process start to the first create (POST /api/deposit/depositions) in
  the server's access log (the preflight's reads before it are not counted as the deposit's start);
- planning rate: specimens planned per second, until the ledger holds every specimen (key pass included),
  with the deposit running beside it;
- peak RSS (VmHWM of the process, its image-checking children not included).

The whole 281k deposit takes too long for a small machine: once planning has completed the deposit runs
DEPOT_BENCH_AFTER more seconds (default 20), then is stopped with SIGINT (as Ctrl-C), which is timed too.
On a loaded machine planning itself may take hours: DEPOT_BENCH_SECONDS stops the run that long after its
start whatever it has done (the rate is then what was planned so far). DEPOT_BENCH_RECORDS sets the size
(--quick: 2,000, which runs to the end). DEPOT_BENCH_BASELINE=SRC_DIR also runs the same measurement with
another Depot's source tree first on PYTHONPATH (say, an export of main: `git archive main src`), side by side.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.deposit_run import make_source
from bench.harness import serve, table

PILOT = 281_372


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process (its children not included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _count(ledger: Path, where: str = "") -> int:
    if not ledger.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(ledger.as_uri() + "?mode=ro", uri=True, timeout=5)) as conn:
            return int(conn.execute(f"SELECT count(*) FROM specimens {where}").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet, or locked for longer than the timeout
        return 0


def _first_create(access_log: Path) -> float | None:
    """Wall-clock start (epoch seconds) of the first create request the server logged."""
    if not access_log.exists():
        return None
    for line in access_log.read_text().splitlines():
        entry = json.loads(line)
        if entry["method"] == "POST" and entry["path"] == "/api/deposit/depositions":
            ended = datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).timestamp()
            return ended - entry["ms"] / 1000
    return None


def measure(n: int, after: float, folder: Path, *, csv: Path, images: Path, max_seconds: float | None = None,
            pythonpath: str | None = None) -> dict[str, float | int | str]:
    access_log = folder / "access.jsonl"
    ledger = folder / "ledger.sqlite3"
    with serve("--rate-limit", "0", "--search-rate-limit", "0", "--access-log", str(access_log)) as server:
        env = {**os.environ, "DEPOT_TOKEN": server.token}
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        cmd = [sys.executable, "-m", "depot", "run", str(csv), "--images", str(images), "--path-template",
               "{images}/sheet.png", "--target", f"{server.base}/api", "--ledger", str(ledger), "--profile",
               "specimen", "--var", "institution=Bench Herbarium", "--var", "license=cc-by-4.0",
               "--transfers", "8", "--progress", "quiet"]
        stderr = (folder / "run.err").open("wb")
        wall0, t0 = time.time(), time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        peak = planned_at = stopped_at = 0.0
        next_count = 0.0
        cpu: list[tuple[float, float]] = []  # (wall clock, CPU seconds of depot run)
        rss_minute = 0.0  # peak RSS in the first minute: the rest of the run should not grow past it much
        planned = 0
        while proc.poll() is None:
            peak = max(peak, _status_kb(proc.pid, "VmHWM"))
            if time.monotonic() - t0 <= 60:
                rss_minute = peak
            cpu.append((time.time(), _cpu_s(proc.pid)))
            now = time.monotonic()
            if not planned_at and now >= next_count:
                next_count = now + 2.0
                planned = _count(ledger)
                if planned >= n:
                    planned_at = now
            over = max_seconds is not None and now - t0 >= max_seconds
            if not stopped_at and ((planned_at and now - planned_at >= after) or over):
                stopped_at = now
                proc.send_signal(signal.SIGINT)
            time.sleep(0.1)
        ended = time.monotonic()
        stderr.close()
        planned = _count(ledger) if not planned_at else n
        if not planned_at:  # finished between two looks, or stopped before planning ended
            planned_at = stopped_at or ended
        first = _first_create(access_log)
        published = _count(ledger, "WHERE state = 'published'")
    if proc.returncode != 0 and not (stopped_at and proc.returncode == 4):  # 4: interrupted, as asked
        raise RuntimeError(f"depot run failed ({proc.returncode}): {(folder / 'run.err').read_text()[-2000:]}")
    return {
        "records": n,
        "first_request_s": round(first - wall0, 2) if first is not None else float("nan"),
        # the machine may be loaded: what the process itself had spent by then tells its own cost
        "first_request_cpu_s": round(max((c for w, c in cpu if first is not None and w <= first), default=0.0), 2),
        "planning_cpu_s": round(max((c for w, c in cpu if w <= wall0 + planned_at - t0), default=0.0), 1),
        "planned": planned,
        "planning_s": round(planned_at - t0, 1),
        "planned_per_s": round(planned / (planned_at - t0)),
        "rss_first_minute_mb": round(rss_minute / 1024, 1),
        "peak_rss_mb": round(peak / 1024, 1),
        "published": published,
        "stop_s": round(ended - stopped_at, 2) if stopped_at else 0.0,
        "ended": (f"SIGINT at {stopped_at - t0:.0f} s" + (" after planning" if planned >= n else ""))
        if stopped_at else f"finished (exit {proc.returncode})",
    }


def main(quick: bool = False) -> None:
    n = int(os.environ.get("DEPOT_BENCH_RECORDS") or (2000 if quick else PILOT))
    after = float(os.environ.get("DEPOT_BENCH_AFTER") or 20)
    max_seconds = float(os.environ["DEPOT_BENCH_SECONDS"]) if os.environ.get("DEPOT_BENCH_SECONDS") else None
    baseline = os.environ.get("DEPOT_BENCH_BASELINE")
    rows = []
    with tempfile.TemporaryDirectory(prefix="depot-bench-plan-") as tmp:
        csv, images = make_source(Path(tmp), n)
        for name, path in ([("baseline", baseline)] if baseline else []) + [("this tree", None)]:
            folder = Path(tmp) / name.replace(" ", "-")
            folder.mkdir()
            r = measure(n, after, folder, csv=csv, images=images, max_seconds=max_seconds, pythonpath=path)
            rows.append([name, r["first_request_s"], r["first_request_cpu_s"], f"{r['planned']}/{n}",
                         r["planning_s"], r["planning_cpu_s"], r["planned_per_s"], r["rss_first_minute_mb"],
                         r["peak_rss_mb"], r["published"], r["stop_s"] or "-", r["ended"]])
    table(f"depot run, {n} one-image records from a table, against depot serve --rate-limit 0",
          ["code", "first request (s)", "its CPU (s)", "planned", "in (s)", "its CPU (s)", "planned/s",
           "peak RSS 1st min (MB)", "peak RSS (MB)", "published", "stopped in (s)", "end"], rows)
