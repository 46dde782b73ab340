"""Resumable uploads (tus 1.0 core, creation, termination, checksum, expiration; decision 0006).

An upload is a row in ``uploads`` and a staging file ``DATA_DIR/uploads/<id>.part``. A PATCH appends to the
file, fsyncs it, and only then moves ``received`` (the offset the server vouches for) in the database: after a
crash or a restart the offset is one whose bytes are on disk, and bytes past it are cut off by the next PATCH.
A PATCH cut off mid-body keeps what arrived (tus: "SHOULD store as much as possible") unless it carried a
checksum, which can only be checked on a whole body. The PATCH that completes the upload hashes the file
(md5 and sha256, kept running in memory while the process lives, else re-read), hands it to the storage
(``Storage.adopt``: a rename) and attaches it to the draft's bucket under its key, as a PUT would; the
legacy bucket API and the RDM files see it from then on. One PATCH at a time per upload: an exclusive
``flock`` on the staging file, held for the request, so a second one (in any worker process on this
machine) gets 423.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import anyio.to_thread
import sqlalchemy as sa
from starlette.requests import ClientDisconnect

from depot.metadata import FieldError
from depot.repository.errors import NotFoundError, QuotaExceededError, UploadError, ValidationError
from depot.repository.services.files import FileService
from depot.repository.services.permissions import Identity, require_user
from depot.repository.services.scopes import DEPOSIT_WRITE
from depot.repository.services.views import utcnow_iso
from depot.repository.store.blobs import StoredBlob
from depot.repository.store.pour import Pour
from depot.repository.store.storage import Storage
from depot.repository.store.tables import file_instances, uploads

CHECKSUMS: dict[str, Callable[[], Any]] = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}
NO_SUCH_UPLOAD = "No such upload (it never existed, was terminated or expired)."
METADATA_HELP = ("Upload-Metadata must name the draft's bucket and the file: 'bucket <base64 bucket id>,filename "
                 "<base64 file name>' (the bucket id is the last part of a deposition's links.bucket).")


@dataclass(frozen=True)
class Upload:
    id: str
    user_id: int
    bucket_id: str
    key: str
    length: int
    received: int
    upload_metadata: str
    created: str
    expires: str
    finished: str | None

    @property
    def done(self) -> bool:
        return self.finished is not None


def parse_metadata(header: str) -> dict[str, str]:
    """tus's Upload-Metadata: comma-separated ``key base64value`` pairs, keys unique, values optional."""
    found: dict[str, str] = {}
    for pair in header.split(","):
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2 or parts[0] in found or not parts[0].isascii():
            raise ValidationError([FieldError("Upload-Metadata", (METADATA_HELP,))], message=METADATA_HELP)
        try:
            found[parts[0]] = base64.b64decode(parts[1], validate=True).decode("utf-8") if len(parts) == 2 else ""
        except (binascii.Error, UnicodeDecodeError):
            message = f"Upload-Metadata value of {parts[0]!r} is not base64 of UTF-8 text."
            raise ValidationError([FieldError("Upload-Metadata", (message,))], message=message) from None
    return found


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    """Upload-Checksum: ``<algorithm> <base64 digest>``; 400 for an algorithm not in Tus-Checksum-Algorithm."""
    if header is None:
        return None
    algorithm, _, value = header.strip().partition(" ")
    if algorithm.lower() not in CHECKSUMS:
        raise ValidationError(message=f"Upload-Checksum algorithm {algorithm!r} is not supported; use one of "
                                      f"{', '.join(CHECKSUMS)}.")
    try:
        return algorithm.lower(), base64.b64decode(value.strip(), validate=True)
    except binascii.Error:
        raise ValidationError(message="Upload-Checksum digest is not base64.") from None


class _Running:
    """md5 and sha256 of an upload's first ``offset`` bytes, kept while this process lives."""

    def __init__(self) -> None:
        self.offset = 0
        self.md5 = hashlib.md5()
        self.sha256 = hashlib.sha256()


