"""The bulk job: unpack and check the batch's bag, then publish its records in groups.

``run_bulk_job(ctx, job_id)`` is the entry point a job queue enqueues as it is; the server's own worker runs
its two halves, ``unpack_job`` and ``publish_job``, so that the next job is unpacked while one publishes.
It is safe to run again at any point (after a crash, a restart, or twice):

- the archive stays until the job is done, and is unpacked afresh on every run;
- each record's outcome is one row of ``bulk_items``; only records still ``pending`` are worked on;
- a group of records is published in one transaction (one commit, one fsync of the database, for many
  records), each record inside its own savepoint, so that a bad record fails alone, with its reason;
- a record key is published at most once per owner: ``record_keys`` has the key as its primary key, and a
  record already published with that key (by bulk ingest, or by the per-record API with the key as an
  alternate identifier) is reported as ``exists`` with the record it names, never published again;
- file content is moved (not copied) from the unpacked bag into the blob store, under an id derived from
  (job, record, file), so a run that dies between the move and the commit leaves nothing a rerun does not
  overwrite.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from depot.metadata import FieldError, publish_errors
from depot.repository.bulk.package import BulkRecord, UnpackedBag, read_records, unpack_counted
from depot.repository.bulk.service import BulkService
from depot.repository.errors import BulkPackageError, RepositoryError, ValidationError
from depot.repository.services.deposits import require_communities
from depot.repository.services.files import guess_mimetype
from depot.repository.services.keys import check_key
from depot.repository.services.permissions import Identity
from depot.repository.services.scopes import DEPOSIT_ACTIONS, DEPOSIT_WRITE
from depot.repository.services.views import Deposit, StoredFile
from depot.repository.store import statements as st
from depot.repository.store.blobs import StoredBlob
from depot.repository.store.tables import bulk_items, bulk_jobs, deposits, record_keys, terms

if TYPE_CHECKING:
    from depot.repository.context import Context

log = logging.getLogger("depot.repository.bulk")
GROUP = 100  # records per transaction: one commit for many, small enough that a crash redoes little
BLOB_NAMESPACE = uuid.UUID("6f1d7c1e-0a8e-4d3f-9a55-3c1b6a0b5e14")
EXISTS = "A record with this key is already published."
_T = TypeVar("_T")


def bulk_service(ctx: Context) -> BulkService:
    return BulkService(ctx.deposits.db, ctx.config, ctx.deposits.clock)


def run_bulk_job(ctx: Context, job_id: str, stop: threading.Event | None = None) -> None:
    """Run (or resume) bulk job ``job_id`` until every record has an outcome; ``stop`` ends it between groups,
    leaving it to be resumed. A job already finished is left alone."""
    unpacked = unpack_job(ctx, job_id)
    if unpacked is not None:
        publish_job(ctx, unpacked, stop)


@dataclass
class Unpacked:
    """A job's batch unpacked and checked, its items written: what ``publish_job`` goes on with."""

    job_id: str
    owner_id: int
    bag: UnpackedBag


def _inline(fn: Callable[..., _T], *args: Any) -> _T:
    return fn(*args)


def unpack_job(ctx: Context, job_id: str, run: Callable[..., tuple[UnpackedBag, int]] = _inline
               ) -> Unpacked | None:
    """The first half of a job: unpack and check its archive, and write one item per record. None when there
    is nothing to publish (finished before, or refused now, with the reason in the job). The server's worker
    runs it for the next job while it publishes the current one (``BulkWorker``), with ``run`` calling
    ``unpack_counted`` in a worker process (default: on this thread)."""
    service = bulk_service(ctx)
    job = service.load(job_id)
    if job is None or job.state not in ("received", "running"):
        return None
    service.set_state(job_id, "running")
    work = service.work_dir(job_id)
    config = ctx.config
    try:
        bag, total = run(unpack_counted, service.archive(job_id), job.format, work, config.bulk_max_bytes,
                         config.bulk_max_records * (config.max_files_per_record + 1) + 16)
        if total > config.bulk_max_records:
            raise BulkPackageError(f"the batch has {total} records; at most {config.bulk_max_records} are "
                                   "accepted in one (bulk_max_records)")
        if total == 0:
            raise BulkPackageError("the batch has no records (data/records.jsonl is empty)")
    except BulkPackageError as exc:
        log.warning("bulk job %s refused: %s", job_id, exc)
        service.set_state(job_id, "failed", errors=[exc.message])
        _clean(service, job_id)
        return None
    except FileNotFoundError:
        service.set_state(job_id, "failed", errors=["the uploaded archive is missing (removed by an operator?)"])
        _clean(service, job_id)
        return None
    _ensure_items(ctx, job_id, bag, total)
    return Unpacked(job_id, job.owner_id, bag)


