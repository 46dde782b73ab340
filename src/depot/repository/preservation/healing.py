"""Self-healing storage: a file that failed fixity is served from a verified copy in the bags, and repaired.

The bags (``bags.py``) are a second copy of every published file, copied from the store (never linked to
it) and checked when bagged. When the fixity audit has flagged a stored file, or its stored copy is
missing or of the wrong size, a download is served from a bag copy that both the bag's manifest and a
fresh hash prove to be the bytes recorded at upload; ``repair`` writes such a copy back over the stored
one (``depot repo audit --repair``, and every tick of the fixity cycle). With no verified copy anywhere,
the answer is ``ContentLostError`` (a 410 that says so), never the damaged bytes under the recorded ETag.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
import sqlalchemy as sa

from depot.repository.errors import ContentLostError
from depot.repository.preservation import bagspec
from depot.repository.preservation.audit import Throttle, hash_file, where_used
from depot.repository.preservation.bags import bags_of
from depot.repository.services.views import StoredFile, utcnow_iso
from depot.repository.store.blobs import BlobStore
from depot.repository.store.db import Database
from depot.repository.store.tables import file_instances, fixity_problems, fixity_state

log = logging.getLogger("depot.repository.healing")
LOST = ("The stored content of {key!r} failed its fixity check and no verified copy of it exists; "
        "the repository's operator has been told (depot repo audit).")


@dataclass(frozen=True)
class Expected:
    """What a file's bytes must hash to: the size and sums recorded at upload."""

    file_id: str
    uri: str
    size: int
    md5: str
    sha256: str

    @property
    def sums(self) -> tuple[int, str, str]:
        return self.size, self.md5, self.sha256


@dataclass(frozen=True)
class Repair:
    file_id: str
    repaired: bool
    detail: str


def _decode(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def manifest_sums(bag: Path, alg: str = "sha256", *, tag: bool = False) -> dict[str, str]:
    """path -> checksum, from the bag's ``manifest-<alg>.txt`` (``tagmanifest-<alg>.txt`` if ``tag``)."""
    out: dict[str, str] = {}
    name = f"{'tag' if tag else ''}manifest-{alg}.txt"
    for line in (bag / name).read_text(encoding="utf-8").splitlines():
        digest, _, path = line.partition(" ")
        if path:
            out[_decode(path.strip())] = digest.strip().lower()
    return out


def bag_candidates(bags_root: Path, recids: list[int], sha256: str) -> Iterator[Path]:
    """Payload files, newest bag first, that the bag's AIP and manifest both list with ``sha256``."""
    for recid in recids:
        for bag in reversed(bags_of(bags_root, recid)):
            try:
                aip = orjson.loads((bag / bagspec.AIP_FILE).read_bytes())
                sums = manifest_sums(bag)
                files = bagspec.payload_files(aip)
            except (OSError, ValueError, KeyError, TypeError):
                continue  # an unreadable bag offers nothing; the audit of bags reports it
            for f in files:
                if f.sha256 == sha256 and sums.get(f.path) == sha256:
                    yield bag / f.path


def matches(path: Path, expected: Expected) -> bool:
    try:
        return hash_file(path, Throttle(0)) == expected.sums
    except OSError:
        return False


def verified_copy(bags_root: Path, recids: list[int], expected: Expected) -> Path | None:
    """The first bag copy whose bytes hash to the recorded size, md5 and sha256 (hashed now: bags rot too)."""
    return next((p for p in bag_candidates(bags_root, recids, expected.sha256) if matches(p, expected)), None)


class Healer:
    def __init__(self, db: Database, blobs: BlobStore, bags_root: Path, clock: Callable[[], datetime]) -> None:
        self.db, self.blobs, self.bags_root, self.clock = db, blobs, bags_root, clock

    def _holders(self, file_id: str) -> list[int]:
        with self.db.read() as conn:
            return sorted({u["recid"] for u in where_used(conn, [file_id]).get(file_id, [])}, reverse=True)

    def _flagged(self, file_id: str) -> bool:
        with self.db.read() as conn:
            status = conn.execute(sa.select(fixity_state.c.status).where(fixity_state.c.file_id == file_id)).scalar()
        return status is not None and status != "ok"

    def source(self, stored: StoredFile) -> Path:
        """The path to serve for ``stored``: the store's copy unless it is flagged, missing or of the wrong
        size (a cheap check that catches truncation before the audit does); then a verified bag copy;
        ContentLostError if there is none. (Blocking: hashes a bag copy; call it off the event loop.)"""
        path = self.blobs.path(stored.uri)
        try:
            sound = path.stat().st_size == stored.size and not self._flagged(stored.file_id)
        except OSError:
            sound = False
        if sound:
            return path
        expected = Expected(stored.file_id, stored.uri, stored.size, stored.md5, stored.sha256)
        copy = verified_copy(self.bags_root, self._holders(stored.file_id), expected)
        if copy is None:
            log.error("file %s (%r) failed fixity and has no verified copy", stored.file_id, stored.key)
            raise ContentLostError(LOST.format(key=stored.key))
        log.warning("file %s (%r) failed fixity: serving the verified copy %s", stored.file_id, stored.key, copy)
        return copy

    def repair(self, file_id: str, run_id: int) -> Repair:
        """Write a verified bag copy over the stored file; record the outcome in the fixity history."""
        with self.db.read() as conn:
            row = conn.execute(sa.select(file_instances).where(file_instances.c.id == file_id)).first()
        if row is None:
            return Repair(file_id, False, "no such file")
        expected = Expected(row.id, row.uri, int(row.size), row.md5, row.sha256)
        result = Repair(file_id, False, "no verified copy in any bag")
        for copy in bag_candidates(self.bags_root, self._holders(file_id), expected.sha256):
            try:
                with copy.open("rb") as fh:
                    if self.blobs.restore(expected.uri, fh, expected.sums):
                        result = Repair(file_id, True, f"restored from {copy}")
                        break
            except OSError as exc:
                log.warning("repair of %s from %s failed: %s", file_id, copy, exc)
        now = utcnow_iso(self.clock())
        with self.db.write() as conn:
            conn.execute(fixity_problems.insert().values(
                run_id=run_id, file_id=file_id, checked=now, status="repaired" if result.repaired else "unrepaired",
                detail=result.detail))
            if result.repaired:
                conn.execute(fixity_state.delete().where(fixity_state.c.file_id == file_id))
                conn.execute(fixity_state.insert().values(file_id=file_id, checked=now, status="ok",
                                                          detail=result.detail))
        (log.warning if result.repaired else log.error)("repair of file %s: %s", file_id, result.detail)
        return result

    def repair_all(self, file_ids: list[str], run_id: int) -> list[Repair]:
        return [self.repair(file_id, run_id) for file_id in file_ids]
