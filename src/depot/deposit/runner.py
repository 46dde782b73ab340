"""I/O: the only place that combines ledger, client, policy, limiter, breaker and progress.

Each specimen walks ``planned -> created -> uploaded -> published`` one durable ledger transition at a
time. Before a request whose effect could be lost (create, publish), the ledger first records that the
step is *uncertain*; only the answer turns it into a definite state. A crash, a timeout or a dropped
connection therefore leaves an uncertain row, which a probe settles before anything is sent again:
created deposits are found among the account's depositions by the specimen key (many keys per listing
request), publishes by reading the deposition back. That is how a lost answer becomes neither a
duplicate record nor a false "failed".

An unpublished draft whose source changed after a failure is brought up to date (``op`` "update":
align its files, PUT the metadata) before it is published. `depot sync` adds two operations on
published records, walking the same states: an *edit*
(``edit`` -> PUT metadata -> ``publish``, same DOI) and a *new version* (``newversion`` -> align the
draft's imported files -> PUT metadata -> ``publish``, new DOI under the same concept). Edit is
idempotent on current Zenodo (a second edit returns the open draft), so it is simply repeated; a lost
newversion answer is settled like a create, by finding the concept's unpublished draft. A draft the
repository refuses is discarded, so a published record is never left half-edited.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from depot.deposit.breaker import Breaker
from depot.deposit.client import Reply, RepositoryClient
from depot.deposit.concurrency import AdaptiveLimit
from depot.deposit.errors import (
    AuthError,
    DepotError,
    HTTPStatusError,
    IntegrityError,
    TransportError,
    ValidationError,
)
from depot.deposit.inspect_files import md5_of
from depot.deposit.ledger import Ledger
from depot.deposit.links import on_target
from depot.deposit.policy import Decision, backoff, classify
from depot.deposit.progress import Stats

PROBE_BATCH = 20  # specimen keys per listing query when settling uncertain creates


@dataclass(frozen=True)
class RunSettings:
    transfers: int = 8  # records in flight
    low_level_retries: int = 5  # per request
    retries: int = 3  # per record, across the run
    lease_seconds: float = 300.0
    probe_delay: float = 2.0  # Zenodo's search lags writes: wait before looking for an uncertain create
    probe_recheck: float = 5.0  # and look once more, this much later, before concluding it was not created
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    max_records: int | None = None
    adaptive: bool = True


class FatalRunError(DepotError):
    """Raised when the run cannot go on at all (bad credentials, a broken ledger); nothing is marked failed."""


class Runner:
    def __init__(self, ledger: Ledger, client: RepositoryClient, settings: RunSettings, stats: Stats, *,
                 clock: Callable[[], float] = time.monotonic, tick: Callable[[], None] | None = None) -> None:
        self.ledger = ledger
        self.client = client
        self.settings = settings
        self.stats = stats
        self.clock = clock
        self.tick = tick or (lambda: None)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.breaker = Breaker()
        self.limit = AdaptiveLimit(maximum=settings.transfers, minimum=1)
        self.stopping = False
        self.fatal: BaseException | None = None
        self._in_flight = 0
        self._drafts: dict[str, dict[str, Any]] = {}  # a new version's draft as newversion returned it
        client.on_reply = self._observe

    # -- the loop ------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Work until nothing is ready, or stop() is called, or a fatal error occurs."""
        self.ledger.release_dead_leases(socket.gethostname(), _alive)
        await self.settle_uncertain_creates()
        workers = [asyncio.create_task(self._worker(i)) for i in range(self.settings.transfers)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
        if self.fatal is not None:
            raise FatalRunError(str(self.fatal)) from self.fatal

    def stop(self) -> None:
        self.stopping = True

    async def _worker(self, index: int) -> None:
        idle_rounds = 0
        while not self.stopping and self.fatal is None:
            if not await self._gate():
                continue
            claims = self.ledger.claim(1, owner=self.owner, lease_seconds=self.settings.lease_seconds,
                                       now=_utcnow())
            if not claims:
                wait = self.ledger.next_ready_in(now=_utcnow())
                if wait is None and self._in_flight == 0:
                    idle_rounds += 1
                    if idle_rounds > 2:
                        return  # nothing left to do by anyone
                # Others of ours are busy: their records may finish (or fail) any moment, so look again soon.
                await asyncio.sleep(0.05 if self._in_flight else min(wait if wait is not None else 0.2, 2.0))
                continue
            idle_rounds = 0
            self._in_flight += 1
            try:
                await self._process(claims[0])
            except (AuthError, FatalRunError) as exc:
                self.fatal = exc
            finally:
                self._in_flight -= 1
                self.tick()

    async def _gate(self) -> bool:
        """Wait for the breaker and the adaptive limit to allow one more record in flight."""
        now = self.clock()
        if not self.breaker.allow(now):
            self.stats.paused_until = self.breaker.resume_at()
            await asyncio.sleep(max(0.05, min(self.breaker.resume_at() - now, 1.0)))
            self.tick()
            return False
        if self.settings.adaptive and self._in_flight >= self.limit.limit:
            await asyncio.sleep(0.05)
            return False
        return True

    def _observe(self, step: str, reply: Reply | None, error: BaseException | None) -> None:
        self.stats.requests += 1
        # 404 counts too: the depositor only asks for things that exist, so a run of 404s is an outage
        # (the 2019 database incident answered every request with 404 for a day).
        server_failure = reply is None or reply.status >= 500 or reply.status in (404, 429)
        if reply is not None and reply.status >= 400:
            self.stats.error(reply.status)
        elif reply is None:
            self.stats.error(None)
        if reply is not None and reply.status in (429,):
            return  # the rate limiter handles these; they say nothing about the server's health
        self.breaker.record(not server_failure, self.clock())
        self.limit.record(reply.seconds if reply is not None else None, server_failure)

    # -- one specimen --------------------------------------------------------------------------------
    async def _process(self, claim: Any) -> None:
        key = claim.key
        try:
            state = claim.state
            if state == "uncertain":
                state = await self._settle(claim)
                if state is None:
                    return
                claim = self.ledger.get(key)
            if state == "planned":
                start = {"edit": self._edit, "version": self._new_version}.get(claim.op or "", self._create)
                await start(claim)
                claim = self.ledger.get(key)
                state = claim.state
            if state == "created":
                await self._upload(claim)
                claim = self.ledger.get(key)
                state = claim.state
            if state == "uploaded":
                await self._publish(claim)
        except IntegrityError as exc:
            self._retry_or_fail(claim, "upload", None, f"checksum mismatch: {exc}")
        except ValidationError as exc:
            await self._drop_refused_draft(self.ledger.get(key))
            self.ledger.mark_failed(key, step=exc.step or "publish", status=exc.status, message=_describe(exc))
            self.stats.failed += 1
        except HTTPStatusError as exc:
            if isinstance(exc, AuthError):
                raise
            decision = classify(exc.status, exc.headers, now=time.time())
            if decision.action == Decision.FATAL:
                raise
            if decision.action == Decision.NO_RETRY:
                self.ledger.mark_failed(key, step=exc.step or "?", status=exc.status, message=str(exc))
                self.stats.failed += 1
            else:
                self._retry_or_fail(claim, exc.step or "?", exc.status, str(exc), decision.retry_after)
        except TransportError as exc:
            self._retry_or_fail(claim, exc.step or "?", None, str(exc))
        finally:
            self.ledger.release(key, self.owner)

    def _retry_or_fail(self, claim: Any, step: str, status: int | None, message: str,
                       retry_after: float | None = None) -> None:
        attempts = self.ledger.get(claim.key).attempts
        if attempts >= self.settings.retries:
            self.ledger.mark_failed(claim.key, step=step, status=status, message=message)
            self.stats.failed += 1
            return
        delay = backoff(attempts, base=self.settings.backoff_base, cap=self.settings.backoff_cap,
                        retry_after=retry_after)
        self.stats.retries += 1
        self.ledger.mark_retry(claim.key, step=step, status=status, message=message,
                               retry_at=_utcnow() + timedelta(seconds=delay))

    async def _create(self, claim: Any) -> None:
        # Record the intent first: if we die or lose the answer, the row says "look before creating".
        self.ledger.mark_uncertain(claim.key, "create")
        try:
            deposition = await self._call(claim.key, "create", self.client.create, claim.metadata)
        except (TransportError, HTTPStatusError) as exc:
            if _definitely_not_done(exc):
                self.ledger.mark_planned(claim.key)  # a 4xx or refused connection: nothing was created
            raise
        self.ledger.mark_created(claim.key, deposition_id=int(deposition["id"]),
                                 bucket_url=_bucket(deposition), record=deposition)

    async def _edit(self, claim: Any) -> None:
        """Open the published record for editing (repeatable: a second edit returns the same draft)."""
        deposition = await self._call(claim.key, "edit", self.client.action, claim.record_id, "edit")
        self.ledger.mark_created(claim.key, deposition_id=int(claim.record_id),
                                 bucket_url=_bucket(deposition or {}), record=deposition)

    async def _new_version(self, claim: Any) -> None:
        self.ledger.mark_uncertain(claim.key, "newversion")
        try:
            draft = await self._call(claim.key, "newversion", self.client.action, claim.record_id, "newversion")
        except ValidationError:
            # "Please remove all files first.": the concept already has an unpublished new version (ours,
            # from a run that lost the answer). Find it and carry on with it.
            if await self._adopt_version_draft(claim) is None:
                raise
            return
        except (TransportError, HTTPStatusError) as exc:
            if _definitely_not_done(exc):
                self.ledger.mark_planned(claim.key)
            raise
        assert draft is not None
        if int(draft["id"]) == int(claim.record_id):
            # Legacy Zenodo answered with the original deposition and the draft under links.latest_draft.
            latest = str((draft.get("links") or {}).get("latest_draft", "")).rstrip("/").rsplit("/", 1)[-1]
            draft = await self._call(claim.key, "get", self.client.get, int(latest))
        self._drafts[claim.key] = draft
        self.ledger.mark_created(claim.key, deposition_id=int(draft["id"]), bucket_url=_bucket(draft), record=draft)

    async def _adopt_version_draft(self, claim: Any) -> int | None:
        """Settle a newversion whose answer was lost: the concept's unpublished draft, if there is one
        (looked for twice, ``probe_recheck`` apart, as the search index may not list it yet)."""
        drafts: list[dict[str, Any]] = []
        for wait in (0.0, self.settings.probe_recheck):
            await asyncio.sleep(wait)
            found = await self.find_by_keys([claim.key])
            drafts = [d for d in found.get(claim.key, [])
                      if not d.get("submitted") and int(d["id"]) != int(claim.record_id)]
            if drafts:
                break
        if not drafts:
            self.ledger.mark_planned(claim.key)
            return None
        draft = await self._call(claim.key, "get", self.client.get, int(drafts[0]["id"]))
        self._drafts[claim.key] = draft
        self.ledger.mark_created(claim.key, deposition_id=int(draft["id"]), bucket_url=_bucket(draft), record=draft)
        return int(draft["id"])

    async def _align_files(self, claim: Any) -> Any:
        """Make a draft (a new version's, or an unpublished one whose source changed) hold exactly the
        wanted files: keep those whose content is unchanged, delete the rest. Works from the draft's own
        list, so it is safe to repeat."""
        draft = self._drafts.pop(claim.key, None) or await self._call(claim.key, "get", self.client.get,
                                                                      claim.deposition_id)
        present = {str(f.get("filename") or f.get("key")): str(f.get("checksum", "")).removeprefix("md5:")
                   for f in draft.get("files") or []}
        wanted = {}
        for spec in claim.files:
            md5 = spec.md5 or await asyncio.to_thread(md5_of, spec.path)
            wanted[spec.name] = md5
            if present.get(spec.name) == md5 and not spec.uploaded:
                self.ledger.mark_file_present(claim.key, spec.name, md5=md5)
        bucket = on_target(claim.bucket_url, self.client.api_url) or _bucket(draft)
        for name, md5 in present.items():
            if wanted.get(name) != md5:
                await self._call(claim.key, "delete-file", self.client.delete_file, bucket, name)
        return self.ledger.get(claim.key)

    async def _upload(self, claim: Any) -> None:
        if claim.op in ("version", "update"):  # a draft that may hold files already
            claim = await self._align_files(claim)
        bucket = on_target(claim.bucket_url, self.client.api_url)  # the ledger keeps the path only
        if not bucket and any(not f.uploaded for f in claim.files):
            deposition = await self._call(claim.key, "get", self.client.get, claim.deposition_id)
            bucket = _bucket(deposition)
        for spec in claim.files:
            if spec.uploaded:
                continue
            upload = await self._call(claim.key, "upload", self.client.put_file, bucket, spec.name, Path(spec.path))
            self.stats.bytes_sent += upload.size
            self.ledger.mark_file_uploaded(claim.key, spec.name, server_checksum=f"md5:{upload.md5}",
                                           md5=upload.md5, sha256=upload.sha256, size=upload.size)
        if claim.pending_put:
            # newversion drops publication_date and version; an edit carries the new metadata.
            await self._call(claim.key, "update", self.client.update, claim.deposition_id, claim.metadata)
            self.ledger.mark_metadata_sent(claim.key)
        self.ledger.mark_ready(claim.key)

    async def _drop_refused_draft(self, claim: Any) -> None:
        """The repository refused an edit or a new version: discard its draft so the published record stays
        as it was (and a later sync can start clean). A failed discard is left for the next run."""
        if claim.op not in ("edit", "version") or claim.deposition_id is None:
            return
        try:
            await self._call(claim.key, "discard", self.client.action, claim.deposition_id, "discard")
        except (HTTPStatusError, TransportError):
            return
        self.ledger.mark_draft_dropped(claim.key)

    async def _publish(self, claim: Any) -> None:
        self.ledger.mark_uncertain(claim.key, "publish")
        try:
            record = await self._call(claim.key, "publish", self.client.publish, claim.deposition_id)
        except (TransportError, HTTPStatusError) as exc:
            if _definitely_not_done(exc):
                self.ledger.mark_uploaded(claim.key)
            raise
        self._published(claim.key, record)

    def _published(self, key: str, record: dict[str, Any]) -> None:
        self.ledger.mark_published(key, doi=record.get("doi"), concept_doi=record.get("conceptdoi"),
                                   record_url=(record.get("links") or {}).get("html"), record=record)
        self.stats.done += 1

    # -- probes ---------------------------------------------------------------------------------------
    async def _settle(self, claim: Any) -> str | None:
        """Decide what an uncertain step really did; returns the state to go on from (None: done)."""
        self.stats.probes += 1
        if claim.step == "publish":
            deposition = await self._call(claim.key, "probe", self.client.get, claim.deposition_id)
            # "done": published with no open draft. An edit is "inprogress" (and submitted) until published.
            done = deposition.get("state") == "done" if "state" in deposition else deposition.get("submitted")
            if done and deposition.get("doi"):
                self._published(claim.key, deposition)
                return None
            self.ledger.mark_uploaded(claim.key)
            return "uploaded"
        if claim.step == "newversion":
            await asyncio.sleep(self.settings.probe_delay)
            return "created" if await self._adopt_version_draft(claim) is not None else "planned"
        # An uncertain create: give the repository's search time to catch up, then look for the key.
        await asyncio.sleep(self.settings.probe_delay)
        found = await self.find_by_keys([claim.key])
        matches = found.get(claim.key, [])
        if not matches:  # not listed yet, or not created: a second, later look tells them apart
            await asyncio.sleep(self.settings.probe_recheck)
            matches = (await self.find_by_keys([claim.key])).get(claim.key, [])
        if not matches:
            self.ledger.mark_planned(claim.key)
            return "planned"
        keep = min(matches, key=lambda d: int(d["id"]))
        for extra in matches:
            if extra is not keep and not extra.get("submitted"):
                await self._call(claim.key, "discard", self.client.action, int(extra["id"]), "discard")
        full = await self._call(claim.key, "get", self.client.get, int(keep["id"]))
        if full.get("submitted"):
            self.ledger.mark_created(claim.key, deposition_id=int(full["id"]), bucket_url=_bucket(full), record=full)
            self._published(claim.key, full)
            return None
        self.ledger.mark_created(claim.key, deposition_id=int(full["id"]), bucket_url=_bucket(full), record=full)
        return "created"

    async def settle_uncertain_creates(self) -> None:
        """Settle every create a crash left uncertain with batched listing queries (20 keys a request),
        instead of one search per record against Zenodo's 30/min search budget."""
        keys = self.ledger.uncertain_keys("create")
        if not keys:
            return
        await asyncio.sleep(self.settings.probe_delay)
        found = await self.find_by_keys(keys)
        unseen = [k for k in keys if not found.get(k)]
        if unseen:  # not listed yet, or not created: a second, later look tells them apart
            await asyncio.sleep(self.settings.probe_recheck)
            found.update(await self.find_by_keys(unseen))
        for key in keys:
            self.stats.probes += 1
            matches = sorted(found.get(key, []), key=lambda d: int(d["id"]))
            if not matches:
                self.ledger.mark_planned(key)
                continue
            keep = matches[0]
            for extra in matches[1:]:
                if not extra.get("submitted"):
                    await self._call(key, "discard", self.client.action, int(extra["id"]), "discard")
            full = await self._call(key, "get", self.client.get, int(keep["id"]))
            self.ledger.mark_created(key, deposition_id=int(full["id"]), bucket_url=_bucket(full), record=full)
            if full.get("submitted"):
                self._published(key, full)

    async def find_by_keys(self, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The account's depositions carrying each key as an alternate identifier (batched OR queries)."""
        out: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
        wanted = {k.lower(): k for k in keys}
        for i in range(0, len(keys), PROBE_BATCH):
            batch = keys[i:i + PROBE_BATCH]
            q = " OR ".join(f'alternate.identifier:"{_escape(k)}"' for k in batch)
            hits = await self._call(None, "probe", self.client.list_depositions, q=q, size=100, all_versions=True)
            for hit in hits:
                for rel in (hit.get("metadata") or {}).get("related_identifiers") or []:
                    original = wanted.get(str(rel.get("identifier", "")).lower())
                    if original is not None and rel.get("relation") == "isAlternateIdentifier":
                        out[original].append(hit)
        return out

    # -- one request with low-level retries -----------------------------------------------------------
    async def _call(self, key: str | None, step: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one client call; retry in place what is safe to repeat (not create/publish)."""
        repeatable = step not in {"create", "publish", "newversion"}
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                result = await fn(*args, **kwargs)
                self.ledger.record_attempt(key, step, 200, None, time.perf_counter() - started)
                return result
            except (HTTPStatusError, TransportError) as exc:
                exc.step = step
                status = getattr(exc, "status", None)
                self.ledger.record_attempt(key, step, status, str(exc)[:500], time.perf_counter() - started)
                decision = classify(exc if status is None else status, getattr(exc, "headers", None), now=time.time())
                if not repeatable or decision.action != Decision.RETRY or attempt >= self.settings.low_level_retries:
                    raise
                attempt += 1
                self.stats.retries += 1
                await asyncio.sleep(backoff(attempt, base=self.settings.backoff_base / 2, cap=30.0,
                                            retry_after=decision.retry_after))


def _definitely_not_done(exc: BaseException) -> bool:
    """True when the server certainly did nothing: a 4xx answer, or a connection that never opened."""
    if isinstance(exc, TransportError):
        return not exc.sent
    status = getattr(exc, "status", 500)
    return 400 <= status < 500 and status not in (408, 409, 429)


def _bucket(deposition: dict[str, Any]) -> str:
    return str((deposition.get("links") or {}).get("bucket") or "")


def _escape(key: str) -> str:
    return key.replace("\\", "\\\\").replace('"', '\\"')


def _describe(exc: ValidationError) -> str:
    parts = [f"{e.get('field')}: {' '.join(e.get('messages') or [e.get('message', '')])}" for e in exc.errors]
    return f"{exc}: " + "; ".join(parts) if parts else str(exc)



def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _utcnow() -> datetime:
    return datetime.now(UTC)
