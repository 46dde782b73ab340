"""Files of a deposit: the bucket API (PUT/GET/DELETE by key), the legacy files endpoints, imports.

Bytes are streamed to storage by the resource layer (``BlobStore.write_stream``) between
``prepare_upload`` (checks that can be made before reading the body) and ``commit_upload`` (the
database write, which re-checks count and quota inside the transaction). The service owns the blob from
then on, through the unit of work (``uow.py``): a blob the database refuses is deleted, and the content a
replace or a delete leaves unreferenced is deleted once the transaction has committed.
"""

from __future__ import annotations

import mimetypes
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from depot.repository.errors import (
    ConflictError,
    InvalidStateError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    ValidationError,
)
from depot.repository.services.deposits import DepositService
from depot.repository.services.keys import check_key, lookup_key
from depot.repository.services.orphans import release_files
from depot.repository.services.permissions import Identity, can_manage
from depot.repository.services.scopes import DEPOSIT_WRITE
from depot.repository.services.views import Deposit, StoredFile, load_by_bucket
from depot.repository.store import statements as st
from depot.repository.store.blobs import StoredBlob
from depot.repository.store.tables import objects, pending_files

LOCKED = "The files of a published record are locked; create a new version to change them."
EMPTY = "Empty files are not accepted."
TOO_MANY = "Uploading selected files will result in exceeding the max amount per record."
QUOTA = "Bucket quota exceeded."


def guess_mimetype(key: str) -> str:
    return mimetypes.guess_type(key, strict=False)[0] or "application/octet-stream"


@dataclass(frozen=True)
class UploadPlan:
    deposit: Deposit
    limit: int  # most bytes the body may have
    key: str  # the file key in its stored form (NFC): commit under this one


