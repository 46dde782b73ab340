"""Lost answers under 64 concurrent clients (issue 13), and repository throughput against the yardstick.

Lost answers: 64 client threads, each with its own httpx.Client (keep-alive, as the suite's clients),
create a deposition, search the records, then pause 4.5-5.5 s (as a depositor pauses on its rate budget
or image checks), over and over. The pause straddles the server's old keep-alive timeout (uvicorn's 5 s,
also httpx's idle expiry), which is where a request meets a connection the server is closing: its timer
fires (uvloop runs due timers before it reads new bytes), it closes with the request unread, and the
client gets a reset with no answer. So the pauses are a stress aimed at that race, and the first request
after each pause (the create) is the one at risk. A request is *lost* when it got no HTTP answer at all
(any transport error); every answer, whatever its status, counts as answered.

Before/after in one run: "before" is `depot serve` with uvicorn's default keep-alive of 5 s (what it ran
with until the ``keep_alive_seconds`` setting), or the code of git revision DEPOT_BENCH_BEFORE if set;
"after" is this tree's default. Throughput: the yardstick's own client (``repo_load.py``, 16 in flight)
against the yardstick app, "before" and "after", in turns; the figure is each one's median records/s
divided by the yardstick's.

Size: DEPOT_BENCH_RECORDS creates (each after a pause) per lost-answer scenario and records per throughput
round (default 2048; --quick 128). The yardstick is found at DEPOT_YARDSTICK or ../shared/yardstick.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.harness import median, serve, serve_yardstick, table

REPO_ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 64
PAUSE_S = (4.5, 5.5)
META = {"metadata": {
    "title": "Fucus vesiculosus L. (TROM-A-1)", "upload_type": "image", "image_type": "photo",
    "description": "Herbarium specimen image.", "creators": [{"name": "Bench Herbarium"}],
    "access_right": "open", "license": "cc-by-4.0"}}
QUIET = {"DEPOT_FIXITY_CYCLE": "0", "DEPOT_BAGS": "0"}


@dataclass
class Tally:
    requests: int = 0
    lost: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, client: httpx.Client, method: str, url: str, **kw: object) -> httpx.Response | None:
        try:
            r = client.request(method, url, **kw)  # type: ignore[arg-type]
        except httpx.TransportError as exc:  # no HTTP answer at all
            with self.lock:
                self.requests += 1
                self.lost += 1
                self.errors[f"{method} {type(exc).__name__}: {exc}"[:120]] += 1
            return None
        with self.lock:
            self.requests += 1
            self.statuses[r.status_code] += 1
        return r


def _client(base: str, token: str, cycles: int, tally: Tally, rng: random.Random) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as c:
        for _ in range(cycles):
            tally.call(c, "POST", "/api/deposit/depositions", json=META)
            tally.call(c, "GET", "/api/records", params={"size": 1})
            time.sleep(rng.uniform(*PAUSE_S))


def lost_answers(env: dict[str, str], cycles: int) -> list[object]:
    per_client = max(1, cycles // CLIENTS)
    tally = Tally()
    with serve("--rate-limit", "0", "--search-rate-limit", "0", env={**QUIET, **env}) as server:
        threads = [threading.Thread(target=_client, args=(server.base, server.token, per_client, tally,
                                                          random.Random(i))) for i in range(CLIENTS)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - start
    answered = sum(tally.statuses.values())
    rate = f"1 in {tally.requests // tally.lost}" if tally.lost else "0"
    first = tally.errors.most_common(1)[0][0] if tally.errors else ""
    return [tally.requests, answered, tally.lost, rate, f"{seconds:.0f}",
            ", ".join(f"{s} x{n}" for s, n in sorted(tally.statuses.items())), first]


@contextlib.contextmanager
def yardstick(path: Path) -> Iterator[str]:
    """The yardstick app (bench.harness.serve_yardstick, from ``path``); yields its API URL."""
    os.environ["DEPOT_YARDSTICK"] = str(path)
    with serve_yardstick() as server:
        yield f"{server.base}/api"


def _wait(url: str) -> None:
    for _ in range(300):
        with contextlib.suppress(httpx.TransportError):
            httpx.get(url, timeout=1)
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within 30 s")


def repo_load(path: Path, api: str, token: str, records: int) -> tuple[float, int]:
    """(records/s, failures) of one run of the yardstick's client."""
    # "--token=...": a token may begin with "-", which argparse would take for an option
    out = subprocess.run([sys.executable, str(path / "repo_load.py"), "--api", api, f"--token={token}",
                          "--records", str(records), "--inflight", "16"], capture_output=True, text=True, check=True)
    found = re.search(r"records/s ([\d.]+) .* failures (\d+)", out.stdout)
    if found is None:
        raise RuntimeError(f"repo_load.py printed {out.stdout!r} {out.stderr[-500:]!r}")
    return float(found.group(1)), int(found.group(2))


