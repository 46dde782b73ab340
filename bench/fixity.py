"""Fixity audit throughput: ``depot repo audit``'s engine (md5 + sha256 of every stored file, results
recorded in the database) against a plain ``hashlib.sha256`` read of the same files, in one run.

Files are 200 x 1 MB plus 3 x 60 MB of random bytes (quick: 20 x 1 MB + 1 x 60 MB), stored through the
BlobStore of a fresh repository. They were just written, so reads come from the page cache: the figures
are the hashing ceiling, not disk speed (on a cold disk both columns fall to the disk's rate).
"""

from __future__ import annotations

import hashlib
import io
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import sized, table
from depot.repository.preservation.audit import CHUNK, Auditor
from depot.repository.store.blobs import BlobStore
from depot.repository.store.db import Database
from depot.repository.store.tables import file_instances

MB = 1_000_000


def populate(data: Path, sizes: list[int]) -> tuple[Database, BlobStore, list[Path]]:
    db = Database.open(f"sqlite:///{data / 'repository.sqlite3'}")
    blobs = BlobStore(data, fsync=False)
    now = datetime.now(UTC).isoformat()
    rows, paths = [], []
    for size in sizes:
        blob = blobs.write_file(io.BytesIO(os.urandom(size)))
        rows.append({"id": blob.id, "uri": blob.uri, "size": blob.size, "md5": blob.md5, "sha256": blob.sha256,
                     "created": now})
        paths.append(blobs.path(blob.uri))
    with db.write() as conn:
        conn.execute(file_instances.insert(), rows)
    return db, blobs, paths


def plain_sha256(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        digest.hexdigest()
    return time.perf_counter() - started


def md5_and_sha256(paths: list[Path]) -> float:
    """Both digests with no database and no throttle: the audit's hashing cost alone."""
    started = time.perf_counter()
    for path in paths:
        md5, sha256 = hashlib.md5(), hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                md5.update(chunk)
                sha256.update(chunk)
    return time.perf_counter() - started


def main(quick: bool = False) -> None:
    small, large, rounds = sized(quick, (200, 3, 3), (20, 1, 3), (4, 0, 1))
    sizes = [1 * MB] * small + [60 * MB] * large + [8 * MB] * (not large)  # smoke: one 8 MB file
    total = sum(sizes) / MB
    with tempfile.TemporaryDirectory(prefix="depot-bench-fixity-") as tmp:
        db, blobs, paths = populate(Path(tmp), sizes)
        auditor = Auditor(db, blobs, lambda: datetime.now(UTC))
        plain_sha256(paths)  # warm the page cache once, for every column alike
        audit_s, plain_s, serial_s = [], [], []
        for _ in range(rounds):
            report = auditor.full()
            assert report.files == len(sizes) and not report.problems
            audit_s.append(report.seconds)
            plain_s.append(plain_sha256(paths))
            serial_s.append(md5_and_sha256(paths))
        db.dispose()
    rows = [
        ["depot audit (md5 + sha256, results recorded)", f"{total / statistics.median(audit_s):.0f}",
         f"{statistics.median(audit_s):.2f}"],
        ["plain hashlib.sha256 read", f"{total / statistics.median(plain_s):.0f}", f"{statistics.median(plain_s):.2f}"],
        ["plain hashlib md5 + sha256 read", f"{total / statistics.median(serial_s):.0f}",
         f"{statistics.median(serial_s):.2f}"],
    ]
    table(f"Fixity audit of {len(sizes)} files, {total:.0f} MB (warm page cache), median of {rounds}; "
          f"{os.cpu_count()} CPUs", ["reader", "MB/s", "seconds"], rows)
