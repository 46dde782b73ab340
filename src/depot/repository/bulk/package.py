"""I/O: unpack a bulk batch (a zip or tar stream holding one BagIt bag) into a directory, safely, and read it.

The archive is hostile until proven otherwise: members are unpacked one by one, never outside the
destination (no absolute paths, no ``..``, no links or devices), and the unpacked bytes and member count are
bounded, so a zip bomb stops at ``max_bytes``. Each file is hashed while it is written (md5, sha256, and
whatever else the bag's manifests use) and fsynced if asked; bagit-python then checks the bag's structure and
completeness (``validate(completeness_only=True)``: every payload file in the manifests and the other way
round, the Payload-Oxum, unsafe manifest paths), and the manifests' checksums are compared with the hashes
computed while unpacking, so no file is read twice.

The payload: ``data/records.jsonl``, one record per line,
``{"key": "...", "metadata": {...}, "files": [{"name": "a.png", "path": "files/1/a.png"}]}``, where ``path``
is relative to ``data/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import bagit

from depot.repository.errors import BulkPackageError

RECORDS_FILE = "records.jsonl"
MAX_KEY = 255
MAX_LINE = 4 * 1024 * 1024  # one record's metadata; JSON bodies elsewhere are bounded at 2 MiB
CHUNK = 1 << 20
FORMATS = {"application/octet-stream": "auto",  # told apart by the zip signature
           "application/zip": "zip", "application/x-tar": "tar", "application/tar": "tar",
           "application/gzip": "tar", "application/x-gtar": "tar"}


@dataclass(frozen=True)
class Digest:
    size: int
    hashes: dict[str, str]  # algorithm -> hex digest


@dataclass(frozen=True)
class BulkFile:
    name: str
    path: Path


@dataclass(frozen=True)
class BulkRecord:
    index: int
    key: str
    metadata: Any
    files: tuple[BulkFile, ...]
    problem: str | None = None  # why this record fails alone (a bad line, a file not in the bag)


@dataclass
class UnpackedBag:
    root: Path
    digests: dict[str, Digest]  # path relative to the bag root ("data/...") -> digest

    @property
    def data(self) -> Path:
        return self.root / "data"


def safe_member(name: str) -> PurePosixPath:
    """The member's relative path, or BulkPackageError if it could land outside the destination."""
    if not name or "\\" in name or "\x00" in name:
        raise BulkPackageError(f"unsafe path in the archive: {name!r}")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part == ".." for part in path.parts) or (path.parts and ":" in path.parts[0]):
        raise BulkPackageError(f"unsafe path in the archive (outside the bag): {name!r}")
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts:
        raise BulkPackageError(f"unsafe path in the archive: {name!r}")
    return PurePosixPath(*parts)


class _Budget:
    def __init__(self, max_bytes: int, max_members: int) -> None:
        self.bytes_left = max_bytes
        self.members_left = max_members
        self.max_bytes = max_bytes
        self.max_members = max_members

    def member(self) -> None:
        self.members_left -= 1
        if self.members_left < 0:
            raise BulkPackageError(f"the archive has more than {self.max_members} members")

    def spend(self, n: int) -> None:
        self.bytes_left -= n
        if self.bytes_left < 0:
            raise BulkPackageError(f"the archive unpacks to more than {self.max_bytes} bytes (bulk_max_bytes)")


def unpack(archive: Path, fmt: str, dest: Path, *, max_bytes: int, max_members: int,
           fsync: bool = True) -> UnpackedBag:
    """Unpack ``archive`` (``fmt`` "zip", "tar" (gzip allowed) or "auto") into the empty ``dest``; check the bag."""
    dest.mkdir(parents=True, exist_ok=False)
    if fmt == "auto":  # application/octet-stream: a zip by its signature, else a tar (gzip allowed)
        fmt = "zip" if zipfile.is_zipfile(archive) else "tar"
    budget = _Budget(max_bytes, max_members)
    digests: dict[str, Digest] = {}
    try:
        if fmt == "zip":
            _unpack_zip(archive, _Folders(dest), budget, digests, fsync)
        else:
            _unpack_tar(archive, _Folders(dest), budget, digests, fsync)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, UnicodeError) as exc:
        raise BulkPackageError(f"not a readable {fmt} archive: {exc}") from exc
    root, prefix = _bag_root(dest)
    bag = check_bag(root)
    relative = {name[len(prefix):]: d for name, d in digests.items() if name.startswith(prefix)}
    _compare_manifests(bag, relative)
    return UnpackedBag(root, relative)


