"""Read models the services return: a deposit with its files, loaded in two queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from depot.repository.store.tables import concepts, deposits, file_instances, objects


def utcnow_iso(now: datetime) -> str:
    """Zenodo's timestamp form: ``2024-12-16T18:51:11.121129+00:00``."""
    return now.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    key: str
    size: int
    md5: str
    sha256: str
    mimetype: str
    version_id: str
    uri: str
    created: str
    updated: str


@dataclass(frozen=True)
class Deposit:
    id: int
    concept_id: int
    owner_id: int
    bucket_id: str
    draft: dict[str, Any] | None
    record: dict[str, Any] | None
    doi: str | None
    concept_doi: str | None
    version_index: int | None
    created: str
    modified: str
    published: str | None
    files: tuple[StoredFile, ...]
    withdrawn: str | None = None  # when the operator withdrew the published record (a tombstone since)
    withdrawal_reason: str | None = None
    files_enabled: bool = True  # False: a metadata-only record (InvenioRDM ``files.enabled``)

    @property
    def is_published(self) -> bool:
        return self.record is not None

    @property
    def state(self) -> str:
        """Zenodo's legacy ``state``: unsubmitted, inprogress (published, edit open) or done."""
        if self.record is None:
            return "unsubmitted"
        return "inprogress" if self.draft is not None else "done"

    @property
    def current(self) -> dict[str, Any]:
        """The metadata a depositor sees: the open draft, else the published record."""
        return self.draft if self.draft is not None else (self.record or {})

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


DEPOSIT_COLUMNS = (
    deposits.c.id, deposits.c.concept_id, deposits.c.owner_id, deposits.c.bucket_id, deposits.c.draft,
    deposits.c.record, deposits.c.doi, concepts.c.doi.label("concept_doi"), deposits.c.version_index,
    deposits.c.created, deposits.c.modified, deposits.c.published, deposits.c.withdrawn,
    deposits.c.withdrawal_reason, deposits.c.files_enabled,
)
# Published and not withdrawn: what the records API, search and listings show.
LIVE = sa.and_(deposits.c.record.is_not(None), deposits.c.withdrawn.is_(None))
FILE_COLUMNS = (
    objects.c.bucket_id, objects.c.file_id, objects.c.key, file_instances.c.size, file_instances.c.md5,
    file_instances.c.sha256, objects.c.mimetype, objects.c.version_id, file_instances.c.uri, objects.c.created,
    objects.c.updated,
)


def latest_of_concept(*, published_only: bool) -> Any:
    """WHERE clause: no newer version of the same concept exists (a correlated, index-backed test; a
    GROUP BY subquery would be recomputed over the whole table for every page)."""
    newer = deposits.alias("newer")
    cond = [newer.c.concept_id == deposits.c.concept_id, newer.c.id > deposits.c.id]
    if published_only:  # a withdrawn newer version does not hide the one before it
        cond += [newer.c.record.is_not(None), newer.c.withdrawn.is_(None)]
    return ~sa.exists().where(*cond)


def deposit_query() -> sa.Select[Any]:
    return sa.select(*DEPOSIT_COLUMNS).join(concepts, concepts.c.id == deposits.c.concept_id)


# Hot-path statements are built once: constructing a Core statement and its cache key costs more than
# running it on SQLite (measured with cProfile under bench/repository_cycle.py).
_BY_ID = deposit_query().where(deposits.c.id == sa.bindparam("key"))
_BY_BUCKET = deposit_query().where(deposits.c.bucket_id == sa.bindparam("key"))
_FILES_OF_BUCKET = (sa.select(*FILE_COLUMNS).join(file_instances, file_instances.c.id == objects.c.file_id)
                    .where(objects.c.bucket_id == sa.bindparam("bucket_id")).order_by(objects.c.id))


def _file(r: Any) -> StoredFile:
    return StoredFile(r.file_id, r.key, r.size, r.md5, r.sha256, r.mimetype, r.version_id, r.uri, r.created,
                      r.updated)


def _deposit(r: Any, files: list[StoredFile]) -> Deposit:
    return Deposit(r.id, r.concept_id, r.owner_id, r.bucket_id, r.draft, r.record, r.doi, r.concept_doi,
                   r.version_index, r.created, r.modified, r.published, tuple(files), r.withdrawn,
                   r.withdrawal_reason, bool(r.files_enabled))


def files_in_buckets(conn: sa.Connection, bucket_ids: list[str]) -> dict[str, list[StoredFile]]:
    if not bucket_ids:
        return {}
    if len(bucket_ids) == 1:
        return {bucket_ids[0]: [_file(r) for r in conn.execute(_FILES_OF_BUCKET, {"bucket_id": bucket_ids[0]})]}
    rows = conn.execute(
        sa.select(*FILE_COLUMNS).join(file_instances, file_instances.c.id == objects.c.file_id)
        .where(objects.c.bucket_id.in_(bucket_ids)).order_by(objects.c.bucket_id, objects.c.id)
    )
    out: dict[str, list[StoredFile]] = {b: [] for b in bucket_ids}
    for r in rows:
        out[r.bucket_id].append(_file(r))
    return out


def load_deposits(conn: sa.Connection, where: Any, *, order: Any = None, limit: int | None = None,
                  offset: int = 0) -> list[Deposit]:
    query = deposit_query().where(where)
    if order is not None:
        query = query.order_by(*order)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    rows = conn.execute(query).all()
    files = files_in_buckets(conn, [r.bucket_id for r in rows])
    return [_deposit(r, files[r.bucket_id]) for r in rows]


def _load_one(conn: sa.Connection, statement: Any, key: object) -> Deposit | None:
    row = conn.execute(statement, {"key": key}).first()
    if row is None:
        return None
    return _deposit(row, files_in_buckets(conn, [row.bucket_id])[row.bucket_id])


def load_deposit(conn: sa.Connection, deposit_id: int) -> Deposit | None:
    return _load_one(conn, _BY_ID, deposit_id)


def load_by_bucket(conn: sa.Connection, bucket_id: str) -> Deposit | None:
    return _load_one(conn, _BY_BUCKET, bucket_id)
