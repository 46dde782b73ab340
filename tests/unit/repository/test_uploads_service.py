"""The resumable-upload service on a real SQLite store: the offset survives a restart, unacknowledged
bytes are cut, a second PATCH is 423, expiry removes the bytes, and the blob store keeps the Storage contract."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from depot.repository.app import build_context
from depot.repository.config import RepositoryConfig
from depot.repository.context import Context
from depot.repository.errors import NotFoundError, RepositoryError, UploadError
from depot.repository.services.permissions import Identity
from depot.repository.services.scopes import DEFAULT
from depot.repository.services.uploads import Upload, UploadService
from depot.repository.store.blobs import BlobStore
from depot.repository.store.storage import Storage


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def setup(tmp_path: Path, clock: Clock) -> tuple[Context, UploadService, Identity, str]:
    config = RepositoryConfig(data_dir=tmp_path, upload_expiry_hours=1)
    ctx = build_context(config, clock=clock)
    token = ctx.accounts.create_token("u@example.org", clock().isoformat())
    ident = ctx.accounts.identity_for_token(token)
    assert ident is not None and set(DEFAULT) <= ident.scopes
    deposit = ctx.deposits.create(ident, {})
    service = UploadService(ctx.files, ctx.blobs, tmp_path / "uploads", clock, fsync=True)
    return ctx, service, ident, deposit.bucket_id


def four_of_ten(service: UploadService, ident: Identity, bucket: str, name: bytes) -> Upload:
    """An upload of 10 bytes whose first 4 have arrived."""
    meta = f"bucket {base64.b64encode(bucket.encode()).decode()},filename {base64.b64encode(name).decode()}"
    upload = service.create(ident, 10, meta)
    return asyncio.run(service.append(ident, upload.id, 0, body(b"0123"), content_length=4, checksum=None))


def test_blob_store_keeps_the_storage_contract(tmp_path: Path) -> None:
    assert isinstance(BlobStore(tmp_path), Storage)


def test_offset_survives_a_restart_and_unacknowledged_bytes_are_cut(tmp_path: Path) -> None:
    clock = Clock()
    ctx, service, ident, bucket = setup(tmp_path, clock)
    meta = f"bucket {base64.b64encode(bucket.encode()).decode()},filename {base64.b64encode(b'a.bin').decode()}"
    upload = service.create(ident, 10, meta)
    upload = asyncio.run(service.append(ident, upload.id, 0, body(b"0123"), content_length=4, checksum=None))
    part = tmp_path / "uploads" / f"{upload.id}.part"
    with part.open("ab") as fh:  # bytes a crashed PATCH wrote but never acknowledged
        fh.write(b"XXXX")
    restarted = UploadService(ctx.files, ctx.blobs, tmp_path / "uploads", clock)  # no running hashes
    assert restarted.status(ident, upload.id).received == 4
    done = asyncio.run(restarted.append(ident, upload.id, 4, body(b"456", b"789"), content_length=6, checksum=None))
    assert done.done and done.received == 10
    files = ctx.deposits.read(ident, ctx.files.read_bucket(ident, bucket).id).files
    assert [(f.key, f.size, f.md5) for f in files] == [("a.bin", 10, hashlib.md5(b"0123456789").hexdigest())]
    assert not part.exists()


def test_a_second_patch_while_one_holds_the_upload_is_423(tmp_path: Path) -> None:
    clock = Clock()
    _ctx, service, ident, bucket = setup(tmp_path, clock)
    meta = f"bucket {base64.b64encode(bucket.encode()).decode()},filename {base64.b64encode(b'b.bin').decode()}"
    upload = service.create(ident, 10, meta)
    with service._locked(upload), pytest.raises(UploadError) as caught:
        asyncio.run(service.append(ident, upload.id, 0, body(b"0123"), content_length=4, checksum=None))
    assert caught.value.status == 423
    assert service.status(ident, upload.id).received == 0


def test_expired_upload_is_gone_with_its_bytes(tmp_path: Path) -> None:
    clock = Clock()
    _ctx, service, ident, bucket = setup(tmp_path, clock)
    upload = four_of_ten(service, ident, bucket, b"c.bin")
    clock.now += timedelta(hours=2)
    with pytest.raises(NotFoundError):
        service.status(ident, upload.id)
    assert service.expire() == 1
    assert not (tmp_path / "uploads" / f"{upload.id}.part").exists()


def test_a_completed_upload_the_database_refuses_leaves_no_blob(tmp_path: Path) -> None:
    clock = Clock()
    ctx, service, ident, bucket = setup(tmp_path, clock)
    upload = four_of_ten(service, ident, bucket, b"d.bin")
    ctx.deposits.delete(ident, ctx.files.read_bucket(ident, bucket).id)  # the bucket goes before the last PATCH
    with pytest.raises(RepositoryError):
        asyncio.run(service.append(ident, upload.id, 4, body(b"456789"), content_length=6, checksum=None))
    assert not ctx.blobs.path(ctx.blobs.uri_for(str(uuid.UUID(upload.id)))).exists()
    with pytest.raises(NotFoundError):
        service.status(ident, upload.id)
