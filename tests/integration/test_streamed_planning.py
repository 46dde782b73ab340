"""`depot run` plans beside the deposit: records are published while the source is still being read, a key
that two far-apart rows hold is rejected before anything is sent, and a kill -9 mid-planning is resumed."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from depot.cli import main as depot_main
from depot.deposit.images import pool
from depot.deposit.ledger import planning
from depot.deposit.ledger.engine import create_engine, database_url
from depot.deposit.sources.table import TableSource

from conftest import png_image, serve_repository


def write_table(folder: Path, keys: list[str]) -> tuple[Path, Path]:
    images = folder / "images"
    images.mkdir()
    (images / "sheet.png").write_bytes(png_image("sheet"))
    csv = folder / "specimens.csv"
    csv.write_text("occurrenceID,scientificName,institutionCode,country\n"
                   + "".join(f"{k},Fucus vesiculosus L.,TEST,Norway\n" for k in keys), encoding="utf-8")
    return csv, images


def run_args(csv: Path, images: Path, base: str, ledger: Path | str) -> list[str]:
    return ["run", str(csv), "--images", str(images), "--path-template", "{images}/sheet.png",
            "--target", f"{base}/api", "--ledger", str(ledger), "--profile", "specimen",
            "--var", "institution=Test Herbarium", "--var", "license=cc-by-4.0", "--transfers", "2",
            "--progress", "quiet"]


def states(ledger: Path) -> dict[str, int]:
    with contextlib.suppress(sqlite3.Error), \
            contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5)) as db:
        return dict(db.execute("SELECT state, count(*) FROM specimens GROUP BY state").fetchall())
    return {}


def wait_for(condition: Callable[[], bool], timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def published_keys(base: str, headers: dict[str, str]) -> tuple[list[str], int]:
    """The keys of the published depositions on the server (one per record), and how many drafts it holds."""
    deps: list[dict[str, Any]] = []
    page = 1
    while True:
        batch = httpx.get(f"{base}/api/deposit/depositions", params={"size": 100, "page": page, "all_versions": 1},
                          headers=headers).json()
        deps += batch
        if len(batch) < 100:
            break
        page += 1
    keys = [r["identifier"] for d in deps if d["submitted"] for r in d["metadata"].get("related_identifiers", [])
            if r["identifier"].startswith("urn:catalog:")]
    return keys, sum(1 for d in deps if not d["submitted"])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    with serve_repository(tmp_path) as repo:
        yield repo


def test_records_are_published_while_the_source_is_still_read_and_far_duplicates_never_are(
        served: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_url: str) -> None:
    keys = [f"urn:catalog:STREAM:{i}" for i in range(30)]
    keys[29] = keys[1]  # the same key 28 rows apart, in batches planned long after the first publish
    csv, images = write_table(tmp_path, keys)
    ledger = ledger_url
    engine = create_engine(database_url(ledger_url))

    def counts() -> dict[str, int]:
        with contextlib.suppress(sa.exc.SQLAlchemyError), engine.connect() as conn:
            return {r[0]: r[1] for r in conn.execute(sa.text("SELECT state, count(*) FROM specimens GROUP BY state"))}
        return {}
    monkeypatch.setattr(planning, "FIRST_BATCH", 2)
    monkeypatch.setattr(planning, "BATCH", 4)
    # Reading stops below at row 12, in the thread that checks the images: their look-ahead (4 files with
    # chunks of one) must be below that, as a source never blocks on a publish outside this test.
    monkeypatch.setattr(pool, "CHUNK_FILES", 1)
    # The source's reading blocks after 12 rows until a record is published: only a plan that streams
    # beside the deposit gets past it (the key pass reads the key column alone, so it is not held).
    published_while_reading: list[bool] = []
    original = TableSource._specimens

    def gated(self: TableSource) -> Iterator[Any]:
        for i, specimen in enumerate(original(self)):
            if i == 12:
                published_while_reading.append(wait_for(lambda: bool(counts().get("published")), 120))
            yield specimen

    monkeypatch.setattr(TableSource, "_specimens", gated)
    result = CliRunner().invoke(depot_main, run_args(csv, images, served.base, ledger),
                                env={"DEPOT_TOKEN": served.token})
    assert published_while_reading == [True], result.output
    assert result.exit_code == 1, result.output  # the duplicate's rows are rejected: RECORDS_FAILED
    assert "1 duplicate keys" in result.output
    assert counts() == {"published": 28, "rejected": 1}
    with engine.connect() as conn:
        reason = conn.execute(sa.text("SELECT rejected_reason FROM specimens WHERE key = :k"),
                              {"k": keys[1]}).scalar_one()
    engine.dispose()
    assert "rows 2, 30 of the source all hold it" in reason
    published, drafts = published_keys(served.base, served.headers)
    assert sorted(published) == sorted(set(keys) - {keys[1]}) and drafts == 0  # the duplicate never sent


GATED_RUN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from depot.deposit.images import pool
    from depot.deposit.ledger import planning
    from depot.deposit.sources.table import TableSource
    from depot.cli import main

    planning.FIRST_BATCH, planning.BATCH = 2, 4
    pool.CHUNK_FILES = 1  # the image checks' look-ahead (4 files) below the row where reading stops
    original = TableSource._specimens
    marker = Path(sys.argv[1])

    def gated(self):
        for i, specimen in enumerate(original(self)):
            if i == 12:  # planning stops here for good, the deposit goes on: killed meanwhile
                marker.touch()
                while True:
                    time.sleep(1)
            yield specimen

    if __name__ == "__main__":  # not in the image checkers' processes, which import this module again
        TableSource._specimens = gated
        main(sys.argv[2:], prog_name="depot")
""")


def test_kill_9_mid_planning_then_a_rerun_publishes_every_specimen_once(served: Any, tmp_path: Path) -> None:
    keys = [f"urn:catalog:KILLED:{i}" for i in range(30)]
    csv, images = write_table(tmp_path, keys)
    ledger, marker = tmp_path / "ledger.sqlite3", tmp_path / "planning-held"
    script = tmp_path / "gated_run.py"
    script.write_text(GATED_RUN)
    log = tmp_path / "first-run.err"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, str(script), str(marker),
                                 *run_args(csv, images, served.base, ledger)],
                                env=served.env, stdout=subprocess.DEVNULL, stderr=sink)
    try:
        held = wait_for(lambda: (marker.exists() and bool(states(ledger).get("published")))
                        or proc.poll() is not None)
        assert held and proc.poll() is None, log.read_text()
        before = states(ledger)
        assert sum(before.values()) < len(keys)  # planning had rows left to read
    finally:
        proc.kill()
        proc.wait(10)
    rerun = subprocess.run([sys.executable, "-m", "depot", *run_args(csv, images, served.base, ledger)],
                           env=served.env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert states(ledger) == {"published": len(keys)}
    published, drafts = published_keys(served.base, served.headers)
    assert sorted(published) == sorted(keys) and drafts == 0  # each exactly once, no stray draft