class FileService:
    def __init__(self, deposits_service: DepositService) -> None:
        self.deposits = deposits_service
        self.db = deposits_service.db
        self.config = deposits_service.config

    def _by_bucket(self, conn: sa.Connection, bucket_id: str) -> Deposit | None:
        return load_by_bucket(conn, bucket_id)

    def _writable(self, identity: Identity, deposit: Deposit | None) -> Deposit:
        deposit = can_manage(identity, deposit, DEPOSIT_WRITE)
        if deposit.draft is None:
            raise InvalidStateError("The persistent identifier is not registered.", 404)
        if deposit.record is not None:
            raise InvalidStateError(LOCKED, 403)
        return deposit

    def prepare_upload(self, identity: Identity, bucket_id: str, key: str, content_length: int | None) -> UploadPlan:
        """Checks that can be made before the body is read; the plan holds the key's stored form."""
        key = check_key(key)
        with self.db.read() as conn:
            deposit = self._writable(identity, self._by_bucket(conn, bucket_id))
        return UploadPlan(deposit, self._room(deposit, key, content_length), key)

    def prepare_deposit_upload(self, identity: Identity, deposit_id: int, key: str,
                               content_length: int | None) -> UploadPlan:
        key = check_key(key)
        with self.db.read() as conn:
            deposit = self.deposits.get_owned(conn, identity, deposit_id, DEPOSIT_WRITE)
        if deposit.record is not None:
            # Current Zenodo: POST /files on a published deposit is 404 (legacy: 403).
            raise InvalidStateError("The persistent identifier is not registered.", 404)
        if any(lookup_key(f.key) == key for f in deposit.files):
            raise ConflictError(f"File with key {key} already exists.")
        return UploadPlan(deposit, self._room(deposit, key, content_length), key)

    def _room(self, deposit: Deposit, key: str, content_length: int | None) -> int:
        existing = {f.key: f.size for f in deposit.files}
        if key not in existing and len(existing) >= self.config.max_files_per_record:
            raise QuotaExceededError(TOO_MANY)
        room = self.config.record_quota_bytes - (deposit.total_size - existing.get(key, 0))
        if content_length is not None and content_length > room:
            raise QuotaExceededError(QUOTA)
        return room

    def commit_upload(self, identity: Identity, bucket_id: str, key: str, blob: StoredBlob,
                      *, replace: bool = True) -> StoredFile:
        """Record an uploaded blob under ``key``; a blob the database refuses (whatever the error) is
        deleted, and the content of a file it replaces once the transaction has committed."""
        with self.deposits.unit_of_work(written=(blob,)) as work:
            conn, now = work.conn, self.deposits.now()
            key = check_key(key)
            if blob.size == 0:
                raise ValidationError(message=EMPTY)
            deposit = self._writable(identity, self._by_bucket(conn, bucket_id))
            existing = {f.key: f for f in deposit.files}
            if key in existing and not replace:
                raise ConflictError(f"File with key {key} already exists.")
            self._room(deposit, key, blob.size)
            conn.execute(st.INSERT_FILE_INSTANCE, {"id": blob.id, "uri": blob.uri, "size": blob.size,
                                                   "md5": blob.md5, "sha256": blob.sha256, "created": now})
            old = existing.get(key)
            version_id = str(uuid.uuid4())
            if old is not None:
                # Current Zenodo deletes and re-creates the file on a second PUT: an overwrite.
                conn.execute(st.UPDATE_OBJECT, {"b_bucket": bucket_id, "b_key": key, "file_id": blob.id,
                                                "version_id": version_id, "updated": now})
                release_files(work, [old.file_id])
                created = old.created
            else:
                conn.execute(st.INSERT_OBJECT, {"bucket_id": bucket_id, "key": key, "file_id": blob.id,
                                                "version_id": version_id, "mimetype": guess_mimetype(key),
                                                "created": now, "updated": now})
                created = now
            conn.execute(st.UPDATE_DEPOSIT, {"b_id": deposit.id, "modified": now})
        stored = StoredFile(blob.id, key, blob.size, blob.md5, blob.sha256, guess_mimetype(key), version_id,
                            blob.uri, created, now)
        return stored

    def read_bucket(self, identity: Identity, bucket_id: str) -> Deposit:
        """The deposit owning a bucket: public once published, else owner only."""
        with self.db.read() as conn:
            deposit = self._by_bucket(conn, bucket_id)
        if deposit is None:
            raise NotFoundError()
        if deposit.record is None:
            can_manage(identity, deposit)
        return deposit

    def get_object(self, identity: Identity, bucket_id: str, key: str) -> tuple[Deposit, StoredFile]:
        """A file by bucket and key: public once published, else owner only."""
        deposit = self.read_bucket(identity, bucket_id)
        for f in deposit.files:
            if lookup_key(f.key) == lookup_key(key):
                return deposit, f
        raise NotFoundError("Object does not exist.")

    def delete_object(self, identity: Identity, bucket_id: str, key: str) -> None:
        """Delete a draft's file; its content goes once the transaction has committed, unless another
        version shares it."""
        with self.deposits.unit_of_work() as work:
            conn = work.conn
            deposit = self._writable(identity, self._by_bucket(conn, bucket_id))
            match = [f for f in deposit.files if lookup_key(f.key) == lookup_key(key)]
            if not match:
                raise NotFoundError("Object does not exist.")
            conn.execute(st.DELETE_OBJECT, {"b_bucket": bucket_id, "b_key": match[0].key})
            conn.execute(pending_files.delete().where(pending_files.c.bucket_id == bucket_id,
                                                      pending_files.c.key == match[0].key))
            conn.execute(st.UPDATE_DEPOSIT, {"b_id": deposit.id, "modified": self.deposits.now()})
            release_files(work, [match[0].file_id])

    def list_files(self, identity: Identity, deposit_id: int) -> Deposit:
        return self.deposits.read(identity, deposit_id)

    def find_file(self, identity: Identity, deposit_id: int, file_id: str) -> tuple[Deposit, StoredFile]:
        deposit = self.deposits.read(identity, deposit_id)
        for f in deposit.files:
            if f.file_id == file_id:
                return deposit, f
        raise NotFoundError("File does not exist.")

    def delete_file(self, identity: Identity, deposit_id: int, file_id: str) -> None:
        deposit, stored = self.find_file(identity, deposit_id, file_id)
        if deposit.record is not None:
            # Both legacy and current Zenodo answer a file delete on a published deposit with 403.
            raise PermissionDeniedError()
        self.delete_object(identity, deposit.bucket_id, stored.key)


def import_files(conn: sa.Connection, source_bucket: str, target_bucket: str, now: str) -> int:
    """Copy a bucket's objects into another, sharing the stored content (a new version's files)."""
    rows = conn.execute(sa.select(objects).where(objects.c.bucket_id == source_bucket).order_by(objects.c.id)).all()
    if rows:
        conn.execute(objects.insert(), [
            {"bucket_id": target_bucket, "key": r.key, "file_id": r.file_id, "version_id": str(uuid.uuid4()),
             "mimetype": r.mimetype, "created": now, "updated": now} for r in rows])
    return len(rows)
