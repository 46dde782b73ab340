"""Write a BagIt 1.0 bag (an AIP) of every published version, outside the database, under DATA_DIR/bags.

Layout: ``bags/<recid>/<publish timestamp>_<state digest>/`` (see ``bagspec``); a publish, an edit's
publish and a new version each get a bag, and a re-publish that changed nothing maps onto the bag that
exists. Bags are built in ``bags/<recid>/.tmp-*`` and renamed into place, so a bag directory with a
proper name is always complete.

Unchanged files are **hard-linked** from an earlier bag of the same concept (once that copy is re-hashed
and found sound), not listed in fetch.txt:
a bag with fetch.txt is incomplete until something fetches it, bagit-python cannot fetch, and a rebuild
from bags must work with the bags alone. A hard link costs no space and keeps every bag complete and
valid on its own. Files new to the concept are **copied** from the blob store (never linked to it), so
the bags are a second copy that a damaged blob does not also damage; the copy is hashed on the way and
compared with the checksums taken at upload, so a blob that rotted before bagging fails the bag instead
of being archived as if sound. (A hard link would share one inode with the stored blob: a bit flip in
one would be a bit flip in both.)

bagit-python's ``make_bag`` and ``Bag.save`` ``chdir`` the whole process (unsafe in a threaded server,
whose data dir may be relative) and re-hash the payload we already hashed, so the tag files are written
here to RFC 8493. bagit-python validates them in full where it counts: the fixity cycle (``audit_bags``)
and the tests. Re-opening every new bag with it as well cost a third of the bag's time (its manifest
loading resolves the real path of every entry) and checked nothing the writer had not just written.

With fsync on, one ``syncfs`` before the rename makes the whole bag durable (payload, tag files and
directories): a bag directory with a proper name survives a crash complete. (An fsync per file cost
4.2 ms a bag here, the syncfs 0.5 ms.)

The file side of a bag (``bagfiles``) runs in a worker process (``bag_processes``), the database side here.

Writing is a job on the queue (``depot.repository.jobs``, decision 0009), queued in the publish transaction
with the published state captured there: a publish never waits for, or fails because of, its bag. A job is
idempotent (a bag of the same state is found by name) and retried; failures are shown at /api/admin/fixity
and queued again by the fixity cycle's ticks; at start-up a scan queues every published record whose current
state has no bag.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import bagit
import orjson
import sqlalchemy as sa

from depot.processes import OnDemandPool
from depot.repository.config import RepositoryConfig
from depot.repository.jobs import JobQueue
from depot.repository.preservation import bagspec
from depot.repository.preservation.bagfiles import bags_of, write_bag_files, write_bag_group
from depot.repository.serializers import zenodo as serialize
from depot.repository.serializers.zenodo import Links
from depot.repository.services.views import Deposit, load_deposit
from depot.repository.store import space
from depot.repository.store.blobs import BlobStore
from depot.repository.store.db import Database
from depot.repository.store.tables import communities, community_records, concepts, deposits

log = logging.getLogger("depot.repository.bags")
__all__ = ["BagWriter", "audit_bags", "bags_of", "snapshot"]
_T = TypeVar("_T")


# Built once: a publish takes a snapshot, and building the statements cost more than running them.
_CONCEPTS: sa.BindParameter[list[int]] = sa.bindparam("concepts", expanding=True)
_CONCEPT_CREATED = sa.select(concepts.c.id, concepts.c.created).where(concepts.c.id.in_(_CONCEPTS))
_LATEST_VERSION = sa.select(deposits.c.concept_id, sa.func.max(deposits.c.version_index)).where(
    deposits.c.concept_id.in_(_CONCEPTS), deposits.c.record.is_not(None)).group_by(deposits.c.concept_id)
_COMMUNITIES_OF = (
    sa.select(community_records.c.concept_id, communities.c.id, communities.c.slug, communities.c.title,
              communities.c.owner_id, communities.c.created, community_records.c.status,
              community_records.c.created.label("included"))
    .join(communities, communities.c.id == community_records.c.community_id)
    .where(community_records.c.concept_id.in_(_CONCEPTS)).order_by(communities.c.slug))


def snapshot(conn: sa.Connection, links: Links, deposit: Deposit) -> tuple[dict[str, Any], dict[str, Any]]:
    """(AIP snapshot, public record JSON) of a published deposit, read in one transaction."""
    return snapshots(conn, links, [deposit])[0]


def snapshots(conn: sa.Connection, links: Links,
              published: list[Deposit]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``snapshot`` of each deposit, with three queries for all of them (a bulk ingest group)."""
    ids = {"concepts": sorted({d.concept_id for d in published})}
    created: dict[int, str] = {row[0]: row[1] for row in conn.execute(_CONCEPT_CREATED, ids)}
    latest: dict[int, int] = {row[0]: row[1] for row in conn.execute(_LATEST_VERSION, ids)}
    comms: dict[int, list[dict[str, Any]]] = {}
    for r in conn.execute(_COMMUNITIES_OF, ids):
        comms.setdefault(r.concept_id, []).append({
            "id": r.id, "slug": r.slug, "title": r.title, "owner_id": r.owner_id, "created": r.created,
            "status": r.status, "included": r.included})
    return [_snapshot(links, d, created.get(d.concept_id), latest.get(d.concept_id), comms.get(d.concept_id, []))
            for d in published]


