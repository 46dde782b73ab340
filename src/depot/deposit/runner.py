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
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from depot.deposit.breaker import CLOSED, Breaker
from depot.deposit.client import Reply, RepositoryClient
from depot.deposit.concurrency import AdaptiveLimit
from depot.deposit.errors import (
    AuthError,
    DepotError,
    FileChangedError,
    HTTPStatusError,
    IntegrityError,
    LedgerError,
    TransportError,
    ValidationError,
)
from depot.deposit.ledger import Claim, Ledger, State
from depot.deposit.ledger.journal import Journal
from depot.deposit.policy import NON_REPEATABLE, Decision, ambiguous, backoff, classify, in_place_delay, rule_for
from depot.deposit.probes import Probes
from depot.deposit.progress import Stats
from depot.deposit.ratelimit import LimiterStopped
from depot.deposit.resumable import Resumable
from depot.deposit.run_settings import RunSettings
from depot.deposit.search_lag import SearchLag
from depot.deposit.uploads import Uploads, bucket_of
from depot.processes import pid_alive


class FatalRunError(DepotError):
    """Raised when the run cannot go on at all (bad credentials, a broken ledger); nothing is marked failed."""


class Runner(Uploads, Probes):
    def __init__(self, ledger: Ledger, client: RepositoryClient, settings: RunSettings, stats: Stats, *,
                 clock: Callable[[], float] = time.monotonic, tick: Callable[[], None] | None = None) -> None:
        self.ledger = Journal(ledger)  # every ledger call awaited, written by one thread (group commit)
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
        self._settling = 0  # crash-left uncertain creates being settled beside the workers
        self._drafts: dict[str, dict[str, Any]] = {}  # a new version's draft as newversion returned it
        self._looked: set[str] = set()  # uncertain creates/newversions looked for once, not found yet
        self._listed: dict[str, list[dict[str, Any]]] = {}  # due uncertain creates listed with another's probe
        self.lag = SearchLag()  # when a miss in the listing proves a lost create made nothing
        self._released: asyncio.Event | None = None
        self.more_coming: Callable[[], bool] = lambda: False  # planning still writes records (plan_stream)
        client.on_reply = self._observe
        self.resumable = Resumable(client, chunk=settings.resumable_chunk, retries=settings.low_level_retries)

    # -- the loop ------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Work until nothing is ready, or stop() is called, or a fatal error occurs."""
        self._released = asyncio.Event()
        await self.ledger.release_dead_leases(socket.gethostname(), pid_alive)
        # Creates a crash left uncertain are settled in one batched probe, beside the workers: leased
        # here first, so no worker takes them meanwhile.
        crash_left = await self.ledger.lease(await self.ledger.uncertain_keys("create"), owner=self.owner,
                                       lease_seconds=self.settings.lease_seconds, now=_utcnow())
        tasks = [asyncio.create_task(self._worker(i)) for i in range(self.settings.transfers)]
        if crash_left:
            self._settling = len(crash_left)
            tasks.append(asyncio.create_task(self._settle_crash_left(crash_left)))
        try:
            await asyncio.gather(*tasks)
        except LimiterStopped:
            self.stopping = True  # the crash-left probe was waiting for the rate limit when stopped
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)  # their releases, before the writer stops
            await self.ledger.close()
        if self.fatal is not None:
            raise FatalRunError(str(self.fatal)) from self.fatal

    def stop(self) -> None:
        self.stopping = True
        self._wake()

    def _wake(self) -> None:
        """A record was released (or planned): idle workers look for work again at once."""
        if self._released is not None:
            self._released.set()
            self._released = asyncio.Event()

    async def _idle(self, seconds: float) -> None:
        """Wait until a record is released, or ``seconds`` (a retry_at coming due)."""
        event = self._released
        if event is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=max(0.01, seconds))

    async def _worker(self, index: int) -> None:
        idle_rounds = 0
        while not self.stopping and self.fatal is None:
            if not await self._gate():
                continue
            claims = await self.ledger.claim(1, owner=self.owner, lease_seconds=self.settings.lease_seconds,
                                             now=_utcnow(), guard_create=True)
            if not claims:
                wait = await self.ledger.next_ready_in(now=_utcnow())
                if wait is None and self._in_flight == 0 and not self._settling and not self.more_coming():
                    idle_rounds += 1
                    if idle_rounds > 2:
                        return  # nothing left to do by anyone
                # Records in flight or backing off may come back any moment: wait for a release or a due time.
                await self._idle(min(wait if wait is not None else 0.2, 1.0))
                continue
            idle_rounds = 0
            self._in_flight += 1
            try:
                await self._process(claims[0])
            except LimiterStopped:
                return  # stopped while waiting for the rate limit: that request was never sent
            except (AuthError, FatalRunError, LedgerError) as exc:
                self.fatal = exc
                self._wake()
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
            await self._idle(0.25)
            return False
        return True

    def _observe(self, step: str, reply: Reply | None, error: BaseException | None) -> None:
        self.stats.requests += 1
        outcome: int | BaseException = reply.status if reply is not None else (error or TransportError(step))
        if reply is None or reply.status >= 400:
            self.stats.error(reply.status if reply is not None else None)
        rule = rule_for(outcome)
        if reply is not None and reply.status == 429:
            # The rate limiter paces these; they say the server is busy, not broken.
            self.limit.record(reply.seconds, overload=True)
            return
        self.breaker.record(not rule.server_failure, self.clock())
        self.limit.record(reply.seconds if reply is not None else None, overload=rule.overload,
                          failed=rule.server_failure, in_flight=max(1, self._in_flight))

    # -- one specimen --------------------------------------------------------------------------------
    async def _process(self, claim: Claim) -> None:
        key = claim.key
        try:
            await self._advance(claim)
        except IntegrityError as exc:
            await self._back_off(key, "upload", None, f"checksum mismatch: {exc}")
        except FileChangedError as exc:
            await self._fail(key, "upload", None, str(exc))
        except ValidationError as exc:
            await self._drop_refused_draft(await self.ledger.get(key))
            await self._fail(key, exc.step or "publish", exc.status, _describe(exc))
        except (HTTPStatusError, TransportError) as exc:
            await self._after_error(key, exc)
        finally:
            await self.ledger.release(key, self.owner)
            self._wake()

    async def _advance(self, claim: Claim) -> None:
        """Walk the specimen as far as it goes: settle, create (or edit/newversion), upload, publish."""
        key = claim.key
        state: State | None = claim.state
        if state is State.UNCERTAIN:
            state = await self._settle(claim)
            if state is None:
                return  # published, or a second look is due later
            if claim.attempts >= self.settings.retries and claim.step != "reconcile":
                # Settled as not done, after its last try: it fails now (a later pass starts it cleanly).
                await self._fail(key, claim.step or "?", claim.last_status, claim.last_error or "no answer")
                return
            claim = await self.ledger.get(key)
        if state is State.PLANNED:
            start = {"edit": self._edit, "version": self._new_version}.get(claim.op or "", self._create)
            await start(claim)
            claim = await self.ledger.get(key)
            state = claim.state
        if state is State.CREATED:
            await self._upload(claim)
            claim = await self.ledger.get(key)
            state = claim.state
        if state is State.UPLOADED:
            await self._publish(claim)

    async def _after_error(self, key: str, exc: HTTPStatusError | TransportError) -> None:
        """Act on the policy table's verdict for a failed request (its step is ``exc.step``)."""
        verdict = classify(exc, now=time.time())
        status = exc.status if isinstance(exc, HTTPStatusError) else None
        step = exc.step or "?"
        if verdict.action is Decision.FATAL:
            raise exc
        if verdict.action is Decision.NO_RETRY:
            await self._fail(key, step, status, str(exc))
            return
        if verdict.action is Decision.RECONCILE:
            row = await self.ledger.get(key)
            if row.deposition_id is not None and row.op in (None, "update") and row.state is not State.UNCERTAIN:
                # The deposition is not what we think (gone, or in another state): a probe reads it back.
                await self.ledger.mark_uncertain(key, "reconcile")
        # A server failure met while the breaker is open (this one tripped it, or it answered a probe) is the
        # outage's, not the record's: it costs none of the record's tries, or a long outage would burn the
        # records that happen to carry its probes, as the 2019 pilot's burnt 5,759.
        outage = verdict.rule.server_failure and self.breaker.state != CLOSED
        await self._back_off(key, step, status, str(exc), verdict.retry_after, outage=outage)

    async def _fail(self, key: str, step: str, status: int | None, message: str) -> None:
        await self.ledger.mark_failed(key, step=step, status=status, message=message)
        self.stats.note_failed(key, step, status, message)

    async def _back_off(self, key: str, step: str, status: int | None, message: str,
                        retry_after: float | None = None, outage: bool = False) -> None:
        """Release the record to come back later (its slot takes other work meanwhile), or fail it when
        its tries are used up. A record whose step may have happened is never failed before a probe; one
        that met an outage comes back once the breaker lets work through, with its tries untouched."""
        row = await self.ledger.get(key)
        uncertain = row.state is State.UNCERTAIN and row.step != "reconcile"
        if outage and not (uncertain and row.step in ("create", "newversion")):
            delay = max(0.05, self.breaker.resume_at() - self.clock())
            self.stats.note_retry(key, step, status, delay)
            await self.ledger.defer(key, retry_at=_utcnow() + timedelta(seconds=delay))
            return
        if row.attempts >= self.settings.retries and not uncertain:
            await self._fail(key, step, status, message)
            return
        if uncertain and row.step in ("create", "newversion"):
            # Zenodo's search lags writes: look for the deposition only once it can be listed.
            self.lag.observe(self.client.search_lag)
            first_look = self.lag.first_look_in(key, self.clock(), self.settings.probe_delay)
            delay = max(first_look, retry_after or 0.0)
        elif uncertain:
            # A publish is read back directly (no search involved): soon, growing if the server keeps failing.
            delay = backoff(row.attempts, base=self.settings.backoff_base / 8, cap=self.settings.backoff_cap,
                            retry_after=retry_after)
        else:
            delay = backoff(row.attempts, base=self.settings.backoff_base, cap=self.settings.backoff_cap,
                            retry_after=retry_after)
        self.stats.note_retry(key, step, status, delay)
        await self.ledger.mark_retry(key, step=step, status=status, message=message,
                               retry_at=_utcnow() + timedelta(seconds=delay))

    async def _create(self, claim: Claim) -> None:
        # Record the intent first: if we die or lose the answer, the row says "look before creating".
        await self.ledger.mark_uncertain(claim.key, "create")
        try:
            deposition = await self._call(claim.key, "create", self.client.create, claim.metadata)
        except (TransportError, HTTPStatusError, LimiterStopped) as exc:
            if not ambiguous("create", exc):  # a 4xx, a refused connection, a stop before sending
                await self.ledger.mark_planned(claim.key)
            else:
                self.lag.lost(claim.key, self.clock(), timed_out=isinstance(exc, TransportError) and exc.timed_out)
            raise
        await self.ledger.mark_created(claim.key, deposition_id=int(deposition["id"]),
                                 bucket_url=bucket_of(deposition), record=deposition)

    async def _edit(self, claim: Claim) -> None:
        """Open the published record for editing (repeatable: a second edit returns the same draft)."""
        assert claim.record_id is not None
        deposition = await self._call(claim.key, "edit", self.client.action, claim.record_id, "edit")
        await self.ledger.mark_created(claim.key, deposition_id=claim.record_id,
                                 bucket_url=bucket_of(deposition or {}), record=deposition)

    async def _new_version(self, claim: Claim) -> None:
        assert claim.record_id is not None
        await self.ledger.mark_uncertain(claim.key, "newversion")
        try:
            draft = await self._call(claim.key, "newversion", self.client.action, claim.record_id, "newversion")
        except ValidationError:
            # "Please remove all files first.": the concept already has an unpublished new version (ours,
            # from a run that lost the answer). Find it and carry on with it.
            if await self._adopt_version_draft(claim) is None:
                await self.ledger.mark_planned(claim.key)
                raise
            return
        except (TransportError, HTTPStatusError, LimiterStopped) as exc:
            if not ambiguous("newversion", exc):
                await self.ledger.mark_planned(claim.key)
            raise
        assert draft is not None
        if int(draft["id"]) == int(claim.record_id):
            # Legacy Zenodo answered with the original deposition and the draft under links.latest_draft.
            latest = str((draft.get("links") or {}).get("latest_draft", "")).rstrip("/").rsplit("/", 1)[-1]
            draft = await self._call(claim.key, "get", self.client.get, int(latest))
        self._drafts[claim.key] = draft
        await self.ledger.mark_created(claim.key, deposition_id=int(draft["id"]), bucket_url=bucket_of(draft),
                                       record=draft)

    async def _adopt_version_draft(self, claim: Claim, looks: tuple[float, ...] | None = None) -> int | None:
        """Find a newversion's draft whose answer was lost: the concept's unpublished draft, if there is
        one (looked for at each of ``looks`` seconds, by default twice ``probe_recheck`` apart, as the
        search index may not list it yet). None, and the ledger row left as it is, if none is listed."""
        assert claim.record_id is not None
        drafts: list[dict[str, Any]] = []
        for wait in looks or (0.0, self.settings.probe_recheck):
            await asyncio.sleep(wait)
            found = await self.find_by_keys([claim.key])
            drafts = [d for d in found.get(claim.key, [])
                      if not d.get("submitted") and int(d["id"]) != int(claim.record_id)]
            if drafts:
                break
        if not drafts:
            return None
        draft = await self._call(claim.key, "get", self.client.get, int(drafts[0]["id"]))
        self._drafts[claim.key] = draft
        await self.ledger.mark_created(claim.key, deposition_id=int(draft["id"]), bucket_url=bucket_of(draft),
                                       record=draft)
        return int(draft["id"])

    async def _drop_refused_draft(self, claim: Claim) -> None:
        """The repository refused an edit or a new version: discard its draft so the published record stays
        as it was (and a later sync can start clean). A failed discard is left for the next run."""
        if claim.op not in ("edit", "version") or claim.deposition_id is None:
            return
        try:
            await self._call(claim.key, "discard", self.client.action, claim.deposition_id, "discard")
        except (HTTPStatusError, TransportError):
            return
        await self.ledger.mark_draft_dropped(claim.key)

    async def _publish(self, claim: Claim) -> None:
        await self.ledger.mark_uncertain(claim.key, "publish")
        try:
            record = await self._call(claim.key, "publish", self.client.publish, claim.deposition_id)
        except (TransportError, HTTPStatusError, LimiterStopped) as exc:
            if not ambiguous("publish", exc):
                await self.ledger.mark_uploaded(claim.key)
            raise
        await self._published(claim.key, record)

    async def _created(self, key: str, deposition: dict[str, Any]) -> None:
        """The specimen's deposition, as the server answered it (found by a probe, or read back)."""
        await self.ledger.mark_created(key, deposition_id=int(deposition["id"]), bucket_url=bucket_of(deposition),
                                 record=deposition)

    async def _published(self, key: str, record: dict[str, Any]) -> None:
        await self.ledger.mark_published(key, doi=record.get("doi"), concept_doi=record.get("conceptdoi"),
                                   record_url=(record.get("links") or {}).get("html"), record=record)
        self.stats.note_published(key, record.get("doi"))

    # -- one request with low-level retries -----------------------------------------------------------
    async def _call(self, key: str | None, step: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one client call; retry in place what the policy says is safe to repeat, and only while
        the wait is short (a longer one releases the record instead, see policy.in_place_delay)."""
        attempt = 0
        while True:
            started = time.perf_counter()
            if key is not None:
                self.stats.note_attempt(key)
            try:
                result = await fn(*args, **kwargs)
                self.ledger.record_attempt(key, step, 200, None, time.perf_counter() - started)
                return result
            except (HTTPStatusError, TransportError) as exc:
                exc.step = step
                status = exc.status if isinstance(exc, HTTPStatusError) else None
                self.ledger.record_attempt(key, step, status, str(exc)[:500], time.perf_counter() - started)
                verdict = classify(exc, now=time.time())
                if step in NON_REPEATABLE or verdict.action is not Decision.RETRY \
                        or attempt >= self.settings.low_level_retries:
                    raise
                delay = in_place_delay(attempt + 1, verdict.retry_after)
                if delay is None:
                    raise
                attempt += 1
                self.stats.retries += 1
                await asyncio.sleep(delay)


def _describe(exc: ValidationError) -> str:
    parts = [f"{e.get('field')}: {' '.join(e.get('messages') or [e.get('message', '')])}" for e in exc.errors]
    return f"{exc}: " + "; ".join(parts) if parts else str(exc)



def _utcnow() -> datetime:
    return datetime.now(UTC)
