"""Bulk-ingest jobs in the database: accept an uploaded batch once per batch id, read a job, list open ones.

Identity first, as every service: a job belongs to the user who sent it, and only that user reads it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from depot.metadata import FieldError
from depot.repository.config import RepositoryConfig
from depot.repository.errors import NotFoundError, ValidationError
from depot.repository.services.permissions import Identity, require_scope, require_user
from depot.repository.services.scopes import DEPOSIT_ACTIONS, DEPOSIT_WRITE
from depot.repository.services.views import utcnow_iso
from depot.repository.store.blobs import fsync_dir
from depot.repository.store.db import Database
from depot.repository.store.tables import bulk_items, bulk_jobs, concepts, deposits

BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
OPEN_STATES = ("received", "running")
ITEM_STATES = ("pending", "published", "exists", "failed")


@dataclass(frozen=True)
class Job:
    id: str
    owner_id: int
    batch_id: str
    state: str
    format: str
    size: int
    total: int | None
    created: str
    updated: str
    finished: str | None
    errors: list[str]


@dataclass(frozen=True)
class ItemResult:
    index: int
    key: str
    state: str
    deposit_id: int | None
    doi: str | None
    concept_doi: str | None
    message: str | None


def check_batch_id(batch_id: str | None) -> str:
    if not batch_id or not BATCH_ID.match(batch_id):
        raise ValidationError([FieldError("batch_id", (
            "Required: 1 to 100 characters, letters, digits and . _ : - (starting with a letter or digit).",))])
    return batch_id


class BulkService:
    def __init__(self, db: Database, config: RepositoryConfig, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.root = config.data_dir / "bulk"

    def now(self) -> str:
        return utcnow_iso(self.clock())

    # -- files -----------------------------------------------------------------------------------------
    def incoming(self) -> Path:
        path = self.root / "incoming"
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def archive(self, job_id: str) -> Path:
        return self.root / f"{job_id}.archive"

    def work_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def clean_leftovers(self) -> int:
        """Remove uploads a crash cut short, and archives no job row claims; returns how many."""
        removed = 0
        for part in self.incoming().glob("*.part"):
            part.unlink(missing_ok=True)
            removed += 1
        with self.db.read() as conn:
            known = set(conn.execute(sa.select(bulk_jobs.c.id).where(bulk_jobs.c.state.in_(OPEN_STATES))).scalars())
        for archive in self.root.glob("*.archive"):
            if archive.name.removesuffix(".archive") not in known:
                archive.unlink(missing_ok=True)
                removed += 1
        return removed

    # -- jobs ------------------------------------------------------------------------------------------
    def authorize(self, identity: Identity) -> int:
        user_id = require_user(identity, DEPOSIT_WRITE)
        require_scope(identity, DEPOSIT_ACTIONS)  # a bulk job publishes
        return user_id

    def find(self, identity: Identity, batch_id: str) -> Job | None:
        user_id = self.authorize(identity)
        with self.db.read() as conn:
            row = conn.execute(sa.select(bulk_jobs).where(bulk_jobs.c.owner_id == user_id,
                                                          bulk_jobs.c.batch_id == batch_id)).first()
        return _job(row) if row is not None else None

    def accept(self, identity: Identity, batch_id: str, fmt: str, part: Path, size: int) -> tuple[Job, bool]:
        """Make the uploaded ``part`` file the job of ``batch_id``; (job, True) when new. A batch id already
        taken (a replay, or two uploads racing) gives the existing job and the upload is thrown away."""
        user_id = self.authorize(identity)
        job_id = str(uuid.uuid4())
        archive = self.archive(job_id)
        os.replace(part, archive)
        if self.config.fsync:
            fsync_dir(self.root)
        now = self.now()
        try:
            with self.db.write() as conn:
                conn.execute(bulk_jobs.insert().values(
                    id=job_id, owner_id=user_id, batch_id=batch_id, state="received", format=fmt, size=size,
                    total=None, created=now, updated=now, finished=None, errors=None))
        except sa.exc.IntegrityError:
            archive.unlink(missing_ok=True)
            existing = self.find(identity, batch_id)
            if existing is None:
                raise
            return existing, False
        job = self.load(job_id)
        assert job is not None
        return job, True

    def load(self, job_id: str) -> Job | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(bulk_jobs).where(bulk_jobs.c.id == job_id)).first()
        return _job(row) if row is not None else None

    def read(self, identity: Identity, job_id: str) -> tuple[Job, dict[str, int], list[ItemResult]]:
        """The caller's job, its counts by record state and each record's result (404 for anyone else's)."""
        user_id = require_user(identity)
        job = self.load(job_id) if JOB_ID.match(job_id) else None
        if job is None or job.owner_id != user_id:
            raise NotFoundError("Bulk job does not exist.")
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(bulk_items.c.idx, bulk_items.c.key, bulk_items.c.state, bulk_items.c.deposit_id,
                          bulk_items.c.message, deposits.c.doi, concepts.c.doi.label("concept_doi"))
                .select_from(bulk_items.outerjoin(deposits, deposits.c.id == bulk_items.c.deposit_id)
                             .outerjoin(concepts, concepts.c.id == deposits.c.concept_id))
                .where(bulk_items.c.job_id == job_id).order_by(bulk_items.c.idx)).all()
        counts = dict.fromkeys(ITEM_STATES, 0)
        items = []
        for r in rows:
            counts[r.state] = counts.get(r.state, 0) + 1
            items.append(ItemResult(r.idx, r.key, r.state, r.deposit_id, r.doi, r.concept_doi, r.message))
        return job, counts, items

    def open_jobs(self) -> list[str]:
        """Jobs received or interrupted, oldest first: what a (re)started server resumes."""
        with self.db.read() as conn:
            return list(conn.execute(sa.select(bulk_jobs.c.id).where(bulk_jobs.c.state.in_(OPEN_STATES))
                                     .order_by(bulk_jobs.c.created, bulk_jobs.c.id)).scalars())

    def set_state(self, job_id: str, state: str, *, errors: list[str] | None = None,
                  total: int | None = None) -> None:
        now = self.now()
        values: dict[str, Any] = {"state": state, "updated": now}
        if state in ("done", "failed"):
            values["finished"] = now
        if errors is not None:
            values["errors"] = errors
        if total is not None:
            values["total"] = total
        with self.db.write() as conn:
            conn.execute(bulk_jobs.update().where(bulk_jobs.c.id == job_id).values(**values))


def _job(row: Any) -> Job:
    return Job(row.id, row.owner_id, row.batch_id, row.state, row.format, row.size, row.total, row.created,
               row.updated, row.finished, list(row.errors or []))
