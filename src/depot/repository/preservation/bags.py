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

Writing is a job on the queue (``depot.repository.jobs``, decision 0009), queued in the publish transaction
with the published state captured there: a publish never waits for, or fails because of, its bag. A job is
idempotent (a bag of the same state is found by name) and retried; failures are shown at /api/admin/fixity
and queued again by the fixity cycle's ticks; at start-up a scan queues every published record whose current
state has no bag.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import bagit
import orjson
import sqlalchemy as sa

from depot.repository.config import RepositoryConfig
from depot.repository.exports import datacite
from depot.repository.jobs import JobQueue
from depot.repository.preservation import bagspec
from depot.repository.preservation.audit import Throttle, hash_file
from depot.repository.serializers import zenodo as serialize
from depot.repository.serializers.zenodo import Links
from depot.repository.services.views import Deposit, load_deposit
from depot.repository.store.blobs import BlobStore, sync_filesystem
from depot.repository.store.db import Database
from depot.repository.store.tables import communities, community_records, concepts, deposits

log = logging.getLogger("depot.repository.bags")
CHUNK = 1 << 20


class BagWriteError(Exception):
    """A bag could not be written (a blob is missing or does not match its checksums)."""


def datacite_xml(record_json: dict[str, Any]) -> bytes:
    """The record's DataCite 4.5 XML for ``metadata/datacite.xml`` (representation information)."""
    return datacite.as_xml(record_json)


# Built once: a publish takes a snapshot, and building the statements cost more than running them.
_CONCEPT_CREATED = sa.select(concepts.c.created).where(concepts.c.id == sa.bindparam("concept"))
_LATEST_VERSION = sa.select(sa.func.max(deposits.c.version_index)).where(
    deposits.c.concept_id == sa.bindparam("concept"), deposits.c.record.is_not(None))
_COMMUNITIES_OF = (
    sa.select(communities.c.id, communities.c.slug, communities.c.title, communities.c.owner_id,
              communities.c.created, community_records.c.status, community_records.c.created.label("included"))
    .join(communities, communities.c.id == community_records.c.community_id)
    .where(community_records.c.concept_id == sa.bindparam("concept")).order_by(communities.c.slug))


def snapshot(conn: sa.Connection, links: Links, deposit: Deposit) -> tuple[dict[str, Any], dict[str, Any]]:
    """(AIP snapshot, public record JSON) of a published deposit, read in one transaction."""
    assert deposit.record is not None and deposit.doi is not None
    concept_created = conn.execute(_CONCEPT_CREATED, {"concept": deposit.concept_id}).scalar()
    latest = conn.execute(_LATEST_VERSION, {"concept": deposit.concept_id}).scalar()
    rows = conn.execute(_COMMUNITIES_OF, {"concept": deposit.concept_id}).all()
    comms = [{"id": r.id, "slug": r.slug, "title": r.title, "owner_id": r.owner_id, "created": r.created,
              "status": r.status, "included": r.included} for r in rows]
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


def copy_verified(source: Path, target: Path, expected: bagspec.PayloadFile, *, fsync: bool) -> None:
    """Copy ``source`` while hashing it; raise BagWriteError unless size, md5 and sha256 are the stored ones."""
    md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
    try:
        src = source.open("rb")
    except FileNotFoundError as exc:
        raise BagWriteError(f"stored file {source} of {expected.key!r} is missing") from exc
    with src, target.open("wb") as out:
        while chunk := src.read(CHUNK):
            size += len(chunk)
            md5.update(chunk)
            sha256.update(chunk)
            out.write(chunk)
        out.flush()
        if fsync:
            os.fsync(out.fileno())
    if (size, md5.hexdigest(), sha256.hexdigest()) != (expected.size, expected.md5, expected.sha256):
        raise BagWriteError(f"stored file {source} of {expected.key!r} does not match its checksums "
                            f"(size {size}, sha256 {sha256.hexdigest()}; expected {expected.sha256})")


def bags_of(root: Path, recid: int) -> list[Path]:
    """Complete bags of a record, oldest first."""
    folder = root / str(recid)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and bagspec.digest_of_name(p.name))


