"""The depositor's own cost: `depot run` next to a bare aiohttp client, against the same servers.

Both do create -> PUT (one 100 KB file) -> publish per record with 16 in flight, A B A B in one run:
- against `depot serve` (no rate limit), goal: `depot run` >= 0.85 of the bare client's records/s;
- against the yardstick (../shared/yardstick/ideal_repo.py on uvicorn, the least a repository can do,
  with the listing `depot run`'s preflight reads: bench/yardstick_app.py), goal: >= 0.5 of the bare client.
The bare client is the yardstick's own ``repo_load.py``. CPU is the child process's user+system time
(``getrusage(RUSAGE_CHILDREN)`` around it), per record. For `depot run` it is also given for the
deposit phase alone (from its first progress line to its exit: start-up and planning, which read the
source and check every image, left out). Goal: <= 2 ms per one-image record. The records/s of
`depot run` are its deposit phase's (the progress line's ``elapsed_s`` starts after planning), as
``repo_load.py`` times only its load. Its image-checking processes outlive it by a moment and are not its
reaped children, so its rusage leaves them out: this bench makes itself their reaper (Linux's
``PR_SET_CHILD_SUBREAPER``), collects the pids of `depot run`'s descendants as it runs, waits for them
once it has exited, and adds their CPU in the column "with its processes".
Set DEPOT_YARDSTICK to the yardstick's folder if it is not ``../shared/yardstick`` beside the clone. Set
DEPOT_BENCH_BASELINE to another checkout's ``src`` folder to add its `depot run` to each round
(before/after figures in one run).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.deposit_run import make_source
from bench.harness import family, median, serve, serve_yardstick, table, yardstick_dir

RECORDS = 800
YARDSTICK = yardstick_dir()
BASELINE = os.environ.get("DEPOT_BENCH_BASELINE")


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bare(api: str, token: str, n: int) -> tuple[float, float]:
    """(records/s, CPU seconds) of the yardstick's bare aiohttp client."""
    before = _cpu_children()
    # "--token=...": a token may begin with "-", which argparse would take for an option
    out = subprocess.run([sys.executable, str(YARDSTICK / "repo_load.py"), "--api", api, f"--token={token}",
                          "--records", str(n), "--inflight", "16", "--size", "102400"],
                         capture_output=True, text=True, check=True).stdout
    cpu = _cpu_children() - before
    found = re.search(r"records/s ([\d.]+) .* failures (\d+)", out)
    if not found or int(found.group(2)):
        raise RuntimeError(f"repo_load.py: {out.strip()}")
    return float(found.group(1)), cpu


@contextlib.contextmanager
def code_from(src: str | None) -> Iterator[None]:
    """`depot` run as a subprocess imports from ``src`` (None: this checkout)."""
    saved = os.environ.get("PYTHONPATH")
    if src:
        os.environ["PYTHONPATH"] = src
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def _subreaper() -> bool:
    """Become the reaper of orphaned descendants (Linux), so that their CPU can be waited for and counted."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def _reap(pids: set[int]) -> float:
    """CPU seconds of these former descendants, waited for now that they are our children (their own reaped
    children included); those another process reaped are counted in that one's figure."""
    total = 0.0
    for pid in sorted(pids):
        with contextlib.suppress(ChildProcessError):
            _, _, usage = os.wait4(pid, 0)
            total += usage.ru_utime + usage.ru_stime
    return total


def depositor(base: str, token: str, csv: Path, images: Path, ledger: Path
              ) -> tuple[float, float, float, int, float | None]:
    """(records/s of the deposit phase, CPU seconds of the whole process, CPU ms per record of the deposit
    phase, published, CPU seconds of the whole process with its descendants or None where they cannot be
    counted). The deposit phase starts at the first progress line (planning is done by then): the
    process's CPU time is read from /proc there, and from its rusage when it exits."""
    reaper = _subreaper()
    env = {**os.environ, "DEPOT_TOKEN": token}
    cmd = [sys.executable, "-m", "depot", "run", str(csv), "--images", str(images), "--path-template",
           "{images}/sheet.png", "--target", f"{base}/api", "--ledger", str(ledger), "--profile", "specimen",
           "--var", "institution=Bench Herbarium", "--var", "license=cc-by-4.0", "--progress", "json",
           "--transfers", "16"]
    lines: list[dict] = []
    start_cpu = 0.0
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env) as proc:
        assert proc.stderr is not None
        tail = []
        seen: set[int] = set()
        for line in proc.stderr:
            if line.startswith("{"):
                if not lines:
                    start_cpu = _cpu_of(proc.pid)
                lines.append(json.loads(line))
                seen |= set(family(proc.pid)[1:])  # once a progress line (a second): the checkers live all along
            else:
                tail.append(line)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"depot run failed ({proc.returncode}): {''.join(tail)[-2000:]}")
    total = usage.ru_utime + usage.ru_stime
    with_processes = total + _reap(seen) if reaper and seen else None
    first, last = lines[0], lines[-1]
    per_record = (total - start_cpu) / max(last["published"] - first["published"], 1)
    return (last["published"] / max(last["elapsed_s"], 1e-3), total, per_record * 1000, int(last["published"]),
            with_processes)


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def yardstick() -> Iterator[str]:
    with serve_yardstick() as server:
        yield server.base


def main(quick: bool = False) -> None:
    n = 300 if quick else RECORDS
    rounds = 1 if quick else 2
    rows: list[list[object]] = []
    codes = {"depot run": None, **({"depot run (baseline)": BASELINE} if BASELINE else {})}
    with tempfile.TemporaryDirectory(prefix="depot-bench-overhead-") as tmp:
        csv, images = make_source(Path(tmp), n)
        for server_name in ("depot serve", "yardstick"):
            rates: dict[str, list[float]] = {"bare client": [], **{name: [] for name in codes}}
            for r in range(rounds):  # A B A B: each client gets a fresh server of the same kind
                with _server(server_name) as (base, token):
                    rate, cpu = bare(base + "/api", token, n)
                rates["bare client"].append(rate)
                rows.append([server_name, r + 1, "bare client", f"{rate:.0f}", n, f"{cpu / n * 1000:.2f}", "", "",
                             ""])
                bare_rate = rate
                for name, src in codes.items():
                    with _server(server_name) as (base, token), code_from(src):
                        ledger = Path(tmp) / f"{server_name[:5]}-{r}-{len(rates[name])}-{name[-5:]}.sqlite3"
                        run_rate, run_cpu, deposit_ms, published, tree = depositor(base, token, csv, images, ledger)
                    rates[name].append(run_rate)
                    rows.append([server_name, r + 1, name, f"{run_rate:.0f}", published, f"{run_cpu / n * 1000:.2f}",
                                 f"{deposit_ms:.2f}", f"{tree / n * 1000:.2f}" if tree is not None else "?",
                                 f"{run_rate / bare_rate:.2f}"])
            base_median = median(rates["bare client"])
            for name, values in rates.items():
                rows.append([server_name, "median", name, f"{median(values):.0f}", "", "", "", "",
                             f"{median(values) / base_median:.2f}"])
    table(f"depot run vs a bare aiohttp client, {n} one-image records (100 KB), 16 in flight",
          ["server", "round", "client", "records/s", "published", "ms CPU/record", "deposit phase",
           "with its processes", "vs bare"], rows)


@contextlib.contextmanager
def _server(kind: str) -> Iterator[tuple[str, str]]:
    if kind == "yardstick":
        with yardstick() as base:
            yield base, "bench"
    else:
        with serve("--rate-limit", "0", "--search-rate-limit", "0") as server:
            yield server.base, server.token