def throughput(path: Path, variants: dict[str, dict[str, str]], records: int, rounds: int) -> list[list[object]]:
    rates: dict[str, list[float]] = {"yardstick": [], **{name: [] for name in variants}}
    failures: Counter[str] = Counter()
    with contextlib.ExitStack() as stack:
        apis = {"yardstick": (stack.enter_context(yardstick(path)), "yardstick")}
        for name, env in variants.items():
            server = stack.enter_context(serve("--rate-limit", "0", "--search-rate-limit", "0", env={**QUIET, **env}))
            apis[name] = (server.base + "/api", server.token)
        for api, token in apis.values():  # warm-up
            repo_load(path, api, token, 64)
        for _ in range(rounds):  # in turns: the machine's load drifts alike for all
            for name, (api, token) in apis.items():
                rate, failed = repo_load(path, api, token, records)
                rates[name].append(rate)
                failures[name] += failed
    ideal = median(rates["yardstick"])
    return [[name, records, " ".join(f"{r:.0f}" for r in values), f"{median(values):.0f}",
             f"{median(values) / ideal:.2f}", failures[name]] for name, values in rates.items()]


def before_env(tmp: Path) -> tuple[str, dict[str, str]]:
    """The "before" server: uvicorn's 5 s keep-alive on this tree, or a git revision's code."""
    rev = os.environ.get("DEPOT_BENCH_BEFORE")
    if not rev:
        return "before (keep-alive 5 s)", {"DEPOT_KEEP_ALIVE_SECONDS": "5"}
    archive = tmp / "before.tar"
    subprocess.run(["git", "-C", str(REPO_ROOT), "archive", "-o", str(archive), rev, "src"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp / "before", filter="data")
    return f"before ({rev})", {"PYTHONPATH": str(tmp / "before" / "src")}


def main(quick: bool = False) -> None:
    records = int(os.environ.get("DEPOT_BENCH_RECORDS", 128 if quick else 2048))
    with tempfile.TemporaryDirectory(prefix="depot-bench-before-") as tmp:
        before_name, before = before_env(Path(tmp))
        variants = {before_name: before, "after (this tree)": {}}
        rows = [[name, *lost_answers(env, records)] for name, env in variants.items()]
        table(f"Lost answers: {CLIENTS} clients (own httpx keep-alive connection each), create + search then a "
              f"{PAUSE_S[0]}-{PAUSE_S[1]} s pause, {records} times; lost = no HTTP answer at all",
              ["server", "requests", "answered", "lost", "rate", "seconds", "statuses", "first lost"], rows)
        path = Path(os.environ.get("DEPOT_YARDSTICK", REPO_ROOT.parent / "shared" / "yardstick"))
        if not (path / "repo_load.py").is_file():
            print(f"\nthroughput skipped: no yardstick at {path} (set DEPOT_YARDSTICK)")
            return
        rows = throughput(path, variants, records, 1 if quick else 3)
        table(f"Throughput against the yardstick ({path / 'repo_load.py'}, 16 in flight, 100 KB files), in turns; "
              "ratio = median records/s / yardstick's", ["server", "records", "records/s per round", "median",
                                                          "ratio", "failures"], rows)


if __name__ == "__main__":
    main()
