"""I/O: the Ledger. Every state transition is one short, durable transaction.

During `depot run` the runner writes through depot.deposit.ledger.journal instead: one writer thread,
transitions of many records per commit, a guard durable before its request is sent."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from depot.deposit.errors import FileChangedError, LedgerError
from depot.deposit.keyscan import KeyScan
from depot.deposit.ledger import reports
from depot.deposit.ledger import statements as st
from depot.deposit.ledger.engine import create_engine, database_url, migrate
from depot.deposit.ledger.planning import Judge, Planner, PlanSummary
from depot.deposit.ledger.published import publish_row
from depot.deposit.ledger.remembered import (
    RememberedTarget,
    Sample,
    check_exists,
    has_sent,
    read_options,
    read_target,
    sample_deposit,
    write_options,
    write_target,
)
from depot.deposit.ledger.states import State
from depot.deposit.ledger.tables import ACTIVE, runs, specimens
from depot.deposit.ledger.values import iso, now_iso, replan_condition, resume
from depot.deposit.links import server_path
from depot.deposit.models import PlannedRecord


@dataclass(frozen=True)
class FileRow:
    name: str
    path: str
    size: int | None
    md5: str | None
    sha256: str | None
    uploaded: bool
    server_checksum: str | None
    mtime_ns: int | None = None  # as planned, when the file had just been checked (the runner's guard)

    @property
    def planned(self) -> tuple[int, int] | None:
        """(size, mtime_ns) of the file as it was checked and planned, if known."""
        return (self.size, self.mtime_ns) if self.size is not None and self.mtime_ns is not None else None

    def changed(self) -> FileChangedError | None:
        """The error to fail the record with if the file on disk is not the one checked and planned (a file
        gone is left to the upload, which names it)."""
        if self.planned is None:
            return None
        try:
            info = os.stat(self.path)
            FileChangedError.unless_same(self.path, self.planned, info.st_size, info.st_mtime_ns)
        except FileChangedError as changed:
            return changed
        except OSError:
            pass
        return None


@dataclass(frozen=True)
class Claim:
    """A specimen as the runner sees it while it holds the lease."""

    key: str
    state: State
    step: str | None
    deposition_id: int | None
    bucket_url: str | None
    doi: str | None
    metadata: dict[str, Any]
    attempts: int
    files: tuple[FileRow, ...]
    last_status: int | None = None
    last_error: str | None = None
    op: str | None = None  # None: create; "edit" or "version" (depot sync)
    record_id: int | None = None  # the latest published version
    pending_put: bool = False
    source_row: int | None = None  # the specimen's row in the source
    rejected_reason: str | None = None  # set while the source has a problem with it
    rejected_file: str | None = None


class Ledger:
    """The journal of one deposit job. ``Ledger.open(path_or_url)`` creates or migrates it."""

    def __init__(self, engine: sa.Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    @classmethod
    def open(cls, path_or_url: str | Path, *, create: bool = True) -> Ledger:
        """``create=False`` (read-only commands): a missing ledger is a ConfigError, never an empty new one."""
        url = database_url(path_or_url)
        if not create:
            check_exists(str(path_or_url), url)
        engine = create_engine(url)
        migrate(engine, url)
        return cls(engine, url)

    def close(self) -> None:
        self.engine.dispose()

    def target(self) -> RememberedTarget | None:
        """The repository this ledger deposits into (None: a new ledger, or one older Depot did not tell)."""
        return read_target(self.engine)

    def sample_deposit(self) -> Sample | None:
        return sample_deposit(self.engine)

    def remember_target(self, remembered: RememberedTarget) -> None:
        with self._tx() as conn:
            write_target(conn, remembered)

    def source_options(self) -> dict[str, Any] | None:
        """The source options the ledger's records were planned with (depot.deposit.source_options)."""
        return read_options(self.engine)

    def remember_source_options(self, options: dict[str, Any]) -> None:
        with self._tx() as conn:
            write_options(conn, options)

    def has_sent(self) -> bool:
        """Whether any specimen may be on the target: a deposit made or uncertain, a bulk batch, published."""
        return has_sent(self.engine)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        """One transaction; any database failure in it (locked, read-only, disk full, gone) becomes a
        LedgerError, which stops the run with exit code FATAL. ``engine.begin()`` is lazy, so the
        whole block is guarded, not just the call."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise LedgerError(self.url, f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}") from exc

    @contextlib.contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        """A read-only connection, its failures turned into LedgerError as in ``_tx``."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise LedgerError(self.url, f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}") from exc

    # -- planning -------------------------------------------------------------------------------------
    def plan(self, records: Iterable[PlannedRecord], *, sidecar_dir: Path | None = None,
             sync: bool = False, dry_run: bool = False, judge: Judge | None = None, keys: KeyScan | None = None,
             on_batch: Callable[[PlanSummary], None] | None = None,
             stopping: Callable[[], bool] | None = None) -> PlanSummary:
        """Insert new specimens and refresh changed ones; reject those with problems (see
        depot.deposit.ledger.planning)."""
        return Planner(self.engine, self._tx, self.url).plan(records, sidecar_dir=sidecar_dir, sync=sync,
                                                             dry_run=dry_run, judge=judge, keys=keys,
                                                             on_batch=on_batch, stopping=stopping)

    def published_not_in(self, seen: Container[str]) -> list[str]:
        """Published specimens whose keys ``seen`` (the source's) does not hold: gone from the source."""
        return Planner(self.engine, self._tx, self.url).not_in(seen)

    # -- claiming -------------------------------------------------------------------------------------
    def claim(self, n: int, *, owner: str, lease_seconds: float, now: datetime) -> list[Claim]:
        """Lease up to ``n`` ready specimens to ``owner``; a lease that expires frees the specimen again."""
        stamp, until = iso(now), iso(now + timedelta(seconds=lease_seconds))
        with self._tx() as conn:
            query = st.READY_KEYS
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            keys = list(conn.execute(query, {"b_now": stamp, "b_limit": n}).scalars())
            if not keys:
                return []
            conn.execute(st.LEASE, {"b_keys": keys, "b_now": stamp, "lease_owner": owner, "lease_until": until})
            return self._load(conn, keys)

    def lease(self, keys: list[str], *, owner: str, lease_seconds: float, now: datetime) -> list[str]:
        """Lease these specimens (those of them that are ready) to ``owner``; returns the leased keys."""
        if not keys:
            return []
        stamp, until = iso(now), iso(now + timedelta(seconds=lease_seconds))
        with self._tx() as conn:
            conn.execute(st.LEASE, {"b_keys": keys, "b_now": stamp, "lease_owner": owner, "lease_until": until})
            return list(conn.execute(sa.select(specimens.c.key).where(
                specimens.c.key.in_(keys), specimens.c.lease_owner == owner).order_by(specimens.c.seq)).scalars())

    def next_ready_in(self, *, now: datetime) -> float | None:
        """Seconds until some active specimen may be claimed (0 if one is ready); None if none is active."""
        stamp = iso(now)
        with self._read() as conn:
            row = conn.execute(sa.select(sa.func.count(), sa.func.min(specimens.c.retry_at),
                                         sa.func.min(specimens.c.lease_until))
                               .where(specimens.c.state.in_(ACTIVE))).one()
        if not row[0]:
            return None
        times = [t for t in (row[1], row[2]) if t and t > stamp]
        if not times:
            return 0.0
        return max(0.0, (datetime.fromisoformat(min(times)) - now).total_seconds())

    def release_dead_leases(self, hostname: str, alive: Any) -> int:
        """Free leases held by processes of this host that no longer run (a killed depositor's claims).

        Owners are ``host:pid:nonce``; leases of other hosts can only expire. ``alive(pid)`` says if a
        process runs. Returns how many specimens were freed.
        """
        with self._tx() as conn:
            owners = [o for o in conn.execute(sa.select(specimens.c.lease_owner).where(
                specimens.c.lease_owner.is_not(None)).distinct()).scalars()]
            dead = [o for o in owners if o.split(":")[0] == hostname and o.split(":")[1].isdigit()
                    and not alive(int(o.split(":")[1]))]
            if not dead:
                return 0
            result = conn.execute(specimens.update().where(specimens.c.lease_owner.in_(dead))
                                  .values(lease_owner=None, lease_until=None))
            return int(result.rowcount or 0)

    def retry_failed(self) -> int:
        """Put every failed record the repository did not refuse back to work (a per-run retry pass)."""
        with self._tx() as conn:
            rows = conn.execute(sa.select(specimens.c.key, specimens.c.deposition_id, specimens.c.step)
                                .where(replan_condition())).all()
            for row in rows:
                values = resume(row.step) if row.deposition_id is not None else {"state": State.PLANNED,
                                                                                 "step": None}
                conn.execute(specimens.update().where(specimens.c.key == row.key).values(
                    **values, attempts=0, retry_at=None, updated_at=now_iso()))
        return len(rows)

    def first_keys_if_unused(self, n: int) -> list[str]:
        """The first ``n`` planned specimens' keys, if nothing was ever created through this ledger (no
        specimen has a deposition, none is uncertain); else none. Such a ledger may be a new one beside
        an old one (a typo in --ledger, a lost file): its first keys are looked for on the target before
        anything is created (depot.deposit.job)."""
        if self.has_sent():  # a bulk batch too: a rerun after a kill -9 finds its own records there
            return []
        with self._read() as conn:
            return list(conn.execute(sa.select(specimens.c.key).where(
                specimens.c.state == State.PLANNED, specimens.c.op.is_(None)).order_by(specimens.c.seq)
                .limit(n)).scalars())

    def uncertain_keys(self, step: str) -> list[str]:
        with self._read() as conn:
            return list(conn.execute(sa.select(specimens.c.key).where(
                specimens.c.state == State.UNCERTAIN, specimens.c.step == step, specimens.c.lease_owner.is_(None))
                .order_by(specimens.c.seq)).scalars())

    def release(self, key: str, owner: str) -> None:
        with self._tx() as conn:
            conn.execute(st.RELEASE, {"b_key": key, "b_owner": owner, "lease_owner": None, "lease_until": None})

    def get(self, key: str) -> Claim:
        with self._read() as conn:
            found = self._load(conn, [key])
        if not found:
            raise LedgerError(self.url, f"no specimen {key!r}")
        return found[0]

    def _load(self, conn: sa.Connection, keys: list[str]) -> list[Claim]:
        rows = conn.execute(st.SPECIMENS_BY_KEYS, {"b_keys": keys}).all()
        file_rows: dict[str, list[FileRow]] = {k: [] for k in keys}
        for f in conn.execute(st.FILES_BY_KEYS, {"b_keys": keys}):
            file_rows[f.specimen_key].append(FileRow(f.name, f.path, f.size, f.md5, f.sha256, bool(f.uploaded),
                                                     f.server_checksum, f.mtime_ns))
        return [Claim(r.key, State(r.state), r.step, r.deposition_id, r.bucket_url, r.doi, r.metadata, r.attempts,
                      tuple(file_rows[r.key]), r.last_status, r.last_error, r.op, r.record_id, bool(r.pending_put),
                      r.source_row, r.rejected_reason, r.rejected_file)
                for r in rows]

    # -- transitions ----------------------------------------------------------------------------------
    def _set(self, key: str, **values: Any) -> None:
        values["updated_at"] = now_iso()
        values["b_key"] = key
        with self._tx() as conn:
            conn.execute(st.UPDATE_SPECIMEN, values)

    def mark_uncertain(self, key: str, step: str) -> None:
        self._set(key, state=State.UNCERTAIN, step=step)

    def mark_planned(self, key: str) -> None:
        """Nothing was created (or no new-version draft exists): start the specimen's operation again."""
        self._set(key, state=State.PLANNED, step=None, deposition_id=None, bucket_url=None)

    def mark_metadata_sent(self, key: str) -> None:
        with self._tx() as conn:
            conn.execute(st.UPDATE_SPECIMEN, {"b_key": key, "pending_put": False, "updated_at": now_iso()})
            if not conn.execute(st.PENDING_FILES, {"b_key": key}).scalar_one():
                conn.execute(st.CREATED_TO_UPLOADED, {"b_key": key, "state": State.UPLOADED, "attempts": 0,
                                                      "updated_at": now_iso()})

    def mark_ready(self, key: str) -> None:
        """Created with nothing left to send (every file already there): ready to publish."""
        with self._tx() as conn:
            if not conn.execute(st.PENDING_FILES, {"b_key": key}).scalar_one():
                conn.execute(st.CREATED_TO_UPLOADED, {"b_key": key, "state": State.UPLOADED, "attempts": 0,
                                                      "updated_at": now_iso()})

    def mark_file_present(self, key: str, name: str, *, md5: str) -> None:
        """A new version's draft already holds this file with this content (imported from the last one)."""
        with self._tx() as conn:
            conn.execute(st.UPDATE_FILE, {"b_key": key, "b_name": name, "uploaded": True,
                                          "server_checksum": f"md5:{md5}", "md5": md5})

    def mark_draft_dropped(self, key: str) -> None:
        """The edit or new-version draft was discarded: the published record is what it was."""
        with self._tx() as conn:
            conn.execute(sa.update(specimens).where(specimens.c.key == key).values(
                deposition_id=specimens.c.record_id, bucket_url=None, updated_at=now_iso()))

    def mark_uploaded(self, key: str) -> None:
        self._set(key, state=State.UPLOADED, step=None)

    def mark_created(self, key: str, *, deposition_id: int, bucket_url: str,
                     record: dict[str, Any] | None = None) -> None:
        """The deposition exists (created, or found by a probe). A step that succeeds starts the tries
        of the next one afresh (``attempts`` counts the tries of the step at hand)."""
        state = State.CREATED
        with self._tx() as conn:
            pending_put = conn.execute(sa.select(specimens.c.pending_put).where(specimens.c.key == key)).scalar()
            if not pending_put and not conn.execute(st.PENDING_FILES, {"b_key": key}).scalar_one():
                state = State.UPLOADED
            conn.execute(st.UPDATE_SPECIMEN, {"b_key": key, "state": state, "step": None,
                                              "deposition_id": deposition_id,
                                              "bucket_url": server_path(bucket_url), "attempts": 0,
                                              "updated_at": now_iso()})

    def mark_file_uploaded(self, key: str, name: str, *, server_checksum: str, md5: str, sha256: str,
                           size: int) -> None:
        with self._tx() as conn:
            conn.execute(st.UPDATE_FILE, {"b_key": key, "b_name": name, "uploaded": True,
                                          "server_checksum": server_checksum, "md5": md5, "sha256": sha256,
                                          "size": size})
            if not conn.execute(st.PENDING_FILES, {"b_key": key}).scalar_one():
                conn.execute(st.CREATED_TO_UPLOADED, {"b_key": key, "state": State.UPLOADED, "attempts": 0,
                                                      "updated_at": now_iso()})

    def mark_published(self, key: str, *, doi: str | None, concept_doi: str | None, record_url: str | None,
                       record: dict[str, Any] | None = None) -> None:
        """The published version is the specimen's latest: a new versions row, or, for an edit in place,
        the same row with the new metadata hash."""
        with self._tx() as conn:
            publish_row(conn, key, doi=doi, concept_doi=concept_doi, record_url=record_url, record=record)

    def iter_versions(self) -> Iterator[dict[str, Any]]:
        """Every published version of every specimen, in source order then version order."""
        return reports.iter_versions(self.engine)

    def mark_verified(self, key: str) -> None:
        self.mark_verified_many([key])

    def mark_verified_many(self, keys: list[str]) -> None:
        """These published records were re-read and agree with the ledger (one transaction for all)."""
        if keys:
            with self._tx() as conn:
                conn.execute(specimens.update().where(specimens.c.key.in_(keys),
                                                      specimens.c.state == State.PUBLISHED)
                             .values(state=State.VERIFIED, updated_at=now_iso()))

    def forget_verified(self) -> int:
        """Every verified record is to be checked again (``depot verify --again``)."""
        with self._tx() as conn:
            return int(conn.execute(specimens.update().where(specimens.c.state == State.VERIFIED)
                                    .values(state=State.PUBLISHED)).rowcount or 0)

    def iter_to_verify(self) -> Iterator[list[Claim]]:
        """Pages of published records not verified yet, in source order: what `depot verify` checks."""
        for rows in reports.key_pages(self.engine, [specimens.c.key], specimens.c.state == State.PUBLISHED,
                                      specimens.c.deposition_id.is_not(None), page=500):
            with self._read() as conn:  # closed before the caller writes (one writer at a time)
                page = self._load(conn, [r.key for r in rows])
            yield page

    def mark_retry(self, key: str, *, step: str, status: int | None, message: str, retry_at: datetime) -> None:
        with self._tx() as conn:
            conn.execute(st.BUMP_ATTEMPTS, {"b_key": key, "retry_at": iso(retry_at), "last_status": status,
                                            "last_error": message[:4000], "updated_at": now_iso()})

    def defer(self, key: str, *, retry_at: datetime) -> None:
        """Come back to this specimen at ``retry_at`` (a probe's second look), without counting an attempt."""
        self._set(key, retry_at=iso(retry_at))

    def mark_failed(self, key: str, *, step: str, status: int | None, message: str) -> None:
        with self._tx() as conn:
            conn.execute(st.BUMP_ATTEMPTS, {"b_key": key, "state": State.FAILED, "step": step,
                                            "last_status": status, "last_error": message[:4000],
                                            "updated_at": now_iso()})

    def record_attempt(self, key: str | None, step: str, status: int | None, error: str | None,
                       seconds: float) -> None:
        with self._tx() as conn:
            conn.execute(st.INSERT_ATTEMPT, {"specimen_key": key, "step": step, "status": status, "error": error,
                                             "duration_ms": int(seconds * 1000), "at": now_iso()})

    # -- runs and reports -----------------------------------------------------------------------------
    def start_run(self, *, target: str, source: str, profile: str) -> int:
        with self._tx() as conn:
            key = conn.execute(runs.insert().values(started=now_iso(), target=target, source=source,
                                                    profile=profile)).inserted_primary_key
            assert key is not None
            return int(key[0])

    def finish_run(self, run_id: int, *, published: int, failed: int, outcome: str) -> None:
        with self._tx() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id).values(
                finished=now_iso(), published=published, failed=failed, outcome=outcome))

    def counts_by_state(self) -> dict[str, int]:
        with self._read() as conn:
            return reports.counts_by_state(conn)

    def version_counts(self) -> dict[str, int]:
        """Published versions in all, those edited in place since, and sync work still pending by kind."""
        with self._read() as conn:
            return reports.version_counts(conn)

    def errors_by_status(self) -> dict[str, int]:
        """Failed requests by HTTP status ("network" when no answer came), as the seed's Table 5."""
        with self._read() as conn:
            return reports.errors_by_status(conn)

    def failures(self, limit: int = 20) -> list[tuple[str, str | None, int | None, str | None]]:
        with self._read() as conn:
            return reports.failures(conn, limit)

    def rejections(self, limit: int | None = 20) -> list[tuple[str, str, int | None, str | None, str]]:
        """(key, state, source row, file, reason) of specimens held back by a problem of the source."""
        query = sa.select(specimens.c.key, specimens.c.state, specimens.c.source_row, specimens.c.rejected_file,
                          specimens.c.rejected_reason).where(specimens.c.rejected_reason.is_not(None)) \
            .order_by(specimens.c.seq).limit(limit)
        with self._read() as conn:
            return [(r.key, r.state, r.source_row, r.rejected_file, r.rejected_reason) for r in conn.execute(query)]

    def iter_report(self) -> Iterator[tuple[Claim, str | None, str | None]]:
        """(specimen, record URL, concept DOI) in source order, in pages (bounded memory)."""
        for rows in reports.key_pages(self.engine, [specimens.c.key, specimens.c.record_url,
                                                    specimens.c.concept_doi]):
            with self._read() as conn:
                claims = {c.key: c for c in self._load(conn, [r.key for r in rows])}
            for r in rows:
                yield claims[r.key], r.record_url, r.concept_doi

    def throughput(self, published: int | None = None) -> dict[str, Any]:
        """Records per hour and requests recorded (``published``: the count, if the caller has it)."""
        with self._read() as conn:
            return reports.throughput(conn, published)
