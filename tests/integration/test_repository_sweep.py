"""`depot repo sweep` finds the stored files no file instance names (what a kill -9 between storing a file
and committing its row leaves) and removes only those old enough, never a named one, on SQLite and
PostgreSQL, while the repository serves."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from contract.payloads import published
from depot.repository.app import create_app
from depot.repository.config import RepositoryConfig
from depot.repository.store import strays
from depot.repository.store.tables import file_instances

from conftest import own_postgres

DAY = 86_400


@pytest.fixture(params=["sqlite", "postgres"])
def serving(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, RepositoryConfig]]:
    with contextlib.ExitStack() as stack:
        db_url = None if request.param == "sqlite" else stack.enter_context(own_postgres("depot_sweep"))
        yield from _serving(tmp_path, db_url)


def _serving(tmp_path: Path, db_url: str | None) -> Iterator[tuple[Any, RepositoryConfig]]:
    config = RepositoryConfig(data_dir=tmp_path / "repo", db_url=db_url, base_url="http://testserver",
                              user_limit_per_minute=0, user_limit_per_hour=0, search_limit_per_minute=0,
                              fsync=False, fixity_cycle=False)
    app = create_app(config)
    with TestClient(app, base_url="http://testserver") as client:
        ctx = app.context  # type: ignore[attr-defined]
        headers = {"Authorization": "Bearer " + ctx.accounts.create_token("a@example.org", "2026-01-01")}
        published(client, headers, files={"sheet.jpg": bytes(range(256)) * 40, "label.txt": b"label"})
        yield ctx, config


def sweep(config: RepositoryConfig, *extra: str) -> subprocess.CompletedProcess[str]:
    db = ["--db", config.db_url] if config.db_url else []
    return subprocess.run([sys.executable, "-m", "depot", "repo", "sweep", "--data-dir", str(config.data_dir), *db,
                           *extra], capture_output=True, text=True, timeout=120)


def named(ctx: Any) -> dict[str, str]:
    """uri -> sha256 of every file instance."""
    with ctx.deposits.db.read() as conn:
        return dict(conn.execute(sa.select(file_instances.c.uri, file_instances.c.sha256)).all())


def test_strays_are_listed_and_only_old_ones_removed(serving: tuple[Any, RepositoryConfig], tmp_path: Path) -> None:
    ctx, config = serving
    kept = named(ctx)
    assert len(kept) == 2
    # As a bulk group killed between moving its files in and its commit leaves them (placed, no row) ...
    unpacked = config.data_dir / "bulk-unpacked"
    unpacked.write_bytes(b"sheet of a killed group")
    old = ctx.blobs.place(unpacked, str(uuid.uuid4()), 23, "0" * 32, "0" * 64)
    week_ago = time.time() - 7 * DAY
    os.utime(ctx.blobs.path(old.uri), (week_ago, week_ago))
    # ... and an upload killed after its rename, a minute ago: too young to be sure of.
    young = ctx.blobs.write_file(io.BytesIO(b"an upload cut before its commit"))

    listed = sweep(config)
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split("\t")[1] for line in listed.stdout.splitlines()) == sorted([old.uri, young.uri])
    assert all(line.startswith("STRAY\t") for line in listed.stdout.splitlines())
    assert "4 stored file(s) looked at, 2 stray" in listed.stderr and "give --remove" in listed.stderr
    assert ctx.blobs.path(old.uri).exists() and ctx.blobs.path(young.uri).exists()  # listing removes nothing

    removed = sweep(config, "--remove")
    assert removed.returncode == 0, removed.stderr
    assert f"REMOVED\t{old.uri}\t23" in removed.stdout
    assert "removed 1 (0.0 MB) older than 24 h, kept 1 younger or named since" in removed.stderr
    assert not ctx.blobs.path(old.uri).exists() and ctx.blobs.path(young.uri).exists()
    for uri, sha256 in kept.items():  # the named files are untouched, bit for bit
        assert hashlib.sha256(ctx.blobs.path(uri).read_bytes()).hexdigest() == sha256


def test_a_file_named_between_the_walk_and_the_removal_is_kept(serving: tuple[Any, RepositoryConfig]) -> None:
    ctx, config = serving
    uri = next(iter(named(ctx)))
    counts = strays.Sweep()
    gone = list(strays.remove(ctx.deposits.db, config.data_dir / "files", [strays.Stray(uri, 1, 0.0)],
                              min_age_s=DAY, sweep=counts))
    assert gone == [] and counts.old_enough == 1 and ctx.blobs.path(uri).exists()


def test_a_wrong_folder_or_database_removes_nothing(tmp_path: Path) -> None:
    missing = subprocess.run([sys.executable, "-m", "depot", "repo", "sweep", "--data-dir", str(tmp_path / "nope")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and f"no stored files in {tmp_path / 'nope'}" in missing.stderr
    # A folder with files but another (empty) repository's database: every file would look stray.
    other = tmp_path / "other"
    (other / "files" / "ab" / "cd").mkdir(parents=True)
    precious = other / "files" / "ab" / "cd" / "abcd-precious"
    precious.write_bytes(b"not this database's, but someone's")
    os.utime(precious, (time.time() - 7 * DAY,) * 2)
    no_db = subprocess.run([sys.executable, "-m", "depot", "repo", "sweep", "--data-dir", str(other), "--remove"],
                           capture_output=True, text=True, timeout=60)
    assert no_db.returncode == 1 and "no repository database in" in no_db.stderr
    from depot.repository.store.db import Database

    Database.open(f"sqlite:///{other / 'repository.sqlite3'}").dispose()  # an empty repository's database
    wrong = subprocess.run([sys.executable, "-m", "depot", "repo", "sweep", "--data-dir", str(other), "--remove"],
                           capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 1 and "names no stored file at all" in wrong.stderr, wrong.stderr
    assert "Traceback" not in wrong.stderr + no_db.stderr + missing.stderr
    assert precious.exists()
