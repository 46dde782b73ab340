"""Peak server memory under a flood of large request bodies (issue 13): 32 clients at once each send a
200 MB body (60 MB multipart; quick: 8 clients, a tenth of the size, two scenarios) to `depot serve` over
loopback, every byte of it, whatever the server answers.

Scenarios, each on a fresh server so that the kernel's high-water mark (``VmHWM``) is the scenario's own:
anonymous JSON POSTs to /api/deposit/depositions (403), authenticated ones with a declared length (413
before reading) and chunked (413 while streaming), and anonymous multipart uploads (403). The figure is
the server's peak resident memory, against its idle peak after start-up. Goal: < 200 MB.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.harness import serve, sized, smoke, table

MB = 1_000_000
PIECE = b"{" * (1 << 20)
MULTIPART_HEAD = (b'--x\r\nContent-Disposition: form-data; name="file"; filename="flood.bin"\r\n'
                  b"Content-Type: application/octet-stream\r\n\r\n")
MULTIPART_TAIL = b"\r\n--x--\r\n"


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    authenticated: bool
    chunked: bool
    ctype: str = "application/json"
    size_mb: int = 200  # quick mode: a tenth


SCENARIOS = [
    Scenario("anonymous JSON POST", "/api/deposit/depositions", False, False),
    Scenario("authenticated JSON POST, Content-Length", "/api/deposit/depositions", True, False),
    Scenario("authenticated JSON POST, chunked", "/api/deposit/depositions", True, True),
    # 60 MB: under the 100 MiB multipart limit, so only authentication can refuse it before parsing
    Scenario("anonymous multipart POST", "/api/deposit/depositions/1/files", False, False,
             "multipart/form-data; boundary=x", 60),
]


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / MB
    return float("nan")


def _framed(data: bytes, chunked: bool) -> bytes:
    if not data:
        return b""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data


def flood_one(base: str, scenario: Scenario, token: str, size: int, statuses: list[str]) -> None:
    url = urlsplit(base)
    head = [f"POST {scenario.path} HTTP/1.1", "Host: bench", f"Content-Type: {scenario.ctype}",
            "Transfer-Encoding: chunked" if scenario.chunked else f"Content-Length: {size}"]
    if scenario.authenticated:
        head.append(f"Authorization: Bearer {token}")
    # A well-formed multipart body (one file part), so that a server that parses before it authenticates
    # really reads it all; JSON bodies are a run of "{".
    prefix, suffix = (MULTIPART_HEAD, MULTIPART_TAIL) if scenario.ctype.startswith("multipart/") else (b"", b"")
    try:
        with socket.create_connection((url.hostname, url.port), timeout=120) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            sock.sendall(_framed(prefix, scenario.chunked))
            sent, size = len(prefix), size - len(suffix)
            while sent < size:  # the whole body, as a flood would, unless the server closes
                piece = PIECE[:min(len(PIECE), size - sent)]
                sock.sendall(_framed(piece, scenario.chunked))
                sent += len(piece)
            sock.sendall(_framed(suffix, scenario.chunked))
            if scenario.chunked:
                sock.sendall(b"0\r\n\r\n")
            statuses.append(sock.recv(64).split(b" ")[1].decode())
    except OSError as exc:  # closed by the server after its answer
        statuses.append(type(exc).__name__)


def run(scenario: Scenario, clients: int, quick: bool) -> list[object]:
    size = scenario.size_mb * MB // sized(quick, 1, 10, 100)
    with serve("--rate-limit", "0", env={"DEPOT_FIXITY_CYCLE": "0", "DEPOT_BAGS": "0"}) as server:
        idle = peak_rss_mb(server.proc.pid)
        statuses: list[str] = []
        threads = [threading.Thread(target=flood_one, args=(server.base, scenario, server.token, size, statuses))
                   for _ in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        peak = peak_rss_mb(server.proc.pid)
    answers = ", ".join(f"{s} x{statuses.count(s)}" for s in sorted(set(statuses)))
    return [scenario.name, f"{clients} x {size // MB} MB", answers, f"{elapsed:.1f}", f"{idle:.0f}", f"{peak:.0f}",
            "yes" if peak < 200 else "NO"]


def main(quick: bool = False) -> None:
    quick = quick or smoke()
    clients = sized(quick, 32, 8, 4)
    scenarios = [SCENARIOS[0], SCENARIOS[2]] if quick else SCENARIOS  # quick: under a minute
    rows = [run(s, clients, quick) for s in scenarios]
    table(f"Body flood: peak server RSS (VmHWM), {clients} concurrent clients, loopback, machine shared with "
          "other agents", ["scenario", "bodies", "answers", "seconds", "idle MB", "peak MB", "< 200 MB"], rows)


if __name__ == "__main__":
    main()
