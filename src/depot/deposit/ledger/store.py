"""I/O: the Ledger. Every state transition is one short, durable transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from depot.deposit.errors import LedgerError
from depot.deposit.ledger import statements as st
from depot.deposit.ledger.engine import create_engine, database_url, migrate
from depot.deposit.ledger.planning import BATCH, Planner, PlanSummary
from depot.deposit.ledger.remembered import (
    RememberedTarget,
    Sample,
    check_exists,
    read_target,
    sample_deposit,
    write_target,
)
from depot.deposit.ledger.tables import ACTIVE, attempts, files, runs, specimens, versions
from depot.deposit.ledger.values import hash_of, iso, now_iso, replan_condition, resume
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


@dataclass(frozen=True)
class Claim:
    """A specimen as the runner sees it while it holds the lease."""

    key: str
    state: str
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

    def _tx(self) -> Any:
        try:
            return self.engine.begin()
        except sa.exc.OperationalError as exc:
            raise LedgerError(self.url, str(exc).splitlines()[0]) from exc

    # -- planning -------------------------------------------------------------------------------------
    def plan(self, records: Iterable[PlannedRecord], *, sidecar_dir: Path | None = None,
             sync: bool = False, dry_run: bool = False) -> PlanSummary:
        """Insert new specimens and refresh changed ones (see depot.deposit.ledger.planning)."""
        return Planner(self.engine, self._tx, self.url).plan(records, sidecar_dir=sidecar_dir, sync=sync,
                                                             dry_run=dry_run)

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

    def next_ready_in(self, *, now: datetime) -> float | None:
        """Seconds until some active specimen may be claimed (0 if one is ready); None if none is active."""
        stamp = iso(now)
        with self.engine.connect() as conn:
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
                values = resume(row.step) if row.deposition_id is not None else {"state": "planned", "step": None}
                conn.execute(specimens.update().where(specimens.c.key == row.key).values(
                    **values, attempts=0, retry_at=None, updated_at=now_iso()))
        return len(rows)

    def uncertain_keys(self, step: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(specimens.c.key).where(
                specimens.c.state == "uncertain", specimens.c.step == step, specimens.c.lease_owner.is_(None))
                .order_by(specimens.c.seq)).scalars())

    def release(self, key: str, owner: str) -> None:
        with self._tx() as conn:
            conn.execute(st.RELEASE, {"b_key": key, "b_owner": owner, "lease_owner": None, "lease_until": None})

    def get(self, key: str) -> Claim:
        with self.engine.connect() as conn:
            found = self._load(conn, [key])
        if not found:
            raise LedgerError(self.url, f"no specimen {key!r}")
        return found[0]

    def _load(self, conn: sa.Connection, keys: list[str]) -> list[Claim]:
        rows = conn.execute(st.SPECIMENS_BY_KEYS, {"b_keys": keys}).all()
        file_rows: dict[str, list[FileRow]] = {k: [] for k in keys}
        for f in conn.execute(st.FILES_BY_KEYS, {"b_keys": keys}):
            file_rows[f.specimen_key].append(FileRow(f.name, f.path, f.size, f.md5, f.sha256, bool(f.uploaded),
                                                     f.server_checksum))
        return [Claim(r.key, r.state, r.step, r.deposition_id, r.bucket_url, r.doi, r.metadata, r.attempts,
                      tuple(file_rows[r.key]), r.last_status, r.last_error, r.op, r.record_id, bool(r.pending_put))
                for r in rows]

    # -- transitions ----------------------------------------------------------------------------------
    def _set(self, key: str, **values: Any) -> None:
        values["updated_at"] = now_iso()
        values["b_key"] = key
        with self._tx() as conn:
            conn.execute(st.UPDATE_SPECIMEN, values)

    def mark_uncertain(self, key: str, step: str) -> None:
        self._set(key, state="uncertain", step=step)

    def mark_planned(self, key: str) -> None:
        """Nothing was created (or no new-version draft exists): start the specimen's operation again."""
        self._set(key, state="planned", step=None, deposition_id=None, bucket_url=None)

    def mark_metadata_sent(self, key: str) -> None:
        with self._tx() as conn:
            conn.execute(st.UPDATE_SPECIMEN, {"b_key": key, "pending_put": False, "updated_at": now_iso()})
            if not conn.execute(st.PENDING_FILES, {"b_key": key}).scalar_one():
                conn.execute(st.CREATED_TO_UPLOADED, {"b_key": key, "state": "uploaded", "updated_at": now_iso()})

    def mark_ready(self, key: str) -> None:
        """Created with nothing left to send (every file already there): ready to publish."""
        with self._tx() as conn:
            if not conn.execute(st.PENDING_FILES, {"b_key": key}).scalar_one():
                conn.execute(st.CREATED_TO_UPLOADED, {"b_key": key, "state": "uploaded", "updated_at": now_iso()})

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
        self._set(key, state="uploaded", step=None)

    def mark_created(self, key: str, *, deposition_id: int, bucket_url: str,
                     record: dict[str, Any] | None = None) -> None:
        state = "created"
        with self._tx() as conn:
            pending_put = conn.execute(sa.select(specimens.c.pending_put).where(specimens.c.key == key)).scalar()
            if not pending_put and not conn.execute(st.PENDING_FILES, {"b_key": key}).scalar_one():
                state = "uploaded"
            conn.execute(st.UPDATE_SPECIMEN, {"b_key": key, "state": state, "step": None,
                                              "deposition_id": deposition_id,
                                              "bucket_url": server_path(bucket_url),
                                              "updated_at": now_iso()})

    def mark_file_uploaded(self, key: str, name: str, *, server_checksum: str, md5: str, sha256: str,
                           size: int) -> None:
        with self._tx() as conn:
            conn.execute(st.UPDATE_FILE, {"b_key": key, "b_name": name, "uploaded": True,
                                          "server_checksum": server_checksum, "md5": md5, "sha256": sha256,
                                          "size": size})
            if not conn.execute(st.PENDING_FILES, {"b_key": key}).scalar_one():
                conn.execute(st.CREATED_TO_UPLOADED, {"b_key": key, "state": "uploaded", "updated_at": now_iso()})

    def mark_published(self, key: str, *, doi: str | None, concept_doi: str | None, record_url: str | None,
                       record: dict[str, Any] | None = None) -> None:
        """The published version is the specimen's latest: a new versions row, or, for an edit in place,
        the same row with the new metadata hash."""
        now = now_iso()
        with self._tx() as conn:
            row = conn.execute(sa.select(specimens.c.deposition_id, specimens.c.metadata_hash)
                               .where(specimens.c.key == key)).one()
            deposition_id = int((record or {}).get("id") or row.deposition_id)
            conn.execute(specimens.update().where(specimens.c.key == key).values(
                state="published", step=None, op=None, pending_put=False, doi=doi, concept_doi=concept_doi,
                record_url=server_path(record_url), deposition_id=deposition_id, record_id=deposition_id, retry_at=None,
                published_at=now, updated_at=now))
            published = [{"name": f.name, "size": f.size, "mtime_ns": f.mtime_ns, "md5": f.md5}
                         for f in conn.execute(sa.select(files.c.name, files.c.size, files.c.mtime_ns, files.c.md5)
                                               .where(files.c.specimen_key == key).order_by(files.c.position))]
            files_hash = hash_of(sorted((f["name"], f["md5"]) for f in published))
            number = conn.execute(sa.select(sa.func.count()).select_from(versions)
                                  .where(versions.c.specimen_key == key)).scalar_one()
            exists = conn.execute(sa.select(versions.c.version).where(
                versions.c.specimen_key == key, versions.c.deposition_id == deposition_id)).first()
            if exists is None:
                conn.execute(versions.insert().values(
                    specimen_key=key, deposition_id=deposition_id, version=number + 1, doi=doi,
                    concept_doi=concept_doi, metadata_hash=row.metadata_hash, files_hash=files_hash,
                    files=published, published_at=now))
            else:
                conn.execute(versions.update().where(versions.c.specimen_key == key,
                                                     versions.c.deposition_id == deposition_id).values(
                    metadata_hash=row.metadata_hash, files_hash=files_hash, files=published, modified_at=now))

    def iter_versions(self) -> Iterator[dict[str, Any]]:
        """Every published version of every specimen, in source order then version order."""
        last = 0
        while True:
            with self.engine.connect() as conn:
                keys = conn.execute(sa.select(specimens.c.key, specimens.c.seq).where(specimens.c.seq > last)
                                    .order_by(specimens.c.seq).limit(BATCH)).all()
                if not keys:
                    return
                found: dict[str, list[Any]] = {k.key: [] for k in keys}
                for v in conn.execute(sa.select(versions).where(versions.c.specimen_key.in_(list(found)))
                                      .order_by(versions.c.version)):
                    found[v.specimen_key].append(v)
            for k in keys:
                for v in found[k.key]:
                    yield {"key": k.key, "version": v.version, "deposition_id": v.deposition_id, "doi": v.doi,
                           "concept_doi": v.concept_doi, "metadata_hash": v.metadata_hash,
                           "files": v.files, "published_at": v.published_at, "modified_at": v.modified_at}
            last = keys[-1].seq

    def mark_verified(self, key: str) -> None:
        with self._tx() as conn:
            conn.execute(specimens.update().where(specimens.c.key == key, specimens.c.state == "published")
                         .values(state="verified", updated_at=now_iso()))

    def mark_retry(self, key: str, *, step: str, status: int | None, message: str, retry_at: datetime) -> None:
        with self._tx() as conn:
            conn.execute(st.BUMP_ATTEMPTS, {"b_key": key, "retry_at": iso(retry_at), "last_status": status,
                                            "last_error": message[:4000], "updated_at": now_iso()})

    def mark_failed(self, key: str, *, step: str, status: int | None, message: str) -> None:
        with self._tx() as conn:
            conn.execute(st.BUMP_ATTEMPTS, {"b_key": key, "state": "failed", "step": step, "last_status": status,
                                            "last_error": message[:4000], "updated_at": now_iso()})

    def record_attempt(self, key: str | None, step: str, status: int | None, error: str | None,
                       seconds: float) -> None:
        with self._tx() as conn:
            conn.execute(st.INSERT_ATTEMPT, {"specimen_key": key, "step": step, "status": status, "error": error,
                                             "duration_ms": int(seconds * 1000), "at": now_iso()})

    # -- runs and reports -----------------------------------------------------------------------------
    def start_run(self, *, target: str, source: str, profile: str) -> int:
        with self._tx() as conn:
            return int(conn.execute(runs.insert().values(started=now_iso(), target=target, source=source,
                                                         profile=profile)).inserted_primary_key[0])

    def finish_run(self, run_id: int, *, published: int, failed: int, outcome: str) -> None:
        with self._tx() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id).values(
                finished=now_iso(), published=published, failed=failed, outcome=outcome))

    def counts_by_state(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {r[0]: int(r[1]) for r in conn.execute(
                sa.select(specimens.c.state, sa.func.count()).group_by(specimens.c.state))}

    def version_counts(self) -> dict[str, int]:
        """Published versions in all, those edited in place since, and sync work still pending by kind."""
        with self.engine.connect() as conn:
            total, edited = conn.execute(sa.select(sa.func.count(), sa.func.count(versions.c.modified_at))
                                         .select_from(versions)).one()
            pending: dict[str, int] = dict(conn.execute(sa.select(specimens.c.op, sa.func.count()).where(
                specimens.c.op.is_not(None), specimens.c.state.in_(ACTIVE)).group_by(specimens.c.op)).all())
        return {"versions": int(total), "edited_in_place": int(edited), "pending_edits": int(pending.get("edit", 0)),
                "pending_versions": int(pending.get("version", 0))}

    def errors_by_status(self) -> dict[str, int]:
        """Failed requests by HTTP status ("network" when no answer came), as the seed's Table 5."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(attempts.c.status, sa.func.count()).where(
                sa.or_(attempts.c.status.is_(None), attempts.c.status >= 400)).group_by(attempts.c.status)).all()
        return {str(s) if s is not None else "network": int(n) for s, n in sorted(rows, key=lambda r: r[0] or 0)}

    def failures(self, limit: int = 20) -> list[tuple[str, str | None, int | None, str | None]]:
        with self.engine.connect() as conn:
            return [(r.key, r.step, r.last_status, r.last_error) for r in conn.execute(
                sa.select(specimens).where(specimens.c.state == "failed").order_by(specimens.c.seq).limit(limit))]

    def iter_report(self) -> Iterator[tuple[Claim, str | None, str | None]]:
        """(specimen, record URL, concept DOI) in source order, in pages (bounded memory)."""
        last = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.select(specimens.c.key, specimens.c.seq, specimens.c.record_url,
                                              specimens.c.concept_doi).where(specimens.c.seq > last)
                                    .order_by(specimens.c.seq).limit(BATCH)).all()
                if not rows:
                    return
                claims = {c.key: c for c in self._load(conn, [r.key for r in rows])}
            for r in rows:
                yield claims[r.key], r.record_url, r.concept_doi
            last = rows[-1].seq

    def throughput(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sa.func.min(specimens.c.published_at), sa.func.max(specimens.c.published_at),
                                         sa.func.count(specimens.c.published_at))).one()
            reqs = conn.execute(sa.select(sa.func.count(), sa.func.min(attempts.c.at), sa.func.max(attempts.c.at))
                                .select_from(attempts)).one()
        out: dict[str, Any] = {"published": int(row[2]), "requests": int(reqs[0])}
        if row[0] and row[1] and row[2] > 1:
            seconds = (datetime.fromisoformat(row[1]) - datetime.fromisoformat(row[0])).total_seconds()
            out["records_per_hour"] = round(row[2] / seconds * 3600, 1) if seconds > 0 else None
        return out