def publish_job(ctx: Context, unpacked: Unpacked, stop: threading.Event | None = None) -> None:
    """The second half of a job: publish the records still pending, group by group, then mark it done."""
    service = bulk_service(ctx)
    job_id, bag = unpacked.job_id, unpacked.bag
    with ctx.deposits.db.read() as conn:
        settled = set(conn.execute(sa.select(bulk_items.c.idx).where(
            bulk_items.c.job_id == job_id, bulk_items.c.state != "pending")).scalars())
    ingest = _Ingest(ctx, job_id, unpacked.owner_id)
    for group in _chunks((r for r in read_records(bag) if r.index not in settled), GROUP):
        if stop is not None and stop.is_set():
            shutil.rmtree(service.work_dir(job_id), ignore_errors=True)
            return  # resumed on the next start
        ingest.group(group, bag)
    service.set_state(job_id, "done")
    _clean(service, job_id)


def _clean(service: BulkService, job_id: str) -> None:
    shutil.rmtree(service.work_dir(job_id), ignore_errors=True)
    service.archive(job_id).unlink(missing_ok=True)


def _ensure_items(ctx: Context, job_id: str, bag: UnpackedBag, total: int) -> None:
    """One ``bulk_items`` row per record, written once (with the total) in one transaction."""
    with ctx.deposits.db.write() as conn:
        if conn.execute(sa.select(bulk_jobs.c.total).where(bulk_jobs.c.id == job_id)).scalar() is not None:
            return
        conn.execute(bulk_items.delete().where(bulk_items.c.job_id == job_id))
        for chunk in _chunks(read_records(bag), 1000):
            conn.execute(bulk_items.insert(), [{"job_id": job_id, "idx": r.index, "key": r.key, "state": "pending",
                                                "deposit_id": None, "message": None} for r in chunk])
        conn.execute(bulk_jobs.update().where(bulk_jobs.c.id == job_id).values(total=total))


