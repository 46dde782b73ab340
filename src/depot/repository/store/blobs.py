"""File content on the local filesystem, never visible half-written.

Bytes stream into ``tmp/<uuid>.part`` while md5 and sha256 are computed, then the file is fsynced and
renamed into ``files/<aa>/<bb>/<uuid>``; a crash before the rename leaves only a ``.part`` file, which
``clean_temporary`` removes at start-up. The writer holds an exclusive ``flock`` on its part file, so a
process starting beside others (``depot serve --workers N``) removes only parts whose writer is gone.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import anyio.to_thread

from depot.repository.store.pour import Pour


@dataclass(frozen=True)
class StoredBlob:
    id: str
    uri: str  # relative to the files root
    size: int
    md5: str
    sha256: str


class BlobTooLargeError(Exception):
    """Raised while streaming when the body passes ``limit`` bytes; the partial file is already removed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class BlobStore:
    """Content files under ``root/files`` with a staging area ``root/tmp`` on the same filesystem."""

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.files_root = root / "files"
        self.tmp_root = root / "tmp"
        self.fsync = fsync
        self.files_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.tmp_root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def clean_temporary(self) -> int:
        """Remove uploads a crash left behind; returns how many were removed."""
        removed = 0
        for part in self.tmp_root.glob("*.part"):
            try:
                fd = os.open(part, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live upload of another process
            else:
                part.unlink(missing_ok=True)
                removed += 1
            finally:
                os.close(fd)
        return removed

    def path(self, uri: str) -> Path:
        return self.files_root / uri

    async def write_stream(self, chunks: AsyncIterator[bytes], *, limit: int | None = None) -> StoredBlob:
        """Store an async byte stream; raises BlobTooLargeError past ``limit`` bytes."""
        blob_id = str(uuid.uuid4())
        part = self.tmp_root / f"{blob_id}.part"
        md5, sha256 = hashlib.md5(), hashlib.sha256()
        opened: list[BinaryIO] = []

        def sink(data: bytearray) -> None:
            if not opened:  # on the first batch's thread, or a small body's one trip below
                opened.append(_create_private(part))
            opened[0].write(data)
            md5.update(data)
            sha256.update(data)

        def check(size: int) -> None:
            if limit is not None and size > limit:
                raise BlobTooLargeError(limit)

        pour = Pour(sink, check, keep_tail=True)

        def finish(size: int) -> StoredBlob:
            # One trip to a thread for a small body's whole work: creating, writing and hashing it (a sixth
            # of the event loop's time in a create, PUT and publish when done there), the fsync and the rename.
            sink(pour.tail)
            self._finish(opened[0])
            return self._publish(blob_id, part, size, md5.hexdigest(), sha256.hexdigest(), opened[0])

        try:
            size = await pour(chunks)
            return await anyio.to_thread.run_sync(finish, size)
        except BaseException:
            if opened:
                opened[0].close()
            part.unlink(missing_ok=True)
            raise

    def write_file(self, source: BinaryIO) -> StoredBlob:
        """Store a synchronous file object (used by bulk ingest and rebuilds)."""
        blob_id = str(uuid.uuid4())
        part = self.tmp_root / f"{blob_id}.part"
        size, md5, sha256, fh = self._copy_to_part(source, part)
        return self._publish(blob_id, part, size, md5, sha256, fh)

    def adopt(self, source: Path, size: int, md5: str, sha256: str, *, blob_id: str | None = None) -> StoredBlob:
        """Move the finished, already fsynced file ``source`` (on this filesystem, e.g. a resumable upload's
        staging file) into the store under ``blob_id`` (default: a new one): a rename, no copy."""
        return self._publish(blob_id or str(uuid.uuid4()), source, size, md5, sha256)

    @staticmethod
    def uri_for(blob_id: str) -> str:
        return f"{blob_id[:2]}/{blob_id[2:4]}/{blob_id}"

    def place(self, source: Path, blob_id: str, size: int, md5: str, sha256: str) -> StoredBlob:
        """Move a file already written on this filesystem into the store under ``blob_id``, without copying
        it: bulk ingest unpacks its bag beside the store. The hashes are the caller's. Not durable until
        ``sync_all`` (one flush for a group of files instead of two fsyncs each)."""
        uri = self.uri_for(blob_id)
        _rename_into(source, self.files_root / uri)
        return StoredBlob(blob_id, uri, size, md5, sha256)

    def sync_all(self) -> None:
        """Make every file and rename on the store's filesystem durable (syncfs; sync where it is missing)."""
        if self.fsync:
            sync_filesystem(self.files_root)

    def _copy_to_part(self, source: BinaryIO, part: Path) -> tuple[int, str, str, BinaryIO]:
        """Write ``source`` to the private ``part`` file, hashing as it goes: (size, md5, sha256, the part
        still open and locked, for ``_publish`` to close once renamed). A failure removes the part file."""
        md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
        fh = _create_private(part)
        try:
            while chunk := source.read(1 << 20):
                size += len(chunk)
                md5.update(chunk)
                sha256.update(chunk)
                fh.write(chunk)
            self._finish(fh)
        except BaseException:
            fh.close()
            part.unlink(missing_ok=True)
            raise
        return size, md5.hexdigest(), sha256.hexdigest(), fh

    def _finish(self, fh: BinaryIO) -> None:
        """Flush (and fsync) the part; it stays open, so locked, until renamed into place."""
        fh.flush()
        if self.fsync:
            os.fsync(fh.fileno())

    def _publish(self, blob_id: str, part: Path, size: int, md5: str, sha256: str,
                 fh: BinaryIO | None = None) -> StoredBlob:
        """Rename ``part`` into the store; ``fh``, its open and locked handle if the caller holds one, is closed."""
        uri = self.uri_for(blob_id)
        self._move_into_place(part, self.files_root / uri, fh)
        return StoredBlob(blob_id, uri, size, md5, sha256)

    def _move_into_place(self, part: Path, target: Path, fh: BinaryIO | None) -> None:
        """Rename ``part`` over ``target`` (a reader sees the old file or the new, never half of one); on
        failure the part is removed. ``fh``, the part's open and locked handle, is closed either way."""
        try:
            _rename_into(part, target)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        finally:
            if fh is not None:
                fh.close()  # releases the lock: the file is no longer a part
        if self.fsync:
            fsync_dir(target.parent)

    def restore(self, uri: str, source: BinaryIO, expected: tuple[int, str, str]) -> bool:
        """Replace the content at ``uri`` with ``source`` if it hashes to ``expected`` (size, md5, sha256).

        Written beside the store and renamed over the old file, so a reader never sees a half-written
        repair; a source that does not match is thrown away and the old file left as it was (False)."""
        part = self.tmp_root / f"{uuid.uuid4()}.part"
        *hashed, fh = self._copy_to_part(source, part)
        if tuple(hashed) != expected:
            fh.close()
            part.unlink(missing_ok=True)
            return False
        self._move_into_place(part, self.path(uri), fh)
        return True

    def delete(self, uri: str) -> None:
        self.path(uri).unlink(missing_ok=True)

    def open(self, uri: str) -> BinaryIO:
        return self.path(uri).open("rb")


def _rename_into(source: Path, target: Path) -> None:
    """``os.replace``, making the target's folder only when the rename finds it missing (the first blob of
    its folder: a mkdir for every blob cost more than this)."""
    try:
        os.replace(source, target)
    except FileNotFoundError:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.replace(source, target)


def _create_private(path: Path) -> BinaryIO:
    """A new file only its owner can read (0600), whatever the umask: stored files may be unpublished. It is
    locked (flock) until closed: ``clean_temporary`` leaves it alone while it is being written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return os.fdopen(fd, "wb")


def sync_filesystem(path: Path) -> None:
    """syncfs(2) on the filesystem holding ``path``: its files' data and metadata, and its directories, durable
    in one call (Linux); elsewhere ``os.sync()``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        syncfs = _syncfs()
        if syncfs is None or syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


@functools.cache
def _syncfs() -> Any:
    """libc's syncfs, looked up once (a bag or a bulk group calls it; dlopen each time cost more than the call)."""
    import ctypes

    return getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (POSIX: the directory itself must be fsynced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


