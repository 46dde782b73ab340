"""The file side of writing a bag: everything after the database was read, as one picklable call.

``write_bag_files`` needs only paths and JSON values, so ``BagWriter`` runs it in a worker process
(``bag_processes``, default 1) beside the server instead of on a thread of it: copying and hashing the
payload, rendering the tag files and creating a dozen files took more than half of the server's CPU per
published record, all of it under the server's GIL (bulk ingest, 4,000 records: 7.7 ms of server CPU per
record with bags, 3.4 without).

Layout and guarantees are those of ``bags`` (see its docstring): built in ``<recid>/.tmp-*``, made durable
with one syncfs when fsync is on, renamed into place, so a bag directory with a proper name is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from depot.repository.exports import datacite
from depot.repository.preservation import bagspec
from depot.repository.preservation.audit import Throttle, hash_file
from depot.repository.store.blobs import sync_filesystem

CHUNK = 1 << 20


class BagWriteError(Exception):
    """A bag could not be written (a blob is missing or does not match its checksums)."""


def datacite_xml(record_json: dict[str, Any]) -> bytes:
    """The record's DataCite 4.5 XML for ``metadata/datacite.xml`` (representation information)."""
    return datacite.as_xml(record_json)


def bags_of(root: Path, recid: int) -> list[Path]:
    """Complete bags of a record, oldest first."""
    folder = root / str(recid)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and bagspec.digest_of_name(p.name))


def write_bag_files(root: str, recid: int, state: dict[str, Any], sources: dict[str, str], siblings: list[int],
                    *, fsync: bool, source_organization: str, bagged: datetime) -> str | None:
    """Write the bag of ``state`` (``BagWriter.capture``) under ``root``; ``sources`` maps each file key to its
    stored blob's path, ``siblings`` are the concept's record ids (whose bags may hold the same payload).
    The bag's path, or None if a bag of this state exists."""
    ((_, path, error),) = write_bag_group(root, [(recid, state, sources, siblings)], fsync=fsync,
                                          source_organization=source_organization, bagged=bagged)
    if error is not None:
        raise error
    return path


def write_bag_group(root: str, items: list[tuple[int, dict[str, Any], dict[str, str], list[int]]], *, fsync: bool,
                    source_organization: str, bagged: datetime) -> list[tuple[int, str | None, Exception | None]]:
    """Write the bags of several published states (``items``: the arguments of ``write_bag_files``) with one
    syncfs for all of them instead of one each (a bulk ingest group). One (recid, path or None, error or None)
    per item: a bag that fails is reported, and the others are written all the same."""
    bags = Path(root)
    out: list[tuple[int, str | None, Exception | None]] = []
    built: list[tuple[int, Path, Path, str]] = []
    try:
        for recid, state, sources, siblings in items:
            try:
                one = _build(bags, recid, state, sources, siblings, source_organization, bagged)
            except Exception as exc:  # this bag alone; the caller retries it on its own
                out.append((recid, None, exc))
                continue
            if one is None:
                out.append((recid, None, None))
            else:
                built.append((recid, *one))
        if fsync and built:
            sync_filesystem(bags)
    except BaseException:
        for _, tmp, _, _ in built:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    for recid, tmp, final, digest in built:
        try:
            out.append((recid, _place(bags, recid, tmp, final, digest), None))
        except OSError as exc:
            out.append((recid, None, exc))
    return out


def _build(bags: Path, recid: int, state: dict[str, Any], sources: dict[str, str], siblings: list[int],
           source_organization: str, bagged: datetime) -> tuple[Path, Path, str] | None:
    """The bag of ``state`` filled in a temporary folder beside its final name: (folder, final name, digest);
    None if a bag of this state exists. Not yet durable."""
    aip, record_json = state["aip"], state["record"]
    digest = bagspec.state_digest(aip)
    if any(bagspec.digest_of_name(p.name) == digest for p in bags_of(bags, recid)):
        return None
    final = bags / str(recid) / bagspec.bag_name(state["modified"], digest)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    (tmp / "data").mkdir(parents=True)
    try:
        _fill(tmp, sources, aip, record_json, _earlier_copies(bags, siblings), source_organization, bagged)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp, final, digest


def _place(bags: Path, recid: int, tmp: Path, final: Path, digest: str) -> str | None:
    """Give a built (and synced) bag its final name: the bag is complete from then on."""
    try:
        os.rename(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if any(bagspec.digest_of_name(p.name) == digest for p in bags_of(bags, recid)):
            return None  # another worker wrote the same state first
        raise
    return str(final)


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


def _earlier_copies(bags: Path, recids: list[int]) -> dict[str, Path]:
    """sha256 -> a payload file in an existing bag of the same concept."""
    found: dict[str, Path] = {}
    for rid in recids:
        for bag in bags_of(bags, rid):
            with contextlib.suppress(OSError, ValueError):
                aip = orjson.loads((bag / bagspec.AIP_FILE).read_bytes())
                for f in bagspec.payload_files(aip):
                    found[f.sha256] = bag / f.path
    return found


def _fill(bag: Path, sources: dict[str, str], aip: dict[str, Any], record_json: dict[str, Any],
          earlier: dict[str, Path], source_organization: str, bagged: datetime) -> None:
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
        copy_verified(Path(sources[f.key]), target, f, fsync=False)  # synced with the bag
    tags: dict[str, bytes] = {
        "bagit.txt": bagspec.BAGIT_TXT.encode(),
        bagspec.RECORD_FILE: orjson.dumps(record_json, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS),
        bagspec.AIP_FILE: orjson.dumps(aip, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS),
    }
    tags[bagspec.DATACITE_FILE] = datacite_xml(record_json)
    info = bagspec.bag_info(aip=aip, source_organization=source_organization,
                            bagging_date=bagged.date().isoformat(), bagging_time=bagged.isoformat(), files=files)
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