def _chunks(items: Iterable[BulkRecord], size: int) -> Iterator[list[BulkRecord]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


@dataclass
class _Prepared:
    record: BulkRecord
    metadata: dict[str, Any]
    blobs: list[tuple[str, StoredBlob]]  # (file name, stored blob)


class _Ingest:
    def __init__(self, ctx: Context, job_id: str, owner_id: int) -> None:
        self.ctx = ctx
        self.job_id = job_id
        self.owner_id = owner_id
        self.identity = Identity(owner_id, frozenset({DEPOSIT_WRITE, DEPOSIT_ACTIONS}))

    def group(self, records: list[BulkRecord], bag: UnpackedBag) -> None:
        outcomes: dict[int, tuple[str, int | None, str | None]] = {}
        existing = self._existing([r.key for r in records if r.problem is None])
        prepared: list[_Prepared] = []
        for record in records:
            if record.problem is not None:
                outcomes[record.index] = ("failed", None, record.problem)
            elif record.key in existing:
                outcomes[record.index] = ("exists", existing[record.key], EXISTS)
            else:
                try:
                    prepared.append(self._prepare(record, bag))
                except RepositoryError as exc:
                    outcomes[record.index] = ("failed", None, describe(exc))
        published: list[Deposit] = []
        now = self.ctx.deposits.now()
        if prepared:
            self.ctx.blobs.sync_all()  # the group's files durable before the commit that points at them
        # The group's files are deleted if its transaction does not commit (the job's retry places its own; a
        # kill -9 here still leaves them, as the store has no sweep yet); a refused record's go after the commit.
        placed = [blob for item in prepared for _, blob in item.blobs]
        with self.ctx.deposits.unit_of_work(written=placed) as work:
            conn = work.conn
            ready: list[_Prepared] = []
            for item in prepared:
                try:
                    require_communities(conn, item.metadata)
                    ready.append(item)
                except RepositoryError as exc:
                    outcomes[item.record.index] = ("failed", None, describe(exc))
                    work.unreferenced([b.uri for _, b in item.blobs])
            together = self._publish_together(conn, ready, now)
            for deposit, item in zip(together or [], ready, strict=False):
                outcomes[item.record.index] = ("published", deposit.id, None)
                published.append(deposit)
            for item in ([] if together is not None else ready):
                key = item.record.key
                try:
                    with conn.begin_nested():
                        deposit = self._publish(conn, item, now)
                    outcomes[item.record.index] = ("published", deposit.id, None)
                    published.append(deposit)
                except sa.exc.IntegrityError:
                    # The key was published meanwhile (another job of the same owner): the database refused it.
                    found = self._existing([key], conn).get(key)
                    outcomes[item.record.index] = ("exists", found, EXISTS) if found else (
                        "failed", None, "refused by the database (a conflicting record)")
                    work.unreferenced([b.uri for _, b in item.blobs])
                except RepositoryError as exc:
                    outcomes[item.record.index] = ("failed", None, describe(exc))
                    work.unreferenced([b.uri for _, b in item.blobs])
            # The group's publish hooks in one call: its bags are one job, written with one syncfs.
            self.ctx.actions.run_on_publish_group(conn, published)
            conn.execute(bulk_items.update().where(bulk_items.c.job_id == self.job_id,
                                                   bulk_items.c.idx == sa.bindparam("b_idx")),
                         [{"b_idx": idx, "state": state, "deposit_id": dep, "message": msg}
                          for idx, (state, dep, msg) in outcomes.items()])
            conn.execute(bulk_jobs.update().where(bulk_jobs.c.id == self.job_id).values(updated=now))

    def _existing(self, keys: list[str], conn: sa.Connection | None = None) -> dict[str, int]:
        """The owner's published records already carrying each key: by bulk ingest (``record_keys``) or
        as an alternate identifier of a record published through the per-record API."""
        if not keys:
            return {}
        if conn is None:
            with self.ctx.deposits.db.read() as own:
                return self._existing(keys, own)
        found: dict[str, int] = {}
        lowered: dict[str, list[str]] = {}  # the search terms are lower-cased (services/search.py)
        for key in keys:
            lowered.setdefault(key.lower()[:1000], []).append(key)
        for value, dep in conn.execute(sa.select(terms.c.value, terms.c.deposit_id).join(
                deposits, deposits.c.id == terms.c.deposit_id).where(
                terms.c.field == "alternate.identifier", terms.c.scope == "record",
                terms.c.value.in_(list(lowered)), deposits.c.owner_id == self.owner_id)):
            for key in lowered.get(value, []):
                found.setdefault(key, dep)
        for key, dep in conn.execute(sa.select(record_keys.c.key, record_keys.c.deposit_id).where(
                record_keys.c.owner_id == self.owner_id, record_keys.c.key.in_(keys))):
            found[key] = dep
        return found

    def _prepare(self, record: BulkRecord, bag: UnpackedBag) -> _Prepared:
        """Checks that need no transaction, then the files moved into the store (nothing else is written)."""
        config = self.ctx.config
        metadata = self.ctx.deposits.normalize_body({"metadata": record.metadata}, required=True) or {}
        names = [check_key(f.name) for f in record.files]
        if len(set(names)) != len(names):
            raise ValidationError([FieldError("files", ("Two files of the record have one name.",))])
        if len(names) > config.max_files_per_record:
            raise ValidationError([FieldError("files", (f"More than {config.max_files_per_record} files.",))])
        errors = publish_errors(metadata, file_count=len(names))
        if errors:
            raise ValidationError(errors)
        digests = [bag.digests["data/" + f.path.relative_to(bag.data).as_posix()] for f in record.files]
        if any(d.size == 0 for d in digests):
            raise ValidationError(message="Empty files are not accepted.")
        if sum(d.size for d in digests) > config.record_quota_bytes:
            raise ValidationError(message="Bucket quota exceeded.")
        blobs: list[tuple[str, StoredBlob]] = []
        try:
            for n, (name, spec, digest) in enumerate(zip(names, record.files, digests, strict=True)):
                blob_id = str(uuid.uuid5(BLOB_NAMESPACE, f"{self.job_id}/{record.index}/{n}"))
                if not spec.path.exists():  # moved into the store for an earlier record of the batch
                    raise ValidationError([FieldError("files", (
                        f"{name}: the payload file is already another record's; give each record its own.",))])
                blobs.append((name, self.ctx.blobs.place(spec.path, blob_id, digest.size, digest.hashes["md5"],
                                                         digest.hashes["sha256"])))
        except BaseException:
            for _, blob in blobs:
                self.ctx.blobs.delete(blob.uri)
            raise
        return _Prepared(record, metadata, blobs)

    def _publish_together(self, conn: sa.Connection, items: list[_Prepared], now: str) -> list[Deposit] | None:
        """Publish all ``items`` with one statement per table, in one savepoint; None, with nothing written,
        if the database refuses one of them (a key published meanwhile by another job): then each is
        published alone, in a savepoint of its own, and only the conflicting one fails. Saves about ten
        statements and a savepoint per record."""
        if not items:
            return []
        try:
            with conn.begin_nested():
                ids = self.ctx.deposits.allocate_pids(conn, ["concept", "record"] * len(items))
                drafts: list[Deposit] = []
                instances: list[dict[str, Any]] = []
                objects: list[dict[str, Any]] = []
                for n, item in enumerate(items):
                    bucket_id = str(uuid.uuid4())
                    stored = self._stored_files(item, bucket_id, now, instances, objects)
                    drafts.append(Deposit(ids[2 * n + 1], ids[2 * n], self.owner_id, bucket_id, item.metadata, None,
                                          None, None, None, now, now, None, stored))
                published = self.ctx.actions.insert_published(conn, self.identity, drafts, now)
                if instances:
                    conn.execute(st.INSERT_FILE_INSTANCE, instances)
                    conn.execute(st.INSERT_OBJECT, objects)
                conn.execute(record_keys.insert(), [
                    {"owner_id": self.owner_id, "key": item.record.key, "deposit_id": d.id}
                    for item, d in zip(items, drafts, strict=True)])
                return published
        except sa.exc.IntegrityError:
            return None

    @staticmethod
    def _stored_files(item: _Prepared, bucket_id: str, now: str, instances: list[dict[str, Any]],
                      objects: list[dict[str, Any]]) -> tuple[StoredFile, ...]:
        """The record's files as stored, and their file-instance and object rows appended for one insert."""
        stored: list[StoredFile] = []
        for name, blob in item.blobs:
            instances.append({"id": blob.id, "uri": blob.uri, "size": blob.size, "md5": blob.md5,
                              "sha256": blob.sha256, "created": now})
            version_id, mimetype = str(uuid.uuid4()), guess_mimetype(name)
            objects.append({"bucket_id": bucket_id, "key": name, "file_id": blob.id, "version_id": version_id,
                            "mimetype": mimetype, "created": now, "updated": now})
            stored.append(StoredFile(blob.id, name, blob.size, blob.md5, blob.sha256, mimetype, version_id, blob.uri,
                                     now, now))
        return tuple(stored)

    def _publish(self, conn: sa.Connection, item: _Prepared, now: str) -> Deposit:
        """One record in the caller's savepoint (after ``_publish_together`` was refused)."""
        concept_id = self.ctx.deposits.allocate_pid(conn, "concept")
        deposit_id = self.ctx.deposits.allocate_pid(conn, "record")
        bucket_id = str(uuid.uuid4())
        conn.execute(st.INSERT_CONCEPT, {"id": concept_id, "owner_id": self.owner_id, "created": now})
        conn.execute(st.INSERT_DEPOSIT, {
            "id": deposit_id, "concept_id": concept_id, "owner_id": self.owner_id, "bucket_id": bucket_id,
            "draft": item.metadata, "record": None, "title": item.metadata.get("title", ""), "created": now,
            "modified": now, "files_enabled": True})
        instances: list[dict[str, Any]] = []
        objects: list[dict[str, Any]] = []
        stored = self._stored_files(item, bucket_id, now, instances, objects)
        if instances:
            conn.execute(st.INSERT_FILE_INSTANCE, instances)
            conn.execute(st.INSERT_OBJECT, objects)
        conn.execute(record_keys.insert().values(owner_id=self.owner_id, key=item.record.key, deposit_id=deposit_id))
        # The deposit as load_deposit would read it back (three queries saved per record).
        deposit = Deposit(deposit_id, concept_id, self.owner_id, bucket_id, item.metadata, None, None, None, None,
                          now, now, None, stored)
        return self.ctx.actions.publish_in(conn, self.identity, deposit, now, new=True)


def describe(exc: RepositoryError) -> str:
    """A record's failure in one line: the message and every field error."""
    if isinstance(exc, ValidationError) and exc.errors:
        return exc.message + " " + "; ".join(f"{e.field}: {' '.join(e.messages)}" for e in exc.errors)
    return exc.message