class UploadService:
    def __init__(self, files: FileService, storage: Storage, root: Path,
                 clock: Callable[[], datetime], *, fsync: bool = True) -> None:
        self.files, self.storage, self.root, self.clock, self.fsync = files, storage, root, clock, fsync
        self.db = files.db
        self.config = files.config
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.running: dict[str, _Running] = {}

    # -- creation, status, termination -------------------------------------------------------------
    def create(self, identity: Identity, length: int | None, metadata_header: str) -> Upload:
        user_id = require_user(identity, DEPOSIT_WRITE)
        if length is None:
            raise ValidationError(message="Upload-Length is required (a non-negative integer); "
                                          "Upload-Defer-Length is not supported.")
        if length > self.config.upload_max_bytes:
            raise QuotaExceededError(f"Upload-Length {length} is above Tus-Max-Size "
                                     f"{self.config.upload_max_bytes}.", 413)
        if length == 0:
            raise ValidationError(message="Empty files are not accepted.")
        meta = parse_metadata(metadata_header)
        if not meta.get("bucket") or not meta.get("filename"):
            raise ValidationError([FieldError("Upload-Metadata", (METADATA_HELP,))], message=METADATA_HELP)
        plan = self.files.prepare_upload(identity, meta["bucket"], meta["filename"], length)
        self.expire()
        now = self.clock()
        upload = Upload(uuid.uuid4().hex, user_id, meta["bucket"], plan.key, length, 0, metadata_header,
                        utcnow_iso(now), self._expiry(now), None)
        with self.db.write() as conn:
            open_count = conn.execute(sa.select(sa.func.count()).select_from(uploads).where(
                uploads.c.user_id == user_id, uploads.c.finished.is_(None))).scalar_one()
            if open_count >= self.config.uploads_per_user:
                raise QuotaExceededError(f"Too many unfinished uploads ({open_count}): finish or DELETE one, or "
                                         f"wait until one expires.")
            conn.execute(uploads.insert().values(**asdict(upload)))
        self._part(upload.id).touch(mode=0o600)
        return upload

    def status(self, identity: Identity, upload_id: str) -> Upload:
        """The upload for HEAD; one whose last byte arrived but that was not yet attached (a crash between
        the two) is attached now."""
        upload = self._owned(identity, upload_id)
        if upload.received == upload.length and not upload.done:
            upload = self._finish_sync(upload, None)
        return upload

    def terminate(self, identity: Identity, upload_id: str) -> None:
        upload = self._owned(identity, upload_id)
        with self._locked(upload):
            with self.db.write() as conn:
                conn.execute(uploads.delete().where(uploads.c.id == upload.id))
            self._part(upload.id).unlink(missing_ok=True)
            self.running.pop(upload.id, None)

    def expire(self, limit: int = 100) -> int:
        """Delete up to ``limit`` expired uploads and their bytes; finished ones keep their attached file."""
        now = utcnow_iso(self.clock())
        with self.db.write() as conn:
            gone = list(conn.execute(sa.select(uploads.c.id).where(uploads.c.expires < now).limit(limit)).scalars())
            if gone:
                conn.execute(uploads.delete().where(uploads.c.id.in_(gone)))
        for upload_id in gone:
            self._part(upload_id).unlink(missing_ok=True)
            self.running.pop(upload_id, None)
        return len(gone)

    # -- PATCH ---------------------------------------------------------------------------------------
    async def append(self, identity: Identity, upload_id: str, offset: int | None, chunks: AsyncIterator[bytes],
                     *, content_length: int | None, checksum: tuple[str, bytes] | None) -> Upload:
        upload = self._owned(identity, upload_id)
        if offset is None:
            raise ValidationError(message="Upload-Offset is required (a non-negative integer).")
        if offset != upload.received:
            raise UploadError(f"Upload-Offset {offset} is not the upload's offset {upload.received}: "
                              f"HEAD the upload and resume from its Upload-Offset.", 409)
        room = upload.length - upload.received
        if content_length is not None and content_length > room:
            raise QuotaExceededError(f"The body ({content_length} bytes) runs past Upload-Length "
                                     f"({upload.length}, {upload.received} received).", 413)
        with self._locked(upload) as fh:
            upload = self._reload(upload.id)  # the lock holder's view: another PATCH may have moved it
            if offset != upload.received:
                raise UploadError(f"Upload-Offset {offset} is not the upload's offset {upload.received}.", 409)
            written = await self._write(upload, fh, chunks, room, checksum)
            if written:
                upload = self._advance(upload, written)
            if upload.received == upload.length and not upload.done:
                upload = await anyio.to_thread.run_sync(self._finish_sync, upload, fh)
        return upload

    async def _write(self, upload: Upload, fh: BinaryIO, chunks: AsyncIterator[bytes], room: int,
                     checksum: tuple[str, bytes] | None) -> int:
        """Append the body at ``upload.received``; the count of bytes now durable (0 for a refused body).

        The body is written and hashed off the event loop (``Pour``): at most two batches of a request are
        in memory at once."""
        fh.seek(upload.received)
        fh.truncate()  # bytes past the vouched offset were never acknowledged
        running = self.running.get(upload.id)
        if running is None or running.offset != upload.received:
            running = _Running() if upload.received == 0 else None
        check = CHECKSUMS[checksum[0]]() if checksum else None
        hashes: list[Any] = ([running.md5, running.sha256] if running is not None else []) + ([check] if check else [])

        def sink(data: bytearray) -> None:
            fh.write(data)
            for h in hashes:
                h.update(data)

        def within_room(received: int) -> None:
            if received > room:
                raise QuotaExceededError(f"The body runs past Upload-Length ({upload.length}).", 413)

        pour = Pour(sink, within_room)  # whatever arrived is written before the file is judged (or cut)
        try:
            try:
                received = await pour(chunks)
            finally:
                received = pour.total
        except ClientDisconnect:
            if check is None and received:  # keep what arrived: the client resumes from it
                await anyio.to_thread.run_sync(self._sync, fh)
                self._advance(upload, received, running)
            else:
                self._cut(upload, fh)
            raise
        except BaseException:
            self._cut(upload, fh)
            raise
        if check is not None and check.digest() != checksum[1]:  # type: ignore[index]
            self._cut(upload, fh)
            raise UploadError(f"Upload-Checksum mismatch: the {checksum[0]} of the {received} bytes received is "  # type: ignore[index]
                              f"{base64.b64encode(check.digest()).decode()}; they were not kept.", 460)
        await anyio.to_thread.run_sync(self._sync, fh)
        if running is not None:
            running.offset = upload.received + received
            self.running[upload.id] = running
        return received

    def _cut(self, upload: Upload, fh: BinaryIO) -> None:
        fh.seek(upload.received)
        fh.truncate()
        self.running.pop(upload.id, None)

    def _sync(self, fh: BinaryIO) -> None:
        fh.flush()
        if self.fsync:
            os.fsync(fh.fileno())

    def _advance(self, upload: Upload, written: int, running: _Running | None = None) -> Upload:
        received = upload.received + written
        expires = self._expiry(self.clock())
        with self.db.write() as conn:
            conn.execute(uploads.update().where(uploads.c.id == upload.id, uploads.c.received == upload.received)
                         .values(received=received, expires=expires))
        if running is not None:
            running.offset = received
            self.running[upload.id] = running
        return replace(upload, received=received, expires=expires)

    # -- completion ----------------------------------------------------------------------------------
    def _finish_sync(self, upload: Upload, fh: BinaryIO | None) -> Upload:
        """Hash, hand to the storage, attach to the bucket, mark finished; safe to repeat after a crash."""
        blob_id = str(uuid.UUID(upload.id))
        with self.db.read() as conn:
            attached = conn.execute(sa.select(file_instances.c.id).where(file_instances.c.id == blob_id)).first()
        if attached is None:
            part = self._part(upload.id)
            adopted = self.storage.path(self.storage.uri_for(blob_id))
            if not part.exists() and adopted.exists():  # moved, then a crash before the commit
                part = adopted
            size, md5, sha256 = self._hashes(upload, part)
            if size != upload.length:
                raise UploadError(f"The upload's bytes on disk ({size}) are not its length ({upload.length}); "
                                  f"DELETE it and upload again.", 409)
            blob = (StoredBlob(blob_id, self.storage.uri_for(blob_id), size, md5, sha256) if part == adopted
                    else self.storage.adopt(part, size, md5, sha256, blob_id=blob_id))
            identity = Identity(upload.user_id, frozenset({DEPOSIT_WRITE}))
            try:
                self.files.commit_upload(identity, upload.bucket_id, upload.key, blob)  # deletes the blob if refused
            except BaseException:
                with self.db.write() as conn:
                    conn.execute(uploads.delete().where(uploads.c.id == upload.id))
                raise
        finished = utcnow_iso(self.clock())
        with self.db.write() as conn:
            conn.execute(uploads.update().where(uploads.c.id == upload.id).values(finished=finished))
        self.running.pop(upload.id, None)
        return replace(upload, finished=finished)

    def _hashes(self, upload: Upload, path: Path) -> tuple[int, str, str]:
        running = self.running.get(upload.id)
        if running is not None and running.offset == upload.length and path == self._part(upload.id):
            return upload.length, running.md5.hexdigest(), running.sha256.hexdigest()
        md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0  # a restart lost the running sums: re-read
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                size += len(chunk)
                md5.update(chunk)
                sha256.update(chunk)
        return size, md5.hexdigest(), sha256.hexdigest()

    # -- plumbing ------------------------------------------------------------------------------------
    def _part(self, upload_id: str) -> Path:
        return self.root / f"{upload_id}.part"

    def _expiry(self, now: datetime) -> str:
        return utcnow_iso(now + timedelta(hours=self.config.upload_expiry_hours))

    def _reload(self, upload_id: str) -> Upload:
        with self.db.read() as conn:
            row = conn.execute(sa.select(uploads).where(uploads.c.id == upload_id)).first()
        if row is None or (row.finished is None and row.expires < utcnow_iso(self.clock())):
            raise NotFoundError(NO_SUCH_UPLOAD)
        return Upload(**row._asdict())

    def _owned(self, identity: Identity, upload_id: str) -> Upload:
        """Another user's upload is as unknown as a missing one (its id is not to be confirmed)."""
        user_id = require_user(identity, DEPOSIT_WRITE)
        if len(upload_id) != 32 or not all(c in "0123456789abcdef" for c in upload_id):
            raise NotFoundError(NO_SUCH_UPLOAD)
        upload = self._reload(upload_id)
        if upload.user_id != user_id:
            raise NotFoundError(NO_SUCH_UPLOAD)
        return upload

    def _locked(self, upload: Upload) -> _Lock:
        return _Lock(self._part(upload.id))


class _Lock:
    """The staging file, opened for writing and exclusively locked (``flock``, non-blocking): 423 if busy."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UploadError("Another PATCH of this upload is in progress; wait for it, then HEAD the upload "
                              "and resume from its Upload-Offset.", 423) from None
        self.fh = os.fdopen(fd, "r+b")
        return self.fh

    def __exit__(self, *exc: object) -> None:
        assert self.fh is not None
        self.fh.close()  # closing the descriptor drops the lock


__all__ = ["CHECKSUMS", "Upload", "UploadService", "parse_checksum", "parse_metadata"]
