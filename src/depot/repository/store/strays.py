"""Stored files that no file instance names: what a crash between placing a file and committing its row
leaves (a kill -9 in an upload after its rename, or in a bulk group after its files were moved in).

Nothing else in the store is ever unreferenced for long, so such a file is safe to remove once it is older
than any transaction could be (``min_age_s``). The walk goes one folder at a time and asks the database
about each folder's names, so memory stays flat however large the store (``file_instances.uri`` is
indexed, migration 0011). Removal asks again just before it unlinks: a file referenced since is kept.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from depot.repository.store.db import Database
from depot.repository.store.tables import file_instances

CHUNK = 500  # names per query


@dataclass(frozen=True)
class Stray:
    uri: str  # relative to the files root
    size: int
    mtime: float


@dataclass
class Sweep:
    files: int = 0  # stored files looked at
    strays: int = 0
    stray_bytes: int = 0
    old_enough: int = 0  # of the strays, those older than the minimum age
    removed: int = 0
    removed_bytes: int = 0


def _folders(root: Path) -> Iterator[tuple[str, list[os.DirEntry[str]]]]:
    """(uri prefix, the files in it) for every folder under ``root``, links never followed."""
    stack = [("", root)]
    while stack:
        prefix, folder = stack.pop()
        files: list[os.DirEntry[str]] = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((f"{prefix}{entry.name}/", Path(entry.path)))
                else:
                    files.append(entry)
        if files:
            yield prefix, sorted(files, key=lambda e: e.name)


def _referenced(db: Database, uris: list[str]) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(sa.select(file_instances.c.uri).where(file_instances.c.uri.in_(uris))).scalars())


def names_any(db: Database) -> bool:
    """Whether the database names any stored file: if not, a sweep would take the whole store for strays."""
    with db.read() as conn:
        return conn.execute(sa.select(file_instances.c.id).limit(1)).first() is not None


def find(db: Database, root: Path, sweep: Sweep | None = None) -> Iterator[Stray]:
    """Every file under ``root`` (DATA_DIR/files) that no file instance names, folder by folder."""
    sweep = sweep if sweep is not None else Sweep()
    for prefix, entries in _folders(root):
        for start in range(0, len(entries), CHUNK):
            chunk = entries[start:start + CHUNK]
            sweep.files += len(chunk)
            known = _referenced(db, [prefix + e.name for e in chunk])
            for entry in chunk:
                uri = prefix + entry.name
                if uri in known:
                    continue
                try:
                    stat = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # removed meanwhile (a discarded draft's file)
                    continue
                sweep.strays += 1
                sweep.stray_bytes += stat.st_size
                yield Stray(uri, stat.st_size, stat.st_mtime)


def remove(db: Database, root: Path, strays: Iterable[Stray], *, min_age_s: float, sweep: Sweep,
           now: float | None = None) -> Iterator[Stray]:
    """Remove the strays older than ``min_age_s`` that are still unreferenced; yields each one removed."""
    cutoff = (time.time() if now is None else now) - min_age_s
    old = [s for s in strays if s.mtime < cutoff]
    sweep.old_enough += len(old)
    for start in range(0, len(old), CHUNK):
        chunk = old[start:start + CHUNK]
        known = _referenced(db, [s.uri for s in chunk])  # asked again: named since the walk, it stays
        for stray in chunk:
            if stray.uri in known:
                continue
            try:
                (root / stray.uri).unlink()
            except FileNotFoundError:
                continue
            sweep.removed += 1
            sweep.removed_bytes += stray.size
            yield stray
