"""One large file (1 GiB; --quick 256 MiB; --size-mb N) into `depot serve`: as a resumable upload (tus, 32 MiB
PATCHes, the depositor's client) and as one plain PUT (the depositor's client), against ``curl -T`` to a
minimal ASGI app that streams to an fsync'd file (``bench/fsync_sink_app.py``), side by side in one run.

Rounds alternate the three; each is a fresh file name on the same servers. Figures: MB/s (median of the
rounds), the ratio to curl's (goal >= 0.8), the servers' peak resident memory (VmHWM) and the client's.
Usage: ``python -m bench resumable [--size-mb N] [--quick]`` (or DEPOT_BENCH_SIZE_MB).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.harness import free_port, median, serve, sized, table

MIB = 1024 * 1024
MB = 1_000_000


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / MB
    return float("nan")


def make_file(path: Path, size: int) -> None:
    piece = os.urandom(8 * MIB)
    with path.open("wb") as fh:
        left = size
        while left:
            n = min(len(piece), left)
            fh.write(piece[:n])
            left -= n


def start_sink(sink_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.fsync_sink_app:app", "--port", str(port),
                             "--log-level", "warning", "--http", "httptools"],
                            env={**os.environ, "SINK_DIR": str(sink_dir)})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/ready", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the fsync sink did not start")


def curl(base: str, source: Path, name: str) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-sS", "-o", "/dev/null", "-H", "Expect:", "-T", str(source), f"{base}/{name}"],
                   check=True)
    return time.perf_counter() - started


async def depot_upload(base: str, token: str, source: Path, name: str, resumable: bool) -> float:
    from depot.deposit.client import RepositoryClient
    from depot.deposit.resumable import Resumable

    async with RepositoryClient(f"{base}/api", token) as client:
        dep = await client.create({})
        bucket = dep["links"]["bucket"]
        started = time.perf_counter()
        if resumable:
            tus = Resumable(client)
            assert await tus.supported()
            await tus.upload(bucket, name, source)
        else:
            await client.put_file(bucket, name, source)
        return time.perf_counter() - started


def main(quick: bool = False, size_mb: int | None = None) -> None:
    size_mb = size_mb or int(os.environ.get("DEPOT_BENCH_SIZE_MB") or 0) or None
    size = (size_mb or sized(quick, 1024, 256, 8)) * MIB
    rounds = sized(quick, 3, 2, 1)
    with tempfile.TemporaryDirectory(prefix="bench-resumable-") as tmp:
        source = Path(tmp) / "large.tif"
        make_file(source, size)
        sink_dir = Path(tmp) / "sink"
        sink_dir.mkdir()
        sink, sink_base = start_sink(sink_dir)
        seconds: dict[str, list[float]] = {"curl -T → fsync sink": [], "depot tus (32 MiB PATCHes)": [],
                                           "depot PUT": []}
        peaks: dict[str, float] = {}
        try:
            with serve("--rate-limit", "0") as tus_server, serve("--rate-limit", "0") as put_server:
                for r in range(rounds):
                    seconds["curl -T → fsync sink"].append(curl(sink_base, source, f"r{r}.bin"))
                    for f in sink_dir.iterdir():
                        f.unlink()
                    seconds["depot tus (32 MiB PATCHes)"].append(asyncio.run(
                        depot_upload(tus_server.base, tus_server.token, source, f"r{r}.tif", True)))
                    seconds["depot PUT"].append(asyncio.run(
                        depot_upload(put_server.base, put_server.token, source, f"r{r}.tif", False)))
                    print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in seconds.items()),
                          file=sys.stderr)
                peaks = {"curl -T → fsync sink": peak_rss_mb(sink.pid),
                         "depot tus (32 MiB PATCHes)": peak_rss_mb(tus_server.proc.pid),
                         "depot PUT": peak_rss_mb(put_server.proc.pid)}
        finally:
            sink.terminate()
            sink.wait(10)
    client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000
    base = size / MB / median(seconds["curl -T → fsync sink"])
    rows = []
    for name, values in seconds.items():
        rate = size / MB / median(values)
        rows.append([name, f"{median(values):.2f}", f"{rate:.0f}", f"{rate / base:.2f}", f"{peaks[name]:.0f}"])
    table(f"One {size // MIB} MiB file over loopback, median of {rounds} round(s); load: {os.getloadavg()[0]:.2f}",
          ["path", "seconds", "MB/s", "ratio to curl", "server peak RSS MB"], rows)
    print(f"client (this process, both depot paths) peak RSS: {client_peak:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.resumable")
    parser.add_argument("--size-mb", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    main(quick=args.quick, size_mb=args.size_mb)
