"""Fill a SQLite ledger with N specimens quickly (executemany), as a long deposit would have left it.

    python -m bench.ledger_fill LEDGER.sqlite3 1000000     # ~1 min on 2 loaded cores

The ledger is created (and migrated) by ``Ledger.open``, then rows are written in batches straight
through sqlite3, about 100x faster than running the transitions one by one. Shares by default: 96 %
published (half of those verified), 1 % failed, 1 % uncertain, 2 % planned; one image per specimen,
three attempts (requests) per published specimen and one error answer per 100, one version row per
published specimen, one run. ``records`` makes published specimens point at real records of a
repository (cycling over them), so that ``depot verify`` finds them (bench/verify_scale.py).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from depot.deposit.ledger import Ledger
from depot.deposit.ledger.states import State
from depot.deposit.ledger.values import hash_of

BATCH = 20_000
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class RealRecord:
    """A published record on a repository that filled specimens may stand for."""

    deposition_id: int
    doi: str
    concept_doi: str
    record_url: str
    metadata: dict[str, Any]
    files: list[tuple[str, int, str]] = field(default_factory=list)  # (name, size, md5)


def synthetic_metadata(i: int) -> dict[str, Any]:
    key = f"urn:catalog:BENCH:{i}"
    return {"title": f"Fucus vesiculosus L. - herbarium sheet B{i:07d}", "upload_type": "image",
            "image_type": "photo", "creators": [{"name": "Bench Herbarium"}],
            "description": f"Herbarium sheet B{i:07d} of Fucus vesiculosus L., collected in Norway.",
            "license": "cc-by-4.0", "keywords": ["Fucus vesiculosus", "Norway", "herbarium"],
            "related_identifiers": [{"identifier": key, "relation": "isAlternateIdentifier", "scheme": "other"}]}


def _state(rng: random.Random, published: float) -> State:
    x = rng.random()
    if x < published:
        return State.VERIFIED if rng.random() < 0.5 else State.PUBLISHED
    x -= published
    rest = 1.0 - published
    return State.FAILED if x < rest / 4 else State.UNCERTAIN if x < rest / 2 else State.PLANNED


def _rows(n: int, published: float, records: Sequence[RealRecord] | None, seed: int,
          verified: bool) -> Iterator[tuple[list[tuple[Any, ...]], ...]]:
    rng = random.Random(seed)
    specimens, files, attempts, versions = [], [], [], []
    for i in range(n):
        key = f"urn:catalog:BENCH:{i}"
        at = START + timedelta(seconds=i * 0.6)
        stamp = at.isoformat(timespec="microseconds")
        state = _state(rng, published) if records is None else State.PUBLISHED
        if state == State.VERIFIED and not verified:
            state = State.PUBLISHED
        done = state in (State.PUBLISHED, State.VERIFIED)
        real = records[i % len(records)] if records else None
        metadata = real.metadata if real else synthetic_metadata(i)
        dep = real.deposition_id if real else (100_000 + i if done or state == State.UNCERTAIN else None)
        doi = (real.doi if real else f"10.5072/depot.{dep}") if done else None
        concept = (real.concept_doi if real else f"10.5072/depot.c{dep}") if done else None
        url = (real.record_url if real else f"https://repo.example.org/records/{dep}") if done else None
        failed = state == State.FAILED
        specimens.append((key, i + 1, str(state), "publish" if state in (State.FAILED, State.UNCERTAIN) else None,
                          None, dep if done else None, 0, dep, f"{url}/files" if dep else None, doi, concept, url,
                          orjson.dumps(metadata).decode(), hash_of(metadata), hash_of([key, i]), None,
                          3 if failed else 0, None, None, None, 400 if failed else None,
                          "metadata.title: too short" if failed else None, stamp, stamp, stamp if done else None))
        real_files = real.files if real else [(f"B{i:07d}.jpg", 2_000_000 + i, f"{i:032x}")]
        for position, (name, size, md5) in enumerate(real_files):
            files.append((key, name, position, f"/data/images/{name}", size, 1_700_000_000_000_000_000, md5,
                          None, done, f"md5:{md5}" if done else None))
        if done or failed:
            for step, status in (("create", 201), ("upload", 201), ("publish", 202 if done else 400)):
                attempts.append((key, step, status, None, 120, stamp))
            if i % 100 == 0:
                attempts.append((key, "upload", 502, "HTTP 502: Bad Gateway", 30_000, stamp))
        if done:
            published_files = [{"name": nm, "size": sz, "mtime_ns": 1_700_000_000_000_000_000, "md5": md5}
                               for nm, sz, md5 in real_files]
            versions.append((key, dep, 1, doi, concept, hash_of(metadata),
                             hash_of(sorted((f["name"], f["md5"]) for f in published_files)),
                             orjson.dumps(published_files).decode(), stamp, None))
        if len(specimens) >= BATCH:
            yield specimens, files, attempts, versions
            specimens, files, attempts, versions = [], [], [], []
    if specimens:
        yield specimens, files, attempts, versions


def fill(path: Path, n: int, *, published: float = 0.96, records: Sequence[RealRecord] | None = None,
         seed: int = 0, verified: bool = True) -> float:
    """Create the ledger at ``path`` (must not exist) with ``n`` specimens; returns the seconds it took."""
    if path.exists():
        raise SystemExit(f"{path} exists: choose a new file")
    started = time.perf_counter()
    Ledger.open(path).close()  # the schema, at every head
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    for specimens, files, attempts, versions in _rows(n, published, records, seed, verified):
        conn.execute("BEGIN")  # one transaction per batch keeps the WAL small
        conn.executemany(
            "INSERT INTO specimens (key, seq, state, step, op, record_id, pending_put, deposition_id, bucket_url,"
            " doi, concept_doi, record_url, metadata, metadata_hash, fingerprint, problems, attempts, retry_at,"
            " lease_owner, lease_until, last_status, last_error, created_at, updated_at, published_at)"
            " VALUES (" + ",".join("?" * 25) + ")", specimens)
        conn.executemany("INSERT INTO files (specimen_key, name, position, path, size, mtime_ns, md5, sha256,"
                         " uploaded, server_checksum) VALUES (?,?,?,?,?,?,?,?,?,?)", files)
        conn.executemany("INSERT INTO attempts (specimen_key, step, status, error, duration_ms, at)"
                         " VALUES (?,?,?,?,?,?)", attempts)
        conn.executemany("INSERT INTO versions (specimen_key, deposition_id, version, doi, concept_doi,"
                         " metadata_hash, files_hash, files, published_at, modified_at)"
                         " VALUES (?,?,?,?,?,?,?,?,?,?)", versions)
        conn.execute("COMMIT")
    end = (START + timedelta(seconds=n * 0.6)).isoformat(timespec="microseconds")
    conn.execute("INSERT INTO runs (started, finished, target, source, profile, published, failed, outcome)"
                 " VALUES (?, ?, 'zenodo', 'bench', 'specimen', ?, 0, 'finished')",
                 (START.isoformat(timespec="microseconds"), end, int(n * published)))
    conn.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger_fill", description=__doc__.splitlines()[0])
    parser.add_argument("ledger", type=Path, help="the SQLite ledger file to create")
    parser.add_argument("specimens", type=int, help="how many specimens")
    parser.add_argument("--published", type=float, default=0.96, help="share published or verified [0.96]")
    args = parser.parse_args()
    seconds = fill(args.ledger, args.specimens, published=args.published)
    print(f"{args.ledger}: {args.specimens} specimens in {seconds:.1f} s")


if __name__ == "__main__":
    main()
