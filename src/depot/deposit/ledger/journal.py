"""I/O: the runner's view of the ledger: every call awaited, every write through the single writer.

The runner holds a lease on each specimen it works on, so while it holds it nobody else writes that
row: the ledger's copy and the one kept here agree. A transition therefore computes the row's next
state from the ``Claim`` it already has (no read-back) and writes it with one prepared statement (two
or three for a publish). ``get`` answers from these copies; only a specimen not held is read.

Guards (``mark_uncertain``: the step about to be sent) return once durable; claims and leases once
committed, with their rows. Every other write records what already happened and is posted: it returns
at once and is committed, in order, with the next group (see depot.deposit.ledger.writer for why that
keeps exactly-once). The methods are coroutines all the same, so the runner's calls read alike.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

import orjson

from depot.deposit.errors import LedgerError
from depot.deposit.ledger.prepared import Tx
from depot.deposit.ledger.states import State
from depot.deposit.ledger.store import Claim, FileRow, Ledger
from depot.deposit.ledger.values import hash_of, iso, now_iso
from depot.deposit.ledger.writer import Writer
from depot.deposit.links import server_path


@dataclasses.dataclass
class _Held:
    claim: Claim
    metadata_hash: str
    mtimes: dict[str, int | None]


class Journal:
    """The ledger as the asyncio runner uses it (``await journal.mark_created(...)``)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.writer = Writer(ledger.engine, ledger.url)
        self._held: dict[str, _Held] = {}
        self._guarded: set[str] = set()  # claimed with their create guard already durable (claim's guard_create)

    async def close(self) -> None:
        await self.writer.close()

    async def flush(self) -> None:
        """Return once every write queued so far is durable."""
        await self.writer.run(lambda tx: None)

    # -- leases and reads --------------------------------------------------------------------------------
    async def claim(self, n: int, *, owner: str, lease_seconds: float, now: datetime,
                    guard_create: bool = False) -> list[Claim]:
        """Lease up to ``n`` ready specimens to ``owner`` (three prepared statements for one).

        ``guard_create``: a claimed specimen that is to be created (planned, no edit or new version) gets
        its create guard, "uncertain: create", in the same transaction, so the create needs no commit of
        its own; the claim is returned as planned, and ``mark_uncertain(key, "create")`` then writes
        nothing. Either way, the create is sent only after a commit that holds its guard."""
        params = {"now": iso(now), "limit": n, "owner": owner, "until": iso(now + timedelta(seconds=lease_seconds)),
                  **_ACTIVE}
        stamp = now_iso()

        def op(tx: Tx) -> tuple[list[_Held], list[str]]:
            rows = tx.run("ready", params).fetchall()
            held, guarded = [], []
            for row in rows:
                tx.run("lease", {**params, "key": row[0]})
                one = _held(row, tx.run("files_of", {"key": row[0]}).fetchall())
                if guard_create and one.claim.state is State.PLANNED and one.claim.op is None:
                    tx.run("step", {"key": row[0], "state": State.UNCERTAIN.value, "step": "create",
                                    "attempts": one.claim.attempts, "now": stamp})
                    guarded.append(row[0])
                held.append(one)
            return held, guarded

        held, guarded = await self.writer.run(op)
        self._guarded.update(guarded)
        return self._hold(held)

    async def lease(self, keys: list[str], *, owner: str, lease_seconds: float, now: datetime) -> list[str]:
        """Lease these specimens (those of them that are ready) to ``owner``; returns the leased keys."""
        if not keys:
            return []
        params = {"now": iso(now), "owner": owner, "until": iso(now + timedelta(seconds=lease_seconds)), **_ACTIVE}

        def op(tx: Tx) -> list[_Held]:
            mine = [key for key in keys if tx.run("lease_if_ready", {**params, "key": key}).rowcount]
            return _load(tx, mine)

        return [c.key for c in self._hold(await self.writer.run(op))]

    async def release(self, key: str, owner: str) -> None:
        self.writer.post(lambda tx: tx.run("release", {"key": key, "owner": owner}))
        self._held.pop(key, None)
        self._guarded.discard(key)

    async def get(self, key: str) -> Claim:
        held = self._held.get(key)
        if held is not None:
            return held.claim
        found = await self.writer.run(lambda tx: _load(tx, [key]))
        if not found:
            raise LedgerError(self.ledger.url, f"no specimen {key!r}")
        return found[0].claim  # type: ignore[no-any-return]

    # Rare reads and the start-of-run cleanup: on a thread, on their own connection (WAL readers do not
    # wait for the writer; the cleanup runs before any transition is queued).
    async def next_ready_in(self, *, now: datetime) -> float | None:
        return await asyncio.to_thread(self.ledger.next_ready_in, now=now)

    async def uncertain_keys(self, step: str) -> list[str]:
        return await asyncio.to_thread(self.ledger.uncertain_keys, step)

    async def release_dead_leases(self, hostname: str, alive: Any) -> int:
        return await asyncio.to_thread(self.ledger.release_dead_leases, hostname, alive)

    # -- transitions ---------------------------------------------------------------------------------------
    async def mark_uncertain(self, key: str, step: str) -> None:
        """The guard of a request whose effect could be lost: durable when this returns."""
        if step == "create" and key in self._guarded:
            self._guarded.discard(key)  # committed with the claim
            self._update(key, state=State.UNCERTAIN, step=step)
            return
        await self._step(key, State.UNCERTAIN, step, guard=True)

    async def mark_uploaded(self, key: str) -> None:
        await self._step(key, State.UPLOADED, None)

    async def mark_planned(self, key: str) -> None:
        """Nothing was created (or no new-version draft exists): start the specimen's operation again."""
        claim = await self.get(key)
        await self._write(key, "created", {"state": State.PLANNED.value, "step": None, "deposition_id": None,
                                           "bucket_url": None, "attempts": claim.attempts},
                          state=State.PLANNED, step=None, deposition_id=None, bucket_url=None)

    async def mark_created(self, key: str, *, deposition_id: int, bucket_url: str,
                           record: dict[str, Any] | None = None) -> None:
        """The deposition exists. A step that succeeds starts the tries of the next one afresh."""
        claim = await self.get(key)
        state = State.UPLOADED if not claim.pending_put and _all_sent(claim.files) else State.CREATED
        bucket = server_path(bucket_url)
        await self._write(key, "created", {"state": state.value, "step": None, "deposition_id": deposition_id,
                                           "bucket_url": bucket, "attempts": 0},
                          state=state, step=None, deposition_id=deposition_id, bucket_url=bucket, attempts=0)

    async def mark_file_uploaded(self, key: str, name: str, *, server_checksum: str, md5: str, sha256: str,
                                 size: int) -> None:
        await self._file(key, name, server_checksum=server_checksum, md5=md5, sha256=sha256, size=size)

    async def mark_file_present(self, key: str, name: str, *, md5: str) -> None:
        """A new version's draft already holds this file with this content (imported from the last one)."""
        await self._file(key, name, server_checksum=f"md5:{md5}", md5=md5)

    async def mark_metadata_sent(self, key: str) -> None:
        claim = await self.get(key)
        state = State.UPLOADED if claim.state is State.CREATED and _all_sent(claim.files) else claim.state
        attempts = 0 if state is not claim.state else claim.attempts
        await self._write(key, "metadata_sent", {"state": state.value, "pending_put": False, "attempts": attempts},
                          state=state, pending_put=False, attempts=attempts)

    async def mark_ready(self, key: str) -> None:
        """Created with nothing left to send: ready to publish (a no-op otherwise, and then no write)."""
        claim = await self.get(key)
        if claim.state is State.CREATED and not claim.pending_put and _all_sent(claim.files):
            await self._write(key, "step", {"state": State.UPLOADED.value, "step": claim.step, "attempts": 0},
                              state=State.UPLOADED, attempts=0)

    async def mark_draft_dropped(self, key: str) -> None:
        claim = await self.get(key)
        await self._write(key, "draft_dropped", {"deposition_id": claim.record_id},
                          deposition_id=claim.record_id, bucket_url=None)

    async def mark_published(self, key: str, *, doi: str | None, concept_doi: str | None, record_url: str | None,
                             record: dict[str, Any] | None = None) -> None:
        """The published version is the specimen's latest: a new versions row, or, for an edit in place,
        the same row with the new metadata hash."""
        held = self._held.get(key) or await self._load_one(key)
        claim = held.claim
        deposition_id = int((record or {}).get("id") or claim.deposition_id or 0)
        published = [{"name": f.name, "size": f.size, "mtime_ns": held.mtimes.get(f.name), "md5": f.md5}
                     for f in claim.files]
        row = {"key": key, "state": State.PUBLISHED.value, "pending_put": False, "doi": doi,
               "concept_doi": concept_doi, "record_url": server_path(record_url), "deposition_id": deposition_id,
               "metadata_hash": held.metadata_hash,
               "files_hash": hash_of(sorted((f["name"], f["md5"]) for f in published)),
               "files": orjson.dumps(published).decode(), "now": now_iso()}

        def op(tx: Tx) -> None:
            tx.run("published", row)
            known = [r[0] for r in tx.run("versions_of", row).fetchall()]
            if deposition_id in known:
                tx.run("version_edited", row)
            else:
                tx.run("version_new", {**row, "version": len(known) + 1})

        self.writer.post(op)
        self._update(key, state=State.PUBLISHED, step=None, op=None, pending_put=False, doi=doi,
                     deposition_id=deposition_id, record_id=deposition_id)

    async def mark_retry(self, key: str, *, step: str, status: int | None, message: str, retry_at: datetime) -> None:
        claim = await self.get(key)
        await self._write(key, "retry", {"attempts": claim.attempts + 1, "retry_at": iso(retry_at), "status": status,
                                         "error": message[:4000]},
                          attempts=claim.attempts + 1, last_status=status, last_error=message[:4000])

    async def mark_failed(self, key: str, *, step: str, status: int | None, message: str) -> None:
        claim = await self.get(key)
        await self._write(key, "failed", {"state": State.FAILED.value, "step": step, "attempts": claim.attempts + 1,
                                          "status": status, "error": message[:4000]},
                          state=State.FAILED, step=step, attempts=claim.attempts + 1, last_status=status,
                          last_error=message[:4000])

    async def defer(self, key: str, *, retry_at: datetime) -> None:
        """Come back to this specimen at ``retry_at`` (a probe's second look), without counting an attempt."""
        await self._write(key, "defer", {"retry_at": iso(retry_at)})

    def record_attempt(self, key: str | None, step: str, status: int | None, error: str | None,
                       seconds: float) -> None:
        """Posted, not awaited: it commits with the next transition (it guards no request)."""
        row = {"key": key, "step": step, "status": status, "error": error, "duration_ms": int(seconds * 1000),
               "now": now_iso()}
        self.writer.post(lambda tx: tx.run("attempt", row))

    # -- plumbing ---------------------------------------------------------------------------------------
    async def _step(self, key: str, state: State, step: str | None, *, guard: bool = False) -> None:
        claim = await self.get(key)
        await self._write(key, "step", {"state": state.value, "step": step, "attempts": claim.attempts},
                          guard=guard, state=state, step=step)

    async def _file(self, key: str, name: str, *, server_checksum: str, md5: str, sha256: str | None = None,
                    size: int | None = None) -> None:
        claim = await self.get(key)
        files = tuple(dataclasses.replace(f, uploaded=True, server_checksum=server_checksum, md5=md5,
                                          sha256=sha256 if sha256 is not None else f.sha256,
                                          size=size if size is not None else f.size)
                      if f.name == name else f for f in claim.files)
        changed = next((f for f in files if f.name == name), None)
        if changed is None:
            raise LedgerError(self.ledger.url, f"specimen {key!r} has no file {name!r}")
        file_row = {"key": key, "name": name, "uploaded": True, "server_checksum": server_checksum, "md5": md5,
                    "sha256": changed.sha256, "size": changed.size}
        # The last file sent moves a created record on to uploaded in the same transaction.
        to_uploaded = claim.state is State.CREATED and not claim.pending_put and _all_sent(files)
        step_row = {"key": key, "state": State.UPLOADED.value, "step": claim.step, "attempts": 0, "now": now_iso()}

        def op(tx: Tx) -> None:
            tx.run("file", file_row)
            if to_uploaded:
                tx.run("step", step_row)

        self.writer.post(op)
        if to_uploaded:
            self._update(key, files=files, state=State.UPLOADED, attempts=0)
        else:
            self._update(key, files=files)

    async def _write(self, key: str, statement: str, values: dict[str, Any], *, guard: bool = False,
                     **changes: Any) -> None:
        row = {**values, "key": key, "now": now_iso()}
        if guard:
            await self.writer.run(lambda tx: tx.run(statement, row))
        else:
            self.writer.post(lambda tx: tx.run(statement, row))
        if changes:
            self._update(key, **changes)

    def _update(self, key: str, **changes: Any) -> None:
        held = self._held.get(key)
        if held is not None:
            held.claim = dataclasses.replace(held.claim, **changes)

    def _hold(self, loaded: list[_Held]) -> list[Claim]:
        for held in loaded:
            self._held[held.claim.key] = held
        return [h.claim for h in loaded]

    async def _load_one(self, key: str) -> _Held:
        found = await self.writer.run(lambda tx: _load(tx, [key]))
        if not found:
            raise LedgerError(self.ledger.url, f"no specimen {key!r}")
        return found[0]  # type: ignore[no-any-return]


