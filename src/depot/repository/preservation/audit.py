"""The fixity audit: re-hash stored files, compare with the md5/sha256 taken at upload, keep the history.

A *run* is one ``depot repo audit`` (every file) or one tick of the background cycle (the files whose
last check is oldest, sized so that a full pass spreads over the configured period, as Invenio's
``schedule_checksum_verification``). Each file ends ``ok``, ``mismatch`` (size, md5 or sha256 differ),
``missing`` or ``error`` (could not be read: not the same as a mismatch, so reported apart).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from depot.repository.services.views import utcnow_iso
from depot.repository.store.blobs import BlobStore
from depot.repository.store.db import Database
from depot.repository.store.tables import deposits, file_instances, fixity_problems, fixity_runs, fixity_state, objects

CHUNK = 4 << 20
RECORD_BATCH = 500  # results written per transaction: short write locks during a long pass


# -- pure ---------------------------------------------------------------------------------------------
def batch_size(total_files: int, period_s: float, tick_s: float) -> int:
    """Files per tick so that ``total_files`` are all checked within ``period_s`` (at least 1 if any)."""
    if total_files <= 0:
        return 0
    ticks = max(1.0, period_s / max(tick_s, 1e-9))
    return max(1, math.ceil(total_files / ticks))


def throttle_delay(bytes_done: int, elapsed_s: float, bytes_per_s: float) -> float:
    """Seconds to sleep so that ``bytes_done`` bytes took at least ``bytes_done / bytes_per_s``."""
    if bytes_per_s <= 0:
        return 0.0
    return max(0.0, bytes_done / bytes_per_s - elapsed_s)


@dataclass(frozen=True)
class FileToCheck:
    file_id: str
    uri: str
    size: int
    md5: str
    sha256: str


@dataclass(frozen=True)
class CheckResult:
    file_id: str
    status: str  # ok, mismatch, missing, error
    detail: str
    bytes_read: int


def classify(expected: FileToCheck, size: int, md5: str, sha256: str) -> CheckResult:
    differences = [f"{name} {got} != stored {want}" for name, got, want in (
        ("size", str(size), str(expected.size)), ("md5", md5, expected.md5), ("sha256", sha256, expected.sha256))
        if got != want]
    if differences:
        return CheckResult(expected.file_id, "mismatch", "; ".join(differences), size)
    return CheckResult(expected.file_id, "ok", "", size)


# -- reading ------------------------------------------------------------------------------------------
class Throttle:
    """Caps the read rate of one run; ``mb_per_s <= 0`` means no cap."""

    def __init__(self, mb_per_s: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = mb_per_s * 1e6
        self.clock, self.sleep = clock, sleep
        self.started = clock()
        self.done = 0

    def consumed(self, n: int) -> None:
        self.done += n
        delay = throttle_delay(self.done, self.clock() - self.started, self.rate)
        if delay > 0:
            self.sleep(delay)


class Stopped(Exception):
    """The server is shutting down: the check in progress is abandoned, not recorded."""


def _chunks(path: Path, throttle: Throttle, stop: threading.Event | None) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            if stop is not None and stop.is_set():
                raise Stopped()
            yield chunk
            throttle.consumed(len(chunk))


def hash_file(path: Path, throttle: Throttle, stop: threading.Event | None = None) -> tuple[int, str, str]:
    """(size, md5, sha256) of a file. (Hashing md5 on a second thread beside sha256 was measured slower on
    a busy 2-CPU host, bench/fixity.py, so both run here, one after the other per chunk.)"""
    md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
    for chunk in _chunks(path, throttle, stop):
        size += len(chunk)
        md5.update(chunk)
        sha256.update(chunk)
    return size, md5.hexdigest(), sha256.hexdigest()


def check_file(blobs: BlobStore, f: FileToCheck, throttle: Throttle,
               stop: threading.Event | None = None) -> CheckResult:
    try:
        size, md5, sha256 = hash_file(blobs.path(f.uri), throttle, stop)
    except FileNotFoundError:
        return CheckResult(f.file_id, "missing", f"no stored file at files/{f.uri}", 0)
    except OSError as exc:
        return CheckResult(f.file_id, "error", f"{type(exc).__name__}: {exc}", 0)
    return classify(f, size, md5, sha256)


# -- runs and their history ---------------------------------------------------------------------------
@dataclass
class RunReport:
    run_id: int
    kind: str
    started: str
    finished: str = ""
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    problems: list[CheckResult] = field(default_factory=list)

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


_FILE_COLUMNS = (file_instances.c.id, file_instances.c.uri, file_instances.c.size, file_instances.c.md5,
                 file_instances.c.sha256)


def _to_check(r: Any) -> FileToCheck:
    return FileToCheck(r.id, r.uri, int(r.size), r.md5, r.sha256)


class Auditor:
    def __init__(self, db: Database, blobs: BlobStore, clock: Callable[[], datetime]) -> None:
        self.db, self.blobs, self.clock = db, blobs, clock

    def now(self) -> str:
        return utcnow_iso(self.clock())

    # -- selecting files ----------------------------------------------------------------------------
    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(file_instances)).scalar_one())

    def all_files(self) -> list[FileToCheck]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(*_FILE_COLUMNS).order_by(file_instances.c.id)).all()
        return [_to_check(r) for r in rows]

    def oldest(self, limit: int) -> list[FileToCheck]:
        """Files never checked first, then those whose last check is oldest."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(*_FILE_COLUMNS)
                .outerjoin(fixity_state, fixity_state.c.file_id == file_instances.c.id)
                .order_by(sa.func.coalesce(fixity_state.c.checked, ""), file_instances.c.id).limit(limit)).all()
        return [_to_check(r) for r in rows]

    # -- running ------------------------------------------------------------------------------------
    def full(self, *, mb_per_s: float = 0, stop: threading.Event | None = None) -> RunReport:
        return self.run(self.all_files(), "full", mb_per_s=mb_per_s, stop=stop)

    def tick(self, *, period_s: float, tick_s: float, mb_per_s: float,
             stop: threading.Event | None = None) -> RunReport | None:
        size = batch_size(self.count(), period_s, tick_s)
        if size == 0:
            return None
        return self.run(self.oldest(size), "cycle", mb_per_s=mb_per_s, stop=stop)

    def run(self, files: list[FileToCheck], kind: str, *, mb_per_s: float = 0,
            stop: threading.Event | None = None) -> RunReport:
        report = RunReport(0, kind, self.now())
        with self.db.write() as conn:
            report.run_id = int(conn.execute(fixity_runs.insert().values(
                kind=kind, started=report.started, files=0, bytes=0, problems=0)).inserted_primary_key[0])  # type: ignore[index]
        throttle = Throttle(mb_per_s)
        started = time.perf_counter()
        pending: list[tuple[CheckResult, str]] = []
        for f in files:
            try:
                result = check_file(self.blobs, f, throttle, stop)
            except Stopped:
                break
            pending.append((result, self.now()))
            report.files += 1
            report.bytes += result.bytes_read
            if result.status != "ok":
                report.problems.append(result)
            if len(pending) >= RECORD_BATCH:
                self._record(report, pending)
                pending = []
        report.seconds = time.perf_counter() - started
        report.finished = self.now()
        self._record(report, pending)
        return report

    def _record(self, report: RunReport, results: list[tuple[CheckResult, str]]) -> None:
        with self.db.write() as conn:
            if results:
                ids = [r.file_id for r, _ in results]
                conn.execute(fixity_state.delete().where(fixity_state.c.file_id.in_(ids)))
                conn.execute(fixity_state.insert(), [
                    {"file_id": r.file_id, "checked": at, "status": r.status, "detail": r.detail}
                    for r, at in results])
                bad = [{"run_id": report.run_id, "file_id": r.file_id, "checked": at, "status": r.status,
                        "detail": r.detail} for r, at in results if r.status != "ok"]
                if bad:
                    conn.execute(fixity_problems.insert(), bad)
            conn.execute(fixity_runs.update().where(fixity_runs.c.id == report.run_id).values(
                files=report.files, bytes=report.bytes, problems=len(report.problems),
                finished=report.finished or None))

    # -- reporting ----------------------------------------------------------------------------------
    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(fixity_runs).order_by(fixity_runs.c.id.desc()).limit(limit)).all()
        return [{"id": r.id, "kind": r.kind, "started": r.started, "finished": r.finished, "files": r.files,
                 "bytes": r.bytes, "problems": r.problems} for r in rows]

    def current_problems(self) -> list[dict[str, Any]]:
        """Files whose latest check failed, with the records and keys that hold them."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(fixity_state, file_instances.c.uri, file_instances.c.size)
                .join(file_instances, file_instances.c.id == fixity_state.c.file_id)
                .where(fixity_state.c.status != "ok").order_by(fixity_state.c.file_id)).all()
            holders = where_used(conn, [r.file_id for r in rows])
        return [{"file_id": r.file_id, "status": r.status, "detail": r.detail, "checked": r.checked,
                 "uri": r.uri, "size": r.size, "records": holders.get(r.file_id, [])} for r in rows]

    def summary(self) -> dict[str, Any]:
        with self.db.read() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(file_instances)).scalar_one()
            checked = conn.execute(
                sa.select(sa.func.count(), sa.func.min(fixity_state.c.checked))
                .select_from(fixity_state.join(file_instances, file_instances.c.id == fixity_state.c.file_id))
            ).one()
        return {"files": int(total), "never_checked": int(total) - int(checked[0]), "oldest_check": checked[1]}


def where_used(conn: sa.Connection, file_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """file id -> [{"recid", "key", "published"}] of every deposit whose bucket holds it."""
    out: dict[str, list[dict[str, Any]]] = {}
    if not file_ids:
        return out
    rows = conn.execute(
        sa.select(objects.c.file_id, objects.c.key, deposits.c.id, deposits.c.record.is_not(None).label("published"))
        .join(deposits, deposits.c.bucket_id == objects.c.bucket_id)
        .where(objects.c.file_id.in_(file_ids)).order_by(deposits.c.id)).all()
    for r in rows:
        out.setdefault(r.file_id, []).append({"recid": r.id, "key": r.key, "published": bool(r.published)})
    return out
