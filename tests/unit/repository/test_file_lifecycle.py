"""The file services own the blob lifecycle through the unit of work, on a real store (SQLite and PostgreSQL):
a blob the database refuses is deleted, the content a replace or a delete unreferences goes only after
the commit, a failed commit keeps the old content, and content another version shares is never deleted."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from depot.repository.app import build_context
from depot.repository.config import RepositoryConfig
from depot.repository.context import Context
from depot.repository.errors import ConflictError, QuotaExceededError, ValidationError
from depot.repository.jobs import after_commit
from depot.repository.services.permissions import Identity
from depot.repository.services.uow import unit_of_work
from depot.repository.store.blobs import StoredBlob
from depot.repository.store.tables import file_instances

META = {"upload_type": "dataset", "title": "Lifecycle", "description": "D", "creators": [{"name": "Doe, Jane"}],
        "publication_date": "2026-01-01"}


class InjectedCommitError(Exception):
    """Raised by the test's commit listener: the database did not commit."""


@pytest.fixture(params=["sqlite", "postgres"])
def ctx(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Context]:
    db_url = None if request.param == "sqlite" else str(request.getfixturevalue("postgres_database"))
    config = RepositoryConfig(data_dir=tmp_path, db_url=db_url, record_quota_bytes=100)
    context = build_context(config)
    yield context
    context.jobs.stop()
    context.files.db.dispose()


def user(ctx: Context) -> Identity:
    token = ctx.accounts.create_token(f"{uuid.uuid4().hex}@example.org", "2026-01-01T00:00:00Z")
    ident = ctx.accounts.identity_for_token(token)
    assert ident is not None
    return ident


def written(ctx: Context, content: bytes) -> StoredBlob:
    return ctx.blobs.write_file(io.BytesIO(content))


def on_disk(ctx: Context, blob: StoredBlob) -> bool:
    return ctx.blobs.path(blob.uri).exists()


@contextmanager
def at_commit(ctx: Context, check: Callable[[], None]) -> Iterator[None]:
    """Run ``check`` just before each write transaction commits (it may raise to fail the commit)."""
    engine = ctx.files.db.engine

    def listener(conn: sa.Connection) -> None:
        if conn.get_execution_options().get("depot_write"):
            check()

    sa.event.listen(engine, "commit", listener)
    try:
        yield
    finally:
        sa.event.remove(engine, "commit", listener)


def failing_commit() -> None:
    raise InjectedCommitError()


def test_a_blob_the_database_refuses_is_deleted(ctx: Context) -> None:
    ident = user(ctx)
    bucket = ctx.deposits.create(ident, {"metadata": META}).bucket_id
    ctx.files.commit_upload(ident, bucket, "a.txt", written(ctx, b"first"))
    refused = [
        (ConflictError, written(ctx, b"duplicate key"), "a.txt"),  # replace=False below: key taken
        (QuotaExceededError, written(ctx, b"x" * 101), "big.txt"),  # past record_quota_bytes
        (ValidationError, written(ctx, b""), "empty.txt"),
    ]
    for error, blob, key in refused:
        assert on_disk(ctx, blob)
        with pytest.raises(error):
            ctx.files.commit_upload(ident, bucket, key, blob, replace=False)
        assert not on_disk(ctx, blob), error


def test_a_failed_commit_deletes_the_new_blob_and_keeps_the_old(ctx: Context) -> None:
    ident = user(ctx)
    bucket = ctx.deposits.create(ident, {"metadata": META}).bucket_id
    old = written(ctx, b"old")
    ctx.files.commit_upload(ident, bucket, "a.txt", old)
    new = written(ctx, b"new")
    with at_commit(ctx, failing_commit), pytest.raises(InjectedCommitError):
        ctx.files.commit_upload(ident, bucket, "a.txt", new)
    assert on_disk(ctx, old) and not on_disk(ctx, new)
    [stored] = ctx.files.read_bucket(ident, bucket).files
    assert stored.uri == old.uri


def test_a_replaced_blob_is_deleted_only_after_the_commit(ctx: Context) -> None:
    ident = user(ctx)
    bucket = ctx.deposits.create(ident, {"metadata": META}).bucket_id
    old, new = written(ctx, b"old"), written(ctx, b"new")
    ctx.files.commit_upload(ident, bucket, "a.txt", old)
    seen: list[bool] = []
    with at_commit(ctx, lambda: seen.append(on_disk(ctx, old))):
        ctx.files.commit_upload(ident, bucket, "a.txt", new)
    assert seen == [True]  # still there when the transaction committed
    assert not on_disk(ctx, old) and on_disk(ctx, new)


def test_deletes_remove_content_only_after_the_commit(ctx: Context) -> None:
    ident = user(ctx)
    deposit = ctx.deposits.create(ident, {"metadata": META})
    a, b = written(ctx, b"a"), written(ctx, b"b")
    stored_a = ctx.files.commit_upload(ident, deposit.bucket_id, "a.txt", a)
    ctx.files.commit_upload(ident, deposit.bucket_id, "b.txt", b)

    with at_commit(ctx, failing_commit), pytest.raises(InjectedCommitError):
        ctx.files.delete_file(ident, deposit.id, stored_a.file_id)
    with at_commit(ctx, failing_commit), pytest.raises(InjectedCommitError):
        ctx.deposits.delete(ident, deposit.id)
    assert on_disk(ctx, a) and on_disk(ctx, b)  # nothing committed, nothing deleted

    seen: list[bool] = []
    with at_commit(ctx, lambda: seen.append(on_disk(ctx, a))):
        ctx.files.delete_file(ident, deposit.id, stored_a.file_id)
    assert seen == [True] and not on_disk(ctx, a)
    with at_commit(ctx, lambda: seen.append(on_disk(ctx, b))):
        ctx.actions.discard(ident, deposit.id)
    assert seen == [True, True] and not on_disk(ctx, b)


def test_content_another_version_shares_is_never_deleted(ctx: Context) -> None:
    ident = user(ctx)
    first = ctx.deposits.create(ident, {"metadata": META})
    blob = written(ctx, b"shared")
    ctx.files.commit_upload(ident, first.bucket_id, "a.txt", blob)
    ctx.actions.publish(ident, first.id)
    draft = ctx.actions.new_version(ident, first.id)  # imports the file: one file instance, two objects
    [imported] = draft.files
    assert imported.uri == blob.uri
    ctx.files.delete_object(ident, draft.bucket_id, "a.txt")
    ctx.files.commit_upload(ident, draft.bucket_id, "a.txt", written(ctx, b"replacement"))
    ctx.deposits.delete(ident, draft.id)
    assert on_disk(ctx, blob)
    with ctx.files.db.read() as conn:
        assert conn.execute(sa.select(file_instances.c.uri).where(file_instances.c.id == blob.id)).scalar() == blob.uri


def test_an_error_after_the_commit_keeps_the_blob_a_committed_row_names(ctx: Context) -> None:
    """A later after-commit callback that fails must not make the unit of work take back what committed."""
    blob = written(ctx, b"committed")

    def broken() -> None:
        raise RuntimeError("an after-commit callback failed")

    with pytest.raises(RuntimeError), unit_of_work(ctx.files.db, ctx.blobs, written=blob) as work:
        hooks = after_commit(work.conn)
        assert hooks is not None
        hooks.append(broken)
    assert on_disk(ctx, blob)