_ACTIVE = {"planned": State.PLANNED.value, "created": State.CREATED.value, "uploaded": State.UPLOADED.value,
           "uncertain": State.UNCERTAIN.value}


def _held(row: Any, file_rows: list[Any]) -> _Held:
    """A claimed row (prepared.CLAIM_COLUMNS) and its files' rows, as the driver returns them."""
    (key, state, step, deposition_id, bucket_url, doi, metadata, attempts, last_status, last_error, op, record_id,
     pending_put, source_row, rejected_reason, rejected_file, metadata_hash) = row
    if isinstance(metadata, str | bytes):  # SQLite keeps JSON as text; psycopg decodes it
        metadata = orjson.loads(metadata)
    files = tuple(FileRow(f[0], f[1], f[2], f[3], f[4], bool(f[5]), f[6], f[7]) for f in file_rows)
    return _Held(Claim(key, State(state), step, deposition_id, bucket_url, doi, metadata, attempts, files,
                       last_status, last_error, op, record_id, bool(pending_put), source_row, rejected_reason,
                       rejected_file), metadata_hash, {f[0]: f[7] for f in file_rows})


def _all_sent(files: tuple[FileRow, ...]) -> bool:
    return all(f.uploaded for f in files)


def _load(tx: Tx, keys: list[str]) -> list[_Held]:
    """These specimens as they are stored (those that exist), in the order given."""
    found = []
    for key in keys:
        row = tx.run("specimen", {"key": key}).fetchone()
        if row is not None:
            found.append(_held(row, tx.run("files_of", {"key": key}).fetchall()))
    return found