def unpack_counted(archive: Path, fmt: str, work: Path, max_bytes: int, max_members: int
                   ) -> tuple[UnpackedBag, int]:
    """Unpack and check a job's archive into ``work``; the bag and its number of records. Pure file work, so
    that it can run in another process (the server's bulk worker runs it there, where importing this module
    alone keeps the process small)."""
    shutil.rmtree(work, ignore_errors=True)  # what an earlier run (or a process that died) left
    # Not fsynced here: made durable group by group (BlobStore.sync_all) before each commit.
    bag = unpack(archive, fmt, work, max_bytes=max_bytes, max_members=max_members, fsync=False)
    return bag, count_records(bag)


def _unpack_tar(archive: Path, dest: _Folders, budget: _Budget, digests: dict[str, Digest], fsync: bool) -> None:
    with archive.open("rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
        for member in tar:
            budget.member()
            rel = safe_member(member.name)
            if member.isdir():
                dest.make(rel)
                continue
            if not member.isreg():
                raise BulkPackageError(f"the archive holds a link or special file, which a bag may not: "
                                       f"{member.name!r}")
            source = tar.extractfile(member)
            assert source is not None
            digests[rel.as_posix()] = _write(dest, rel, source, budget, fsync)


def _unpack_zip(archive: Path, dest: _Folders, budget: _Budget, digests: dict[str, Digest], fsync: bool) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            budget.member()
            rel = safe_member(info.filename)
            mode = (info.external_attr >> 16) & 0o170000
            if info.is_dir():
                dest.make(rel)
                continue
            if mode and not stat.S_ISREG(mode):
                raise BulkPackageError(f"the archive holds a link or special file, which a bag may not: "
                                       f"{info.filename!r}")
            with zf.open(info) as source:
                digests[rel.as_posix()] = _write(dest, rel, source, budget, fsync)


class _Folders:
    """The folders of one unpacking, each made and checked once (a batch holds a folder per record)."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.real_dest = dest.resolve()
        self.made: dict[PurePosixPath, Path] = {}

    def make(self, rel: PurePosixPath) -> Path:
        target = self.made.get(rel)
        if target is None:
            target = self.dest.joinpath(*rel.parts)
            try:
                target.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):  # a hostile archive: the job must fail, not crash
                raise BulkPackageError(f"the archive holds {rel.as_posix()!r} both as a file and as a folder "
                                       "(or inside one)") from None
            if not target.resolve().is_relative_to(self.real_dest):
                raise BulkPackageError(f"unsafe path in the archive (outside the bag): {rel.as_posix()!r}")
            self.made[rel] = target
        return target


def _write(dest: _Folders, rel: PurePosixPath, source: IO[bytes], budget: _Budget, fsync: bool) -> Digest:
    parent = dest.make(rel.parent) if len(rel.parts) > 1 else dest.dest
    target = parent / rel.name
    hashers = {name: hashlib.new(name) for name in ("md5", "sha256")}
    size = 0
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BulkPackageError(f"the archive holds {rel.as_posix()!r} twice (or as a folder too)") from None
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(CHUNK):
            budget.spend(len(chunk))
            size += len(chunk)
            for h in hashers.values():
                h.update(chunk)
            out.write(chunk)
        out.flush()
        if fsync:
            os.fsync(out.fileno())
    return Digest(size, {name: h.hexdigest() for name, h in hashers.items()})


def _bag_root(dest: Path) -> tuple[Path, str]:
    """The bag is the archive's top, or its one top folder (as bagit tools make them)."""
    if (dest / "bagit.txt").is_file():
        return dest, ""
    tops = list(dest.iterdir())
    if len(tops) == 1 and tops[0].is_dir() and (tops[0] / "bagit.txt").is_file():
        return tops[0], tops[0].name + "/"
    raise BulkPackageError("not a BagIt bag: no bagit.txt at the top of the archive or in its one top folder")


def check_bag(root: Path) -> bagit.Bag:
    """bagit-python's structure and completeness checks; BulkPackageError with every problem it names."""
    try:
        bag = bagit.Bag(str(root))
        bag.validate(processes=1, completeness_only=True)
    except bagit.BagValidationError as exc:
        details = [str(d) for d in getattr(exc, "details", [])[:50]] or [str(exc)]
        raise BulkPackageError("the bag is not valid: " + "; ".join(details)) from exc
    except bagit.BagError as exc:
        raise BulkPackageError(f"the bag is not valid: {exc}") from exc
    if not bag.algorithms:
        raise BulkPackageError("the bag has no payload manifest (manifest-md5.txt or manifest-sha256.txt)")
    return bag


def _compare_manifests(bag: bagit.Bag, digests: dict[str, Digest]) -> None:
    """Every manifest checksum against the hash computed while unpacking (other algorithms: hashed now)."""
    problems: list[str] = []
    for path, expected in bag.payload_entries().items():
        found = digests.get(path)
        if found is None:
            problems.append(f"{path} is in a manifest but not in the archive")
            continue
        for alg, value in expected.items():
            actual = found.hashes.get(alg) or _hash_file(Path(bag.path) / path, alg)
            if actual.lower() != value.lower():
                problems.append(f"{path} {alg} checksum validation failed (expected={value} found={actual})")
        if len(problems) >= 50:
            break
    if problems:
        raise BulkPackageError("the bag's manifests do not match its files: " + "; ".join(problems))


def _hash_file(path: Path, alg: str) -> str:
    h = hashlib.new(alg)
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def count_records(bag: UnpackedBag) -> int:
    path = bag.data / RECORDS_FILE
    if not path.is_file():
        raise BulkPackageError(f"the bag has no data/{RECORDS_FILE}")
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def read_records(bag: UnpackedBag) -> Iterator[BulkRecord]:
    """The records of ``data/records.jsonl``, streamed; a bad line is a record that fails alone."""
    with (bag.data / RECORDS_FILE).open("rb") as fh:
        index = 0
        for raw in fh:
            if not raw.strip():
                continue
            yield _record(index, raw, bag)
            index += 1


def _record(index: int, raw: bytes, bag: UnpackedBag) -> BulkRecord:
    def bad(why: str, key: str = "") -> BulkRecord:
        return BulkRecord(index, key or f"#{index}", None, (), f"line {index + 1} of data/{RECORDS_FILE}: {why}")

    if len(raw) > MAX_LINE:
        return bad(f"longer than {MAX_LINE} bytes")
    try:
        item = json.loads(raw)
    except (ValueError, UnicodeError) as exc:
        return bad(f"not JSON ({exc})")
    if not isinstance(item, dict):
        return bad("not a JSON object")
    key = item.get("key")
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY:
        return bad(f"'key' must be a non-empty string of at most {MAX_KEY} characters")
    files: list[BulkFile] = []
    for entry in item.get("files") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            return bad("each of 'files' must be an object with 'path' (and 'name')", key)
        path = str(entry["path"])
        try:
            rel = safe_member(path)
        except BulkPackageError as exc:
            return bad(str(exc), key)
        if ("data/" + rel.as_posix()) not in bag.digests:
            return bad(f"file {path!r} is not in the bag's payload", key)
        files.append(BulkFile(str(entry.get("name") or rel.name), bag.data.joinpath(*rel.parts)))
    return BulkRecord(index, key, item.get("metadata"), tuple(files))
