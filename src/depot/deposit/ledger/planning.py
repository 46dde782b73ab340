"""Planning: turn what the source says now into ledger rows (new, changed, retried, and for depot sync,
edits in place and new versions of published specimens). Streams in batches; writes nothing on a dry run."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from depot.deposit.changes import PublishedFile, WantedFile, compare
from depot.deposit.errors import LedgerError
from depot.deposit.inspect_files import md5_of
from depot.deposit.keyscan import KeyScan
from depot.deposit.ledger.states import State
from depot.deposit.ledger.tables import files, specimens, versions
from depot.deposit.ledger.values import hash_of, now_iso, refused, resume
from depot.deposit.models import PlannedRecord
from depot.deposit.verdict import KeyRows, Problem, Verdict

Judge = Callable[[PlannedRecord], Verdict]

BATCH = 500
FIRST_BATCH = 8  # the first batches are small and grow to BATCH: a deposit beside the plan starts at once
PROBLEMS_KEPT = 1000  # (key, reason) pairs the summary keeps to show; the ledger keeps every one


@dataclass
class PlanSummary:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    left: int = 0  # of the unchanged: still to be sent, as an earlier run planned them (a kill, a stop)
    retried: int = 0  # failed before, planned again
    published_changed: int = 0  # published, but the source changed since (a job for depot sync)
    edits: int = 0  # depot sync: published records whose metadata changes in place
    versions: int = 0  # depot sync: published records that get a new version (their files changed)
    skipped: int = 0  # specimens with problems: rejected (nothing is sent for them)
    duplicates: int = 0  # keys that several source rows hold (each is rejected, all its rows reported)
    requests: int = 0  # what the planned work costs at least (no retries, no probes)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (key, reason), the first PROBLEMS_KEPT
    gone: list[str] = field(default_factory=list)  # published specimens no longer in the source
    communities: set[str] = field(default_factory=set)  # every community the records name
    stopped: bool = False  # planning was stopped before the end of the source (the rest: the next run)

    @property
    def total(self) -> int:
        return (self.new + self.changed + self.unchanged + self.retried + self.published_changed + self.edits
                + self.versions + self.skipped)


_UNFINISHED = (State.PLANNED, State.CREATED, State.UPLOADED, State.UNCERTAIN)  # a tuple: rows hold plain str


def _stat(path: str) -> tuple[int | None, int | None]:
    try:
        found = os.stat(path)
    except OSError:
        return None, None
    return found.st_size, found.st_mtime_ns



def _fingerprint(record: PlannedRecord) -> str:
    parts: list[tuple[str, int | None, int | str | None]] = []
    for spec in record.files:
        parts.append((spec.name, *_stat(spec.path)))
    parts += [(name, len(data), hashlib.md5(data).hexdigest()) for name, data in record.sidecars]
    return hash_of([record.metadata, parts])



class Planner:
    """Plans into one ledger; ``tx`` opens one write transaction (the ledger's, with its error mapping)."""

    def __init__(self, engine: sa.Engine, tx: Callable[[], Any], url: str) -> None:
        self.engine = engine
        self._tx = tx
        self.url = url

    def plan(self, records: Iterable[PlannedRecord], *, sidecar_dir: Path | None = None,
             sync: bool = False, dry_run: bool = False, judge: Judge | None = None, keys: KeyScan | None = None,
             on_batch: Callable[[PlanSummary], None] | None = None,
             stopping: Callable[[], bool] | None = None) -> PlanSummary:
        """Insert new specimens, refresh changed ones not yet created; streams in batches of 500.

        ``judge`` gives each record's verdict (depot.deposit.verdict.judge); a record with a problem, and
        every row of a key that several rows hold, is stored as rejected, with its reason, file and row:
        nothing is sent for it until the source is fixed. Without ``judge`` only the record's own
        problems count. With ``sync``, a published specimen whose source changed is planned as an edit
        in place or a new version (see depot.deposit.changes). With ``dry_run`` nothing is written: the
        summary is the plan ``depot check`` shows.

        ``keys`` (depot.deposit.keyscan) are the source's keys, read by a first pass: its duplicates are
        rejected before any record is planned, and nothing per key is kept while the records stream (the
        summary's ``gone`` is then left to the caller). ``on_batch`` is called after each batch is
        written (a deposit running beside the planning claims it); planning ends early, the records not
        yet written left for the next run, once ``stopping()`` is true.
        """
        summary = PlanSummary()
        judge = judge or _own_problems
        seen = KeyRows() if keys is None else None
        self._counted: dict[str, tuple[str, ...]] = {}  # key -> the summary buckets it went to, undone for a duplicate
        self._prior: dict[str, dict[str, Any]] = {}  # published specimens replanned: their values before
        self._track = keys is None  # the two above are needed only for duplicates found on the way
        batch: list[tuple[PlannedRecord, Verdict]] = []
        size = FIRST_BATCH if on_batch is not None else BATCH
        seq = self._max_seq()
        if keys is not None and keys.duplicates.duplicates:
            seq = self._reject_duplicates(keys.duplicates, summary, seq, dry_run=dry_run)
        for record in records:
            if stopping is not None and stopping():
                summary.stopped = True
                return summary
            if seen is None:
                if keys is not None and record.key in keys.duplicates.duplicates:
                    continue  # rejected above, with all its rows
            elif seen.add(record.key, record.row):
                # Not planned again: the later row would replace the earlier one. Every row of the key
                # is rejected once the whole source is read (_reject_duplicates).
                batch = [(r, v) for r, v in batch if r.key != record.key]
                continue
            verdict = judge(record)
            summary.communities.update(verdict.communities)
            batch.append((record, verdict))
            if len(batch) >= size:
                seq = self._plan_batch(batch, summary, seq, sidecar_dir, sync=sync, dry_run=dry_run)
                batch = []
                size = min(BATCH, size * 2)
                if on_batch is not None:
                    on_batch(summary)
        if batch:
            seq = self._plan_batch(batch, summary, seq, sidecar_dir, sync=sync, dry_run=dry_run)
        if seen is not None:
            if seen.duplicates:
                self._reject_duplicates(seen, summary, seq, dry_run=dry_run)
            summary.gone = self.not_in(seen)
        if on_batch is not None:
            on_batch(summary)
        return summary

    def _reject_duplicates(self, keys: KeyRows, summary: PlanSummary, seq: int, *, dry_run: bool) -> int:
        """Every key that several rows hold: rejected with all its rows, whatever planning did with the first."""
        now = now_iso()
        for key, rows in keys.duplicates.items():
            reason = keys.message(key)
            summary.duplicates += 1
            summary.skipped += 1
            for bucket in self._counted.pop(key, ()):
                setattr(summary, bucket, getattr(summary, bucket) - 1)
            if len(summary.problems) < PROBLEMS_KEPT:
                summary.problems.append((key, reason))
            if dry_run:
                continue
            with self._tx() as conn:
                old = conn.execute(sa.select(specimens.c.state, specimens.c.record_id, specimens.c.rejected_reason)
                                   .where(specimens.c.key == key)).first()
                marks = {"rejected_reason": reason, "rejected_file": None, "source_row": rows[0], "updated_at": now}
                if old is None:
                    seq += 1  # never planned: a row that only says why
                    conn.execute(specimens.insert().values(
                        key=key, seq=seq, state=State.REJECTED, metadata={}, metadata_hash="", fingerprint="",
                        attempts=0, created_at=now, **marks))
                elif old.record_id is not None or old.state == State.UNCERTAIN:
                    # Published (or a create in doubt): its state stays; a sync edit planned just now is undone.
                    conn.execute(specimens.update().where(specimens.c.key == key).values(
                        **self._prior.get(key, {}), **marks))
                else:
                    conn.execute(specimens.update().where(specimens.c.key == key).values(
                        state=State.REJECTED, **marks))
        return seq

    def _max_seq(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(specimens.c.seq), 0))).scalar_one())

    def not_in(self, seen: Container[str]) -> list[str]:
        """Specimens the ledger has published that the source no longer lists (reported, never deleted)."""
        out: list[str] = []
        last = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.select(specimens.c.key, specimens.c.seq).where(
                    specimens.c.seq > last, specimens.c.record_id.is_not(None)).order_by(specimens.c.seq)
                    .limit(BATCH)).all()
            if not rows:
                return out
            out.extend(r.key for r in rows if r.key not in seen)
            last = rows[-1].seq

    def _plan_batch(self, batch: list[tuple[PlannedRecord, Verdict]], summary: PlanSummary, seq: int,
                    sidecar_dir: Path | None, *, sync: bool, dry_run: bool) -> int:
        now = now_iso()
        with self._tx() as conn:
            existing = {r.key: r for r in conn.execute(
                sa.select(specimens.c.key, specimens.c.state, specimens.c.fingerprint, specimens.c.last_status,
                          specimens.c.deposition_id, specimens.c.step, specimens.c.record_id,
                          specimens.c.metadata_hash, specimens.c.rejected_reason, specimens.c.op,
                          specimens.c.pending_put, specimens.c.lease_owner)
                .where(specimens.c.key.in_([r.key for r, _ in batch])))}
            baselines = self._baselines(conn, {k: r.metadata_hash for k, r in existing.items()
                                               if r.record_id is not None})
            new_specimens: list[dict[str, Any]] = []
            new_files: list[dict[str, Any]] = []
            ours = f"{socket.gethostname()}:{os.getpid()}:"  # the lease owners of this process's runners
            for record, verdict in batch:
                fingerprint = _fingerprint(record)
                old = existing.get(record.key)
                if old is not None and (old.lease_owner or "").startswith(ours):
                    # Claimed by a worker of the deposit running beside this plan (a row an earlier run
                    # planned): it goes on with what it claimed; a change waits for the next run or sync.
                    self._count(summary, record.key, "unchanged", left=True)
                    continue
                if verdict.blocked:
                    seq = self._reject(conn, record, verdict, old, fingerprint, summary, seq, now, dry_run)
                    continue
                if old is not None and old.rejected_reason is not None and not dry_run:
                    conn.execute(specimens.update().where(specimens.c.key == record.key).values(
                        rejected_reason=None, rejected_file=None, source_row=record.row))
                if old is not None and old.fingerprint == fingerprint and \
                        old.state not in (State.FAILED, State.REJECTED):
                    self._count(summary, record.key, "unchanged", left=old.state in _UNFINISHED)
                    continue
                if old is not None and old.state in _IN_DOUBT:
                    # in flight: finish with what was created (or settle the bulk batch it went in)
                    self._count(summary, record.key, "unchanged", left=True)
                    continue
                if old is not None and old.state == State.FAILED and old.fingerprint == fingerprint and \
                        refused(old.last_status):
                    self._count(summary, record.key, "unchanged")  # refused; unchanged data would be refused again
                    continue
                if old is not None and old.record_id is not None and old.fingerprint != fingerprint:
                    if not sync:
                        self._count(summary, record.key, "published_changed")
                    else:
                        # Small values only (no metadata): a duplicate found later puts these back.
                        if self._track:
                            self._prior[record.key] = {
                                "state": old.state, "op": old.op, "pending_put": old.pending_put, "step": old.step,
                                "metadata_hash": old.metadata_hash, "fingerprint": ""}
                        self._plan_sync(conn, record, fingerprint, baselines[record.key], summary, now,
                                        sidecar_dir, dry_run)
                    continue
                if old is not None and old.deposition_id is not None:
                    # A failed (or rejected) record that has a deposition: carry on with that deposition, never
                    # create a second one. A changed source goes to its draft (op "update": align the draft's
                    # files, PUT the metadata), unless the failed step was a publish that may have happened (not
                    # a refusal): that is probed first, and a later sync edits what was published.
                    self._count(summary, record.key, "retried")
                    if dry_run:
                        continue
                    if old.fingerprint != fingerprint and (old.step != "publish" or refused(old.last_status)):
                        conn.execute(specimens.update().where(specimens.c.key == record.key).values(
                            state=State.CREATED, step=None, op="update", pending_put=True, metadata=record.metadata,
                            metadata_hash=hash_of(record.metadata), fingerprint=fingerprint, attempts=0,
                            retry_at=None, last_status=None, last_error=None, updated_at=now, source_row=record.row))
                        conn.execute(files.delete().where(files.c.specimen_key == record.key))
                        self._insert_files(conn, record.key,
                                           list(record.files) + self._write_sidecars(record, sidecar_dir))
                    else:
                        conn.execute(specimens.update().where(specimens.c.key == record.key).values(
                            **resume(old.step), attempts=0, retry_at=None, updated_at=now))
                    continue
                if old is None:
                    self._count(summary, record.key, "new")
                elif old.state in (State.FAILED, State.REJECTED):
                    self._count(summary, record.key, "retried")
                else:
                    self._count(summary, record.key, "changed")
                summary.requests += 2 + len(record.files) + len(record.sidecars)
                if dry_run:
                    continue
                specs = list(record.files) + self._write_sidecars(record, sidecar_dir)
                values = {"state": State.PLANNED, "step": None, "op": None, "metadata": record.metadata,
                          "metadata_hash": hash_of(record.metadata), "fingerprint": fingerprint, "attempts": 0,
                          "retry_at": None, "last_status": None, "last_error": None, "updated_at": now,
                          "source_row": record.row}
                if old is None:  # the common case: written with the batch's other new specimens at once
                    seq += 1
                    new_specimens.append({"key": record.key, "seq": seq, "created_at": now, **values})
                    new_files.extend(self._file_rows(record.key, specs))
                    continue
                conn.execute(specimens.update().where(specimens.c.key == record.key).values(**values))
                conn.execute(files.delete().where(files.c.specimen_key == record.key))
                self._insert_files(conn, record.key, specs)
            if new_specimens:  # one executemany per table: no statement built per record
                conn.execute(specimens.insert(), new_specimens)
            if new_files:
                conn.execute(files.insert(), new_files)
        return seq

    def _count(self, summary: PlanSummary, key: str, bucket: str, *, left: bool = False) -> None:
        """Count ``key`` in ``bucket`` (and among the unchanged still to send, ``left``), undone as one if
        the key turns out to be a duplicate."""
        buckets = (bucket, "left") if left else (bucket,)
        for name in buckets:
            setattr(summary, name, getattr(summary, name) + 1)
        if self._track:
            self._counted[key] = buckets

    def _reject(self, conn: sa.Connection, record: PlannedRecord, verdict: Verdict, old: Any, fingerprint: str,
                summary: PlanSummary, seq: int, now: str, dry_run: bool) -> int:
        """Store a specimen whose source has a problem: nothing is sent for it until the source is fixed.

        A published specimen, or one whose create is in doubt, keeps its state: only the reason is stored.
        One with a draft keeps its deposition, so a fixed source carries on with that draft."""
        summary.skipped += 1
        if self._track:
            self._counted[record.key] = ("skipped",)
        hint = _images_elsewhere(conn, record) if old is not None else None
        if len(summary.problems) < PROBLEMS_KEPT:
            summary.problems.extend((record.key, p.message) for p in verdict.problems)
            if hint:
                summary.problems.append((record.key, hint))
        if dry_run:
            return seq
        reason = f"{verdict.reason()}; {hint}" if hint else verdict.reason()
        marks = {"rejected_reason": reason[:4000], "rejected_file": verdict.first_file(),
                 "source_row": record.row, "updated_at": now}
        if old is None:
            seq += 1
            conn.execute(specimens.insert().values(
                key=record.key, seq=seq, state=State.REJECTED, metadata=record.metadata,
                metadata_hash=hash_of(record.metadata), fingerprint=fingerprint, attempts=0, created_at=now, **marks))
        elif old.record_id is not None or old.state in (State.UNCERTAIN, State.BATCHED):
            # A batched specimen's batch may be published already: the next run settles it first. Marked
            # rejected here, it left the batch and was sent again in a new one (the server reported it as
            # existing; the bytes went twice).
            conn.execute(specimens.update().where(specimens.c.key == record.key).values(**marks))
        else:
            conn.execute(specimens.update().where(specimens.c.key == record.key).values(
                state=State.REJECTED, lease_owner=None, lease_until=None, **marks))
        return seq


    def _plan_sync(self, conn: sa.Connection, record: PlannedRecord, fingerprint: str,
                   baseline: tuple[str, list[PublishedFile]], summary: PlanSummary, now: str,
                   sidecar_dir: Path | None, dry_run: bool) -> None:
        """Plan a published specimen whose source changed: an edit, a new version, or nothing after all."""
        metadata_hash = hash_of(record.metadata)
        wanted = [WantedFile(s.name, s.path, *_stat(s.path), md5=s.md5) for s in record.files]
        wanted += [WantedFile(name, "", len(data), None, md5=hashlib.md5(data).hexdigest())
                   for name, data in record.sidecars]
        change = compare(published_metadata_hash=baseline[0], published_files=baseline[1],
                         metadata_hash=metadata_hash, wanted=wanted, md5_of=md5_of)
        summary.requests += change.requests
        if change.kind == "unchanged":
            summary.unchanged += 1
        elif change.kind == "edit":
            summary.edits += 1
        else:
            summary.versions += 1
        if dry_run:
            return
        key = record.key
        if change.kind == "unchanged":
            # Touched or moved files with the same content: remember the new stat, send nothing.
            conn.execute(specimens.update().where(specimens.c.key == key).values(fingerprint=fingerprint,
                                                                                 updated_at=now))
            for w in wanted:
                conn.execute(files.update().where(files.c.specimen_key == key, files.c.name == w.name)
                             .values(path=w.path or files.c.path, mtime_ns=w.mtime_ns))
            return
        specs = list(record.files) + self._write_sidecars(record, sidecar_dir)
        carried = {f.name: f for f in baseline[1]}
        conn.execute(specimens.update().where(specimens.c.key == key).values(
            state="planned", step=None, op=change.kind, pending_put=True, metadata=record.metadata,
            metadata_hash=metadata_hash, fingerprint=fingerprint, attempts=0, retry_at=None, last_status=None,
            last_error=None, updated_at=now))
        conn.execute(files.delete().where(files.c.specimen_key == key))
        # An edit keeps the published files; a new version learns which are already there from its draft.
        self._insert_files(conn, key, specs, md5=change.md5,
                           uploaded={n for n in change.same if n in carried} if change.kind == "edit" else set())

    def _insert_files(self, conn: sa.Connection, key: str, specs: list[Any], *, md5: dict[str, str] | None = None,
                      uploaded: set[str] | None = None) -> None:
        rows = self._file_rows(key, specs, md5=md5, uploaded=uploaded)
        if rows:
            conn.execute(files.insert(), rows)

    @staticmethod
    def _file_rows(key: str, specs: list[Any], *, md5: dict[str, str] | None = None,
                   uploaded: set[str] | None = None) -> list[dict[str, Any]]:
        md5, uploaded = md5 or {}, uploaded or set()
        rows = []
        for i, s in enumerate(specs):
            size, mtime_ns = _stat(s.path)  # the mtime lets the next sync trust an untouched file's MD5
            rows.append({"specimen_key": key, "name": s.name, "position": i, "path": s.path, "size": size or s.size,
                         "mtime_ns": mtime_ns, "md5": s.md5 or md5.get(s.name), "sha256": s.sha256,
                         "uploaded": s.name in uploaded,
                         "server_checksum": f"md5:{md5[s.name]}" if s.name in uploaded else None})
        return rows

    def _baselines(self, conn: sa.Connection,
                   hashes: dict[str, str]) -> dict[str, tuple[str, list[PublishedFile]]]:
        """Each specimen's latest published version: its metadata hash and files (name, size, mtime, MD5).

        ``hashes`` gives the specimens' own metadata hashes, the fallback for a record adopted by
        reconcile or published by an older Depot, whose versions rows lack the files."""
        keys = list(hashes)
        if not keys:
            return {}
        latest: dict[str, Any] = {}
        for version in conn.execute(sa.select(versions).where(versions.c.specimen_key.in_(keys))
                                    .order_by(versions.c.version)):
            latest[version.specimen_key] = version
        current: dict[str, list[PublishedFile]] = {k: [] for k in keys}
        for f in conn.execute(sa.select(files).where(files.c.specimen_key.in_(keys))):
            current[f.specimen_key].append(PublishedFile(f.name, f.size, f.mtime_ns, f.md5))
        out = {}
        for key in keys:
            row: Any = latest.get(key)
            if row is None or row.files is None:
                out[key] = (row.metadata_hash if row is not None else hashes[key], current[key])
            else:
                out[key] = (row.metadata_hash, [PublishedFile(f["name"], f.get("size"), f.get("mtime_ns"),
                                                              f.get("md5")) for f in row.files])
        return out

    def _write_sidecars(self, record: PlannedRecord, sidecar_dir: Path | None) -> list[Any]:
        from depot.deposit.models import FileSpec

        out = []
        for name, data in record.sidecars:
            if sidecar_dir is None:
                raise LedgerError(self.url, "a profile made sidecar files but no folder was given for them")
            folder = sidecar_dir / hashlib.sha256(record.key.encode()).hexdigest()[:16]
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            out.append(FileSpec(str(path), name, len(data), md5=hashlib.md5(data).hexdigest()))
        return out


_IN_DOUBT = (State.CREATED, State.UPLOADED, State.UNCERTAIN, State.BATCHED)  # sent: kept until known


def _images_elsewhere(conn: sa.Connection, record: PlannedRecord) -> str | None:
    """A hint for a rerun that lost a specimen's images: an earlier plan of it found them at paths that
    still exist, and this one does not (a rerun without the --images or --path-template of the first)."""
    if record.files and all(os.path.exists(f.path) for f in record.files):
        return None  # its images are all found: the problem is another
    wanted = {f.path for f in record.files}
    earlier = [row.path for row in conn.execute(sa.select(files.c.path).where(files.c.specimen_key == record.key)
                                                .order_by(files.c.position))]
    there = [path for path in earlier if path not in wanted and os.path.exists(path)]
    if not there:
        return None
    return (f"an earlier run found its image at {there[0]}, which is still there: give this run the same --images "
            "and --path-template as that one")


def _own_problems(record: PlannedRecord) -> Verdict:
    """The verdict when no judge is given: the record's own problems (from the source and the profile)."""
    return Verdict(record.key, record.row, tuple(Problem("record", p) for p in record.problems))