def _snapshot(links: Links, deposit: Deposit, concept_created: str | None, latest: int | None,
              comms: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    assert deposit.record is not None and deposit.doi is not None
    record_json = serialize.record(links, deposit, is_last=latest == deposit.version_index,
                                   communities=[c["slug"] for c in comms if c["status"] == "accepted"])
    record_row = {"id": deposit.id, "concept_id": deposit.concept_id, "owner_id": deposit.owner_id,
                  "bucket_id": deposit.bucket_id, "doi": deposit.doi, "concept_doi": deposit.concept_doi,
                  "version_index": deposit.version_index, "created": deposit.created,
                  "modified": deposit.modified, "published": deposit.published,
                  "concept_created": concept_created, "metadata": deposit.record}
    if deposit.withdrawn is not None:  # only then: the state digest of every live record stays as it was
        record_row |= {"withdrawn": deposit.withdrawn, "withdrawal_reason": deposit.withdrawal_reason}
    files = [{"file_id": f.file_id, "key": f.key, "size": f.size, "md5": f.md5, "sha256": f.sha256,
              "mimetype": f.mimetype, "version_id": f.version_id, "created": f.created, "updated": f.updated}
             for f in deposit.files]
    return bagspec.aip_snapshot(record_row=record_row, files=files, communities=comms), record_json


class BagWriter:
    """Writes bags; the job queue (``depot.repository.jobs``) runs it: job ``bag`` per published state."""

    def __init__(self, db: Database, config: RepositoryConfig, links: Links, blobs: BlobStore,
                 clock: Callable[[], datetime], jobs: JobQueue | None = None) -> None:
        self.db, self.config, self.links, self.blobs, self.clock = db, config, links, blobs, clock
        self.root = config.data_dir / "bags"
        self.jobs = jobs
        self.written = 0
        self._stopping = threading.Event()  # ends a scan early; the rest is found at the next start
        # None: ``bag_processes`` 0, bags written on the queue's thread
        self._processes = OnDemandPool(config.bag_processes) if config.bag_processes > 0 else None

    # -- the queue ------------------------------------------------------------------------------------
    def enqueue(self, conn: sa.Connection, deposit: Deposit) -> None:
        """Queue the bag of ``deposit`` as published in ``conn``'s transaction, with its state captured there:
        when publishes come faster than bags are written (an edit right after a publish), each state still
        gets its bag."""
        assert self.jobs is not None
        self.jobs.enqueue("bag", conn=conn, lock=f"bag:{deposit.id}", recid=deposit.id,
                          state=self.capture(conn, deposit))

    def enqueue_group(self, conn: sa.Connection, published: list[Deposit]) -> None:
        """Queue the bags of many deposits published in ``conn``'s transaction as one job (bulk ingest): one
        syncfs and one call to the bag process for all of them instead of one each."""
        assert self.jobs is not None
        if published:
            self.jobs.enqueue("bag_group", conn=conn, items=[
                {"recid": d.id, "state": self._state(d, *taken)}
                for d, taken in zip(published, snapshots(conn, self.links, published), strict=True)])

    def submit(self, recid: int) -> None:
        assert self.jobs is not None
        self.jobs.enqueue("bag", lock=f"bag:{recid}", recid=recid)

    def submit_missing(self) -> None:
        """Queue a scan for published records whose current state has no bag (at most one scan waits)."""
        assert self.jobs is not None
        self.jobs.enqueue("bag_scan", queueing_lock="bag_scan")

    def retry_failed(self) -> int:
        return self.jobs.retry_failed("bag") if self.jobs is not None else 0

    @property
    def failed(self) -> dict[int, str]:
        if self.jobs is None:
            return {}
        return {int(f["args"]["recid"]): str(f["error"]) for f in self.jobs.failures("bag")}

    def drain(self, timeout: float = 60) -> bool:
        """Wait until every queued job (bags among them) has run; False on timeout."""
        return self.jobs.drain(timeout) if self.jobs is not None else True

    def stop(self, timeout: float = 30) -> None:
        self._stopping.set()

    def status(self) -> dict[str, Any]:
        counts = self.jobs.counts() if self.jobs is not None else {}
        return {"queued": counts.get("queued", 0) + counts.get("doing", 0), "written": self.written,
                "failed": [{"recid": k, "error": v} for k, v in sorted(self.failed.items())]}

    def write_counted(self, recid: int, state: dict[str, Any] | None = None) -> Path | None:
        try:
            path = self.write(recid, state)
        except Exception as exc:
            if space.is_full(exc):  # one line that says which ran out, not a traceback per bag
                log.error("bag of record %s could not be written: %s; it will be retried", recid,
                          space.explain_at(self.root))
            else:
                log.exception("bag of record %s could not be written; it will be retried", recid)
            raise
        if path is not None:
            self.written += 1
        return path

    # -- writing --------------------------------------------------------------------------------------
    def missing(self) -> list[int]:
        """Published records whose current state has no bag.

        A bag named after the record's current ``modified`` time is taken as current without rebuilding
        the record's snapshot (one directory listing instead of a database read and a digest per record,
        at every start); only records without one are checked in full."""
        out: list[int] = []
        with self.db.read() as conn:
            rows = conn.execute(sa.select(deposits.c.id, deposits.c.modified).where(deposits.c.record.is_not(None))
                                .order_by(deposits.c.id)).all()
        for recid, modified in rows:
            if self._stopping.is_set():
                break
            prefix = bagspec.bag_stamp(modified) + "_"
            if any(p.name.startswith(prefix) for p in bags_of(self.root, recid)):
                continue
            with self.db.read() as conn:
                deposit = load_deposit(conn, recid)
                if deposit is None or deposit.record is None:
                    continue
                aip, _ = snapshot(conn, self.links, deposit)
            digest = bagspec.state_digest(aip)
            if not any(bagspec.digest_of_name(p.name) == digest for p in bags_of(self.root, recid)):
                out.append(recid)
        return out

    def capture(self, conn: sa.Connection, deposit: Deposit) -> dict[str, Any]:
        """What a bag of this published state needs, as JSON values (a job's arguments)."""
        return self._state(deposit, *snapshot(conn, self.links, deposit))

    @staticmethod
    def _state(deposit: Deposit, aip: dict[str, Any], record_json: dict[str, Any]) -> dict[str, Any]:
        return {"modified": deposit.modified, "concept_id": deposit.concept_id, "aip": aip, "record": record_json,
                "uris": {f.key: f.uri for f in deposit.files}}

    def write(self, recid: int, state: dict[str, Any] | None = None) -> Path | None:
        """Write the bag of ``state`` (from ``capture``; default: the record's current published state);
        None if it exists."""
        if state is None:
            with self.db.read() as conn:
                deposit = load_deposit(conn, recid)
                if deposit is None or deposit.record is None:
                    return None
                state = orjson.loads(orjson.dumps(self.capture(conn, deposit)))
        siblings = self._siblings([state["concept_id"]])
        write = functools.partial(write_bag_files, str(self.root), recid, state, self._sources(state),
                                  siblings.get(state["concept_id"], []), fsync=self.config.fsync,
                                  source_organization=self.config.bag_source_organization, bagged=self.clock())
        written = self._call(write)
        if written is None:
            return None
        log.info("bag written: %s", written)
        return Path(written)

    def write_group(self, items: list[dict[str, Any]]) -> dict[int, str]:
        """Write the bags of ``items`` (``{"recid", "state"}`` each, from ``enqueue_group``) in one call with
        one syncfs; counts those written. The bags that failed: {recid: reason}."""
        siblings = self._siblings(sorted({item["state"]["concept_id"] for item in items}))
        write = functools.partial(
            write_bag_group, str(self.root),
            [(item["recid"], item["state"], self._sources(item["state"]),
              siblings.get(item["state"]["concept_id"], [])) for item in items],
            fsync=self.config.fsync, source_organization=self.config.bag_source_organization, bagged=self.clock())
        failed: dict[int, str] = {}
        for recid, path, error in self._call(write):
            if error is not None:
                failed[recid] = f"{type(error).__name__}: {error}" + (
                    f" ({space.explain_at(self.root)})" if space.is_full(error) else "")
            elif path is not None:
                self.written += 1
        log.info("bags written for %d records (%d failed)", len(items) - len(failed), len(failed))
        return failed

    def _sources(self, state: dict[str, Any]) -> dict[str, str]:
        return {key: str(self.blobs.path(uri)) for key, uri in state["uris"].items()}

    def _siblings(self, concept_ids: list[int]) -> dict[int, list[int]]:
        """The record ids of each concept (their bags may hold the same payload), in one query."""
        out: dict[int, list[int]] = {}
        with self.db.read() as conn:
            for rid, concept in conn.execute(sa.select(deposits.c.id, deposits.c.concept_id).where(
                    deposits.c.concept_id.in_(concept_ids))):
                out.setdefault(concept, []).append(rid)
        return out

    def _call(self, write: Callable[[], _T]) -> _T:
        """Run ``write`` in the bag process, started at the first bag (on this thread with ``bag_processes``
        0). A bag process that died raises BrokenProcessPool here and is replaced at the next bag: the job's
        retry writes this one."""
        return self._processes.call(write) if self._processes is not None else write()

    def close(self) -> None:
        """End the bag processes (after the queue has stopped: no bag is being written)."""
        if self._processes is not None:
            self._processes.close()


def audit_bags(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Fully validate every bag under ``root`` (the bags are a copy, and fixity covers every copy):
    yields (bag, None) for a valid bag, (bag, reason) otherwise."""
    if not root.is_dir():
        return
    for folder in sorted((p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
        for bag in bags_of(root, int(folder.name)):
            try:
                bagit.Bag(str(bag)).validate()
            except bagit.BagError as exc:
                details = getattr(exc, "details", None) or []
                yield bag, "; ".join(str(d) for d in details) or str(exc)
            else:
                yield bag, None
