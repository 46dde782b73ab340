"""I/O: the ledger's side of ``depot run --bulk``: batches formed, sent and settled, each one transaction.

A batch is formed in one transaction (its row ``packing`` and its specimens ``batched``), is ``sent`` once the
server has answered with its job, and is settled in one transaction: every specimen published (or failed,
or back to planned) and the batch ``done``. A kill -9 between any two leaves a batch that the next run
settles by asking the server for the job of its batch id (docs/bulk-deposit.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from depot.deposit.ledger.published import Published, publish_rows
from depot.deposit.ledger.states import State
from depot.deposit.ledger.store import Claim, Ledger
from depot.deposit.ledger.tables import batches, files, specimens
from depot.deposit.ledger.values import now_iso

PACKING, SENT, DONE = "packing", "sent", "done"
_KEY = specimens.c.key == sa.bindparam("b_key")
# Built once: settling a batch runs each for many specimens.
_FILES_UPLOADED = files.update().where(files.c.specimen_key == sa.bindparam("b_key")).values(
    uploaded=True, server_checksum=sa.literal("md5:") + files.c.md5)
_FAILED = specimens.update().where(_KEY).values(
    state=State.FAILED, step="bulk", batch_id=None, attempts=specimens.c.attempts + 1, last_status=400,
    last_error=sa.bindparam("b_error"), updated_at=sa.bindparam("b_now"))
_LEFT = specimens.update().where(_KEY).values(
    state=State.FAILED, step="upload", batch_id=None, last_status=None, last_error=sa.bindparam("b_error"),
    updated_at=sa.bindparam("b_now"))
_PLANNED_AGAIN = specimens.update().where(_KEY).values(state=State.PLANNED, step=None, batch_id=None,
                                                       updated_at=sa.bindparam("b_now"))


@dataclass(frozen=True)
class Batch:
    id: str
    state: str
    records: int
    job_url: str | None


@dataclass(frozen=True)
class Outcome:
    """One specimen's result in a job: ``published`` (or ``exists``: published before, same key) or
    ``failed``; ``pending`` when the job did not reach it."""

    key: str
    state: str
    record_id: int | None = None
    doi: str | None = None
    concept_doi: str | None = None
    record_url: str | None = None
    message: str | None = None


class BatchLedger:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def open_batches(self) -> list[Batch]:
        """Batches a run left unsettled (killed, stopped), oldest first."""
        with self.ledger._read() as conn:
            rows = conn.execute(sa.select(batches).where(batches.c.state != DONE)
                                .order_by(batches.c.created_at, batches.c.id)).all()
        return [Batch(r.id, r.state, r.records, r.job_url) for r in rows]

    def form(self, batch_id: str, size: int, now: str) -> list[Claim]:
        """Put up to ``size`` specimens ready to be created (planned, no sync operation, not leased, no
        retry pending) into a new batch; returns them (none: no batch is made)."""
        with self.ledger._tx() as conn:
            query = (sa.select(specimens.c.key).where(
                specimens.c.state == State.PLANNED, specimens.c.op.is_(None),
                sa.or_(specimens.c.retry_at.is_(None), specimens.c.retry_at <= now),
                sa.or_(specimens.c.lease_until.is_(None), specimens.c.lease_until < now))
                .order_by(specimens.c.seq).limit(size))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            keys = list(conn.execute(query).scalars())
            if not keys:
                return []
            conn.execute(batches.insert().values(id=batch_id, state=PACKING, records=len(keys), job_url=None,
                                                 message=None, created_at=now_iso(), updated_at=now_iso()))
            conn.execute(specimens.update().where(specimens.c.key.in_(keys)).values(
                state=State.BATCHED, batch_id=batch_id, step="bulk", updated_at=now_iso()))
            return self.ledger._load(conn, keys)

    def leave(self, batch_id: str, failures: dict[str, str]) -> None:
        """Specimens taken out of a batch before it is packed (a file changed since it was checked and
        planned): each fails with its reason, and the batch counts the others."""
        now = now_iso()
        with self.ledger._tx() as conn:
            conn.execute(_LEFT, [{"b_key": key, "b_error": message[:4000], "b_now": now}
                                 for key, message in failures.items()])
            conn.execute(batches.update().where(batches.c.id == batch_id).values(
                records=batches.c.records - len(failures), updated_at=now))

    def members(self, batch_id: str) -> list[Claim]:
        with self.ledger._read() as conn:
            keys = list(conn.execute(sa.select(specimens.c.key).where(
                specimens.c.batch_id == batch_id, specimens.c.state == State.BATCHED)
                .order_by(specimens.c.seq)).scalars())
            return self.ledger._load(conn, keys) if keys else []

    def record_hashes(self, hashes: dict[str, list[tuple[str, str, str, int]]]) -> None:
        """The md5, sha256 and size of each file as it was packed: (key -> [(name, md5, sha256, size)])."""
        with self.ledger._tx() as conn:
            rows = [{"b_key": key, "b_name": name, "md5": md5, "sha256": sha256, "size": size}
                    for key, entries in hashes.items() for name, md5, sha256, size in entries]
            if rows:
                conn.execute(files.update().where(files.c.specimen_key == sa.bindparam("b_key"),
                                                  files.c.name == sa.bindparam("b_name")), rows)

    def mark_sent(self, batch_id: str, job_url: str) -> None:
        with self.ledger._tx() as conn:
            conn.execute(batches.update().where(batches.c.id == batch_id).values(
                state=SENT, job_url=job_url, updated_at=now_iso()))

    def settle(self, batch_id: str, outcomes: list[Outcome], *, batch_message: str | None = None) -> dict[str, int]:
        """Every specimen of the batch to its outcome, and the batch done, in one transaction; a specimen the
        job has no outcome for goes back to planned (a later batch takes it). Returns counts by outcome.
        Each kind of change is one statement for all the specimens it applies to (a batch is a thousand)."""
        counts: dict[str, int] = {}
        by_key = {o.key: o for o in outcomes}
        now = now_iso()
        with self.ledger._tx() as conn:
            keys = list(conn.execute(sa.select(specimens.c.key).where(
                specimens.c.batch_id == batch_id, specimens.c.state == State.BATCHED)).scalars())
            published: list[Published] = []
            failed: list[dict[str, Any]] = []
            again: list[dict[str, Any]] = []
            for key in keys:
                outcome = by_key.get(key)
                state = outcome.state if outcome is not None else "pending"
                counts[state] = counts.get(state, 0) + 1
                if outcome is not None and state in ("published", "exists") and outcome.record_id is not None:
                    published.append(Published(key, outcome.doi, outcome.concept_doi, outcome.record_url,
                                               outcome.record_id))
                elif outcome is not None and state == "failed":
                    failed.append({"b_key": key, "b_error": (outcome.message or "refused")[:4000], "b_now": now})
                else:
                    again.append({"b_key": key, "b_now": now})
            if published:
                conn.execute(_FILES_UPLOADED, [{"b_key": p.key} for p in published])
                publish_rows(conn, published)
            if failed:
                conn.execute(_FAILED, failed)
            if again:
                conn.execute(_PLANNED_AGAIN, again)
            conn.execute(batches.update().where(batches.c.id == batch_id).values(
                state=DONE, message=batch_message, updated_at=now))
        return counts

    def fail_all(self, batch_id: str, message: str) -> int:
        """The server refused the batch as a whole: each of its specimens fails with the reason."""
        outcomes = [Outcome(c.key, "failed", message=message) for c in self.members(batch_id)]
        self.settle(batch_id, outcomes, batch_message=message)
        return len(outcomes)

    def counts(self) -> dict[str, Any]:
        with self.ledger._read() as conn:
            return {state: int(n) for state, n in conn.execute(
                sa.select(batches.c.state, sa.func.count()).group_by(batches.c.state))}
