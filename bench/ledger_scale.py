"""`depot status`, `depot report` and verify's planning on a ledger of 1,000,000 specimens (quick: 100,000).

Goals (issues 11 and 16): status < 1 s, report < 30 s, verify planning < 10 s at 1,000,000 rows.
The ledger is filled by bench/ledger_fill.py (set DEPOT_BENCH_LEDGER=PATH to reuse one made with
`python -m bench.ledger_fill PATH 1000000`; it is then migrated, not refilled). Figures:

- the ledger's part of `depot status` (its queries, in-process, median of 3) beside the same figures
  computed the way Depot did before revision 0006_report_index (the queries as they were, on the same
  file with that revision's indexes dropped, then built again: the upgrade's one-time cost); and the
  whole `depot status` command, start-up included, beside the floor every `depot` command pays on
  this machine (Python starting and importing SQLAlchemy);
- `depot report` (CSV to /dev/null): wall and CPU seconds; before: one page of 2,000 read as the old
  code did (``seq > ? ORDER BY seq`` with no index: SQLite's NOT INDEXED, then every column of its
  rows and files loaded) times the number of pages;
- verify planning: seconds until the first page of records to check is loaded, and to enumerate all.

Wall times depend on the machine's load (other processes share its cores): CPU seconds are printed too.
"""

from __future__ import annotations

import importlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.harness import sized, table
from bench.ledger_fill import fill

PAGE = 2000
OLD_STATUS = [  # the status queries before 0006_report_index, as store.py sent them
    "SELECT state, count(*) FROM specimens GROUP BY state",
    "SELECT status, count(*) FROM attempts WHERE status IS NULL OR status >= 400 GROUP BY status",
    "SELECT min(published_at), max(published_at), count(published_at) FROM specimens",
    "SELECT count(*), min(at), max(at) FROM attempts",
    "SELECT key, step, last_status, last_error FROM specimens WHERE state = 'failed' ORDER BY seq LIMIT 20",
    "SELECT count(*), count(modified_at) FROM versions",
    "SELECT op, count(*) FROM specimens WHERE op IS NOT NULL AND state IN ('planned', 'created', 'uploaded',"
    " 'uncertain') GROUP BY op",
]
OLD_PAGE = "SELECT key, seq FROM specimens NOT INDEXED WHERE seq > ? ORDER BY seq LIMIT ?"


def timed(fn: Callable[[], Any], rounds: int = 3) -> float:
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def command(*args: str, rounds: int = 3) -> tuple[float, float]:
    """Median wall seconds of a command, and its median CPU seconds (user + system)."""
    walls, cpus = [], []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def measure(path: Path, rows: int) -> list[list[object]]:
    from depot.deposit.commands.status import show_status
    from depot.deposit.ledger import Ledger

    raw = sa.create_engine(f"sqlite:///{path}")
    indexes = importlib.import_module("depot.deposit.ledger.migrations.versions.0006_report_index").INDEXES
    with raw.begin() as conn:  # the ledger as it was before revision 0006 (same rows, same file)
        for name, _table, _columns in indexes:
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")

    def old_status() -> None:
        with raw.connect() as conn:
            for query in OLD_STATUS:
                conn.exec_driver_sql(query).all()

    before_status = timed(old_status, rounds=1)
    with raw.connect() as conn:
        started = time.perf_counter()
        conn.exec_driver_sql(OLD_PAGE, (rows // 2, PAGE)).all()
        old_page = time.perf_counter() - started
    with raw.connect() as conn:
        migrated = "0006_report_index" in set(conn.exec_driver_sql("SELECT version_num FROM depot_ledger_version")
                                              .scalars())
    started = time.perf_counter()
    if migrated:  # build them again as the upgrade does; else the upgrade itself runs, in Ledger.open
        with raw.begin() as conn:
            for name, table_name, columns in indexes:
                conn.exec_driver_sql(f"CREATE INDEX {name} ON {table_name} ({', '.join(columns)})")
    ledger = Ledger.open(path)
    opened = time.perf_counter() - started

    with open(os.devnull, "w") as null:
        new_status = timed(lambda: show_status(str(path), False, null))
    depot = [sys.executable, "-m", "depot"]
    status_wall, status_cpu = command(*depot, "status", "--ledger", str(path))
    floor_wall, _ = command(sys.executable, "-c", "import sqlalchemy")

    with ledger.engine.connect() as conn:  # and then loaded every row of the page, metadata included
        keys = [r[0] for r in conn.exec_driver_sql(OLD_PAGE.replace(" NOT INDEXED", ""), (rows // 2, PAGE))]
        started = time.perf_counter()
        ledger._load(conn, keys)
        old_page += time.perf_counter() - started
    pages = -(-rows // PAGE)
    report_wall, report_cpu = command(*depot, "report", "--ledger", str(path), "-o", os.devnull, rounds=1)

    started = time.perf_counter()
    walk = ledger.iter_to_verify()
    first = next(walk, [])
    first_page = time.perf_counter() - started
    to_check = len(first) + sum(len(page) for page in walk)
    plan_all = time.perf_counter() - started
    ledger.close()
    raw.dispose()
    return [
        ["upgrade to 0006: build its indexes (once)", "-", f"{opened:.1f} s", "-"],
        ["status: the ledger's queries", f"{before_status:.2f} s", f"{new_status:.3f} s",
         f"{before_status / new_status:.0f}x"],
        ["status: whole command (wall / CPU)", "-", f"{status_wall:.2f} s / {status_cpu:.2f} s",
         f"floor {floor_wall:.2f} s"],
        ["report: whole (wall / CPU)", f"~{old_page * pages:.0f} s ({pages} pages x {old_page:.2f} s)",
         f"{report_wall:.1f} s / {report_cpu:.1f} s", f"{old_page * pages / report_wall:.0f}x"],
        ["verify planning: first page", "-", f"{first_page:.3f} s", "goal < 10 s"],
        [f"verify planning: all {to_check} to check", "-", f"{plan_all:.1f} s", "-"],
    ]


def main(quick: bool = False) -> None:
    rows = sized(quick, 1_000_000, 100_000, 5_000)
    given = os.environ.get("DEPOT_BENCH_LEDGER")
    with tempfile.TemporaryDirectory(prefix="depot-bench-ledger-") as tmp:
        if given:
            path = Path(given)
            with sa.create_engine(f"sqlite:///{path}").connect() as conn:
                rows = int(conn.exec_driver_sql("SELECT count(*) FROM specimens").scalar_one())
            filled = "given"
        else:
            path = Path(tmp) / "ledger.sqlite3"
            filled = f"{fill(path, rows):.0f} s"
        figures = measure(path, rows)
    load = os.getloadavg()[0]
    table(f"Ledger at {rows:,} specimens (filled: {filled}; load average {load:.1f} on {os.cpu_count()} cores)",
          ["figure", "before (0006)", "now", "ratio / goal"], figures)


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