class BagWriter:
    """Writes bags; the job queue (``depot.repository.jobs``) runs it: job ``bag`` per published state."""

    def __init__(self, db: Database, config: RepositoryConfig, links: Links, blobs: BlobStore,
                 clock: Callable[[], datetime], jobs: JobQueue | None = None) -> None:
        self.db, self.config, self.links, self.blobs, self.clock = db, config, links, blobs, clock
        self.root = config.data_dir / "bags"
        self.jobs = jobs
        self.written = 0
        self._stopping = threading.Event()  # ends a scan early; the rest is found at the next start

    # -- the queue ------------------------------------------------------------------------------------
    def enqueue(self, conn: sa.Connection, deposit: Deposit) -> None:
        """Queue the bag of ``deposit`` as published in ``conn``'s transaction, with its state captured there:
        when publishes come faster than bags are written (an edit right after a publish), each state still
        gets its bag."""
        assert self.jobs is not None
        self.jobs.enqueue("bag", conn=conn, lock=f"bag:{deposit.id}", recid=deposit.id,
                          state=self.capture(conn, deposit))

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
        except Exception:
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
        aip, record_json = snapshot(conn, self.links, deposit)
        return {"modified": deposit.modified, "concept_id": deposit.concept_id, "aip": aip, "record": record_json,
                "uris": {f.key: f.uri for f in deposit.files}}

    def write(self, recid: int, state: dict[str, Any] | None = None) -> Path | None:
        """Write the bag of ``state`` (from ``capture``; default: the record's current published state);
        None if it exists."""
        with self.db.read() as conn:
            if state is None:
                deposit = load_deposit(conn, recid)
                if deposit is None or deposit.record is None:
                    return None
                state = orjson.loads(orjson.dumps(self.capture(conn, deposit)))
            siblings = list(conn.execute(sa.select(deposits.c.id).where(
                deposits.c.concept_id == state["concept_id"])).scalars())
        aip, record_json, uris = state["aip"], state["record"], state["uris"]
        digest = bagspec.state_digest(aip)
        existing = bags_of(self.root, recid)
        if any(bagspec.digest_of_name(p.name) == digest for p in existing):
            return None
        final = self.root / str(recid) / bagspec.bag_name(state["modified"], digest)
        tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
        (tmp / "data").mkdir(parents=True)
        try:
            self._fill(tmp, uris, aip, record_json, self._earlier_copies(siblings))
            if self.config.fsync:
                sync_filesystem(tmp)
            try:
                os.rename(tmp, final)
            except OSError:
                if any(bagspec.digest_of_name(p.name) == digest for p in bags_of(self.root, recid)):
                    shutil.rmtree(tmp, ignore_errors=True)  # another worker wrote the same state first
                    return None
                raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("bag written: %s", final)
        return final

    def _earlier_copies(self, recids: list[int]) -> dict[str, Path]:
        """sha256 -> a payload file in an existing bag of the same concept."""
        found: dict[str, Path] = {}
        for rid in recids:
            for bag in bags_of(self.root, rid):
                with contextlib.suppress(OSError, ValueError):
                    aip = orjson.loads((bag / bagspec.AIP_FILE).read_bytes())
                    for f in bagspec.payload_files(aip):
                        found[f.sha256] = bag / f.path
        return found

    def _fill(self, bag: Path, uris: dict[str, str], aip: dict[str, Any], record_json: dict[str, Any],
              earlier: dict[str, Path]) -> None:
        files = bagspec.payload_files(aip)
        for f in files:
            target = bag / f.path
            source = earlier.get(f.sha256)
            # Linked only if the earlier copy still hashes right: a rotten copy would otherwise be born
            # into the new bag too (the store's copy is then used, checked on the way).
            if source is not None and _same_size(source, f.size) and _sound(source, f):
                try:
                    os.link(source, target)
                    continue
                except OSError:  # another filesystem, or links not allowed: copy instead
                    pass
            copy_verified(self.blobs.path(uris[f.key]), target, f, fsync=False)  # synced with the bag
        now = self.clock()
        tags: dict[str, bytes] = {
            "bagit.txt": bagspec.BAGIT_TXT.encode(),
            bagspec.RECORD_FILE: orjson.dumps(record_json, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS),
            bagspec.AIP_FILE: orjson.dumps(aip, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS),
        }
        tags[bagspec.DATACITE_FILE] = datacite_xml(record_json)
        info = bagspec.bag_info(aip=aip, source_organization=self.config.bag_source_organization,
                                bagging_date=now.date().isoformat(), bagging_time=now.isoformat(), files=files)
        tags["bag-info.txt"] = bagspec.bag_info_text(info).encode()
        for alg in bagspec.ALGORITHMS:
            tags[f"manifest-{alg}.txt"] = bagspec.payload_manifest(alg, files).encode()
        for alg in bagspec.ALGORITHMS:
            tags[f"tagmanifest-{alg}.txt"] = bagspec.tag_manifest(alg, tags).encode()
        for folder in {PurePosixPath(path).parent for path in tags} - {PurePosixPath(".")}:
            (bag / folder).mkdir(parents=True, exist_ok=True)
        for path, body in tags.items():
            _write_new(bag / path, body)


def _write_new(path: Path, body: bytes) -> None:
    """Create ``path`` with ``body`` in three system calls (``Path.write_bytes`` takes twice as many)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _sound(path: Path, f: bagspec.PayloadFile) -> bool:
    try:
        return hash_file(path, Throttle(0)) == (f.size, f.md5, f.sha256)
    except OSError:
        return False


def _same_size(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


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
