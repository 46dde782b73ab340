"""I/O: ``depot run --bulk``: specimens go to the repository's bulk-ingest API in batches (one BagIt bag each).

Each batch walks ``packing -> sent -> done`` in the ledger's ``batches`` table, and its specimens wait in state
``batched`` meanwhile (depot.deposit.ledger.batches). The batch id is made before anything is sent and
stays the batch's for good, and the server keeps one job per batch id and publishes a record key at most
once, so a kill -9 at any moment costs nothing: the next run asks the server for the job of each unsettled
batch id, sends the batch again only if the server never got it, and reads the per-record results.

Two batches are in flight at once: the next is packed and sent while the server publishes the last.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from depot.deposit.bulkbag import BatchRecord, write_batch
from depot.deposit.client import Reply, RepositoryClient
from depot.deposit.errors import AuthError, ConfigError, HTTPStatusError, TransportError
from depot.deposit.ledger import Claim, Ledger
from depot.deposit.ledger.batches import PACKING, Batch, BatchLedger, Outcome
from depot.deposit.ledger.values import now_iso
from depot.deposit.patient import Patience, Unavailable
from depot.deposit.policy import backoff, retry_after_seconds
from depot.deposit.progress import Stats
from depot.deposit.ratelimit import LimiterStopped

NO_BULK = ("{where} has no bulk-ingest API (POST /api/bulk is Depot's own; Zenodo and InvenioRDM have none): "
           "run without --bulk to deposit record by record, or deposit into a Depot repository")
IN_FLIGHT = 2  # batches sent and not settled: one being published while the next is packed and sent
RETRYABLE = frozenset({429, 500, 502, 503, 504})


class BulkRunner:
    def __init__(self, ledger: Ledger, client: RepositoryClient, stats: Stats, *, batch_size: int,
                 target_name: str, tick: Callable[[], None] | None = None, poll_seconds: float = 0.2,
                 work_dir: Path | None = None, max_outage: float = Patience.max_outage) -> None:
        self.ledger = ledger
        self.batches = BatchLedger(ledger)
        self.client = client
        self.stats = stats
        self.batch_size = batch_size
        self.target_name = target_name
        self.tick = tick or (lambda: None)
        self.poll_seconds = poll_seconds
        self.work_dir = work_dir
        self.max_outage = max_outage  # seconds without an answer before the run gives up (a restart, an outage)
        self.stopping = False
        self.more_coming: Callable[[], bool] = lambda: False
        self._forward = client.on_reply
        client.on_reply = self._observe

    def stop(self) -> None:
        self.stopping = True

    def _observe(self, step: str, reply: Reply | None, error: BaseException | None) -> None:
        """Each request of the bulk path is a row of the ledger's attempts, as the per-record path's are:
        `depot status` and the reports count requests there (they said "0 requests" after a bulk run)."""
        status = reply.status if reply is not None else None
        failure = None if status is not None and status < 400 else str(error or f"HTTP {status}")[:500]
        self.ledger.record_attempt(None, step, status, failure, reply.seconds if reply is not None else 0.0)
        if self._forward is not None:
            self._forward(step, reply, error)

    def _wake(self) -> None:
        """Records were planned: the loop looks for a batch at its next turn (kept for DepositJob.wake)."""

    async def check_target(self) -> None:
        """ConfigError unless the target answers the bulk API (Zenodo, the sandbox, an InvenioRDM do not)."""
        if self.target_name in ("zenodo", "sandbox"):
            raise ConfigError(NO_BULK.format(where=f"the target {self.target_name}"))
        try:
            await self.client.request("bulk-probe", "GET", f"{self.client.api_url}/bulk",
                                      params={"batch_id": "depot-probe"}, expected=frozenset({404}))
        except AuthError:
            raise
        except HTTPStatusError as exc:
            if exc.status == 404 and "Bulk job does not exist" in str(exc):
                return
            raise ConfigError(NO_BULK.format(where=self.client.api_url)) from exc

    async def run(self) -> None:
        await self.check_target()
        with tempfile.TemporaryDirectory(prefix="depot-bulk-", dir=self.work_dir) as tmp:
            work = Path(tmp)
            for batch in await asyncio.to_thread(self.batches.open_batches):
                if self.stopping:
                    return
                await self._settle(batch, work)
            pending: set[asyncio.Task[None]] = set()
            try:
                while not self.stopping:
                    while len(pending) >= IN_FLIGHT:
                        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                        for task in done:
                            task.result()
                    batch_id = f"depot-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
                    claims = await asyncio.to_thread(self.batches.form, batch_id, self.batch_size, now_iso())
                    if not claims:
                        if pending:
                            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                            for task in done:
                                task.result()
                            continue
                        if self.more_coming():
                            await asyncio.sleep(0.2)
                            continue
                        break
                    claims = await self._without_changed_files(batch_id, claims)
                    if not claims:  # every one of them changed since it was planned: an empty batch, done
                        await asyncio.to_thread(self.batches.settle, batch_id, [])
                        continue
                    batch = Batch(batch_id, PACKING, len(claims), None)
                    job_url = await self._send(batch, claims, work)
                    if job_url is None:
                        break  # stopped, or the batch failed as a whole (settled already)
                    pending.add(asyncio.create_task(self._settle(Batch(batch_id, "sent", len(claims), job_url),
                                                                 work)))
                if pending:
                    await asyncio.gather(*pending)
            finally:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)

    # -- one batch -------------------------------------------------------------------------------------
    async def _without_changed_files(self, batch_id: str, claims: list[Claim]) -> list[Claim]:
        """The claims whose files are still the ones checked and planned; each other one fails alone, named
        (its bytes were never decoded nor compared with their checksum), before anything is packed."""
        changed = await asyncio.to_thread(_changed, claims)
        if not changed:
            return claims
        await asyncio.to_thread(self.batches.leave, batch_id, changed)
        for key, message in changed.items():
            self.stats.note_failed(key, "upload", None, message)
        return [c for c in claims if c.key not in changed]

    async def _send(self, batch: Batch, claims: list[Claim], work: Path) -> str | None:
        """Pack and POST the batch; the job's URL once the server has it (None: stopped, or refused)."""
        tar = work / f"{batch.id}.tar"
        hashes: dict[str, list[tuple[str, str, str, int]]] = {}
        records = [BatchRecord(c.key, c.metadata, tuple((f.name, Path(f.path)) for f in c.files)) for c in claims]
        try:
            await asyncio.to_thread(write_batch, tar, batch.id, records, hashes)
        except OSError as exc:  # a file gone or unreadable since planning: the specimens fail, named
            await asyncio.to_thread(self.batches.fail_all, batch.id, f"packing the batch failed: {exc}")
            for c in claims:
                self.stats.note_failed(c.key, "bulk", None, str(exc))
            return None
        await asyncio.to_thread(self.batches.record_hashes, hashes)
        try:
            down_since: float | None = None
            attempt = 0
            while not self.stopping:
                try:
                    with tar.open("rb") as body:
                        reply = await self.client.request(
                            "bulk", "POST", f"{self.client.api_url}/bulk", params={"batch_id": batch.id},
                            data=body, headers={"Content-Type": "application/x-tar"},
                            timeout=self.client.upload_timeout)
                    self.stats.bytes_sent += tar.stat().st_size
                    url = str(reply.headers.get("Location") or reply.body["links"]["self"])
                    await asyncio.to_thread(self.batches.mark_sent, batch.id, url)
                    return url
                except LimiterStopped:
                    return None
                except TransportError as exc:
                    # The answer was lost, or the server is down or restarting: it may have the batch. Ask
                    # before sending it again (the server keeps one job per batch id in any case); with no
                    # answer to that either, wait and try again, as for a 503.
                    found = await self._job_of_if_answered(batch.id)
                    if found is not None:
                        await asyncio.to_thread(self.batches.mark_sent, batch.id, found)
                        return found
                    failure: Exception = exc
                except HTTPStatusError as exc:
                    if isinstance(exc, AuthError):
                        raise
                    if exc.status not in RETRYABLE:
                        message = f"the repository refused the batch: HTTP {exc.status} {exc}" + (
                            "; try a smaller --batch-size" if exc.status == 413 else "")
                        await asyncio.to_thread(self.batches.fail_all, batch.id, message)
                        for c in claims:
                            self.stats.note_failed(c.key, "bulk", exc.status, message)
                        return None
                    failure = exc
                down_since = down_since or time.monotonic()
                await self._pause(down_since, attempt, failure, f"batch {batch.id}")
                attempt += 1
            return None  # stopped, left "packing": the next run asks the server, then sends it again
        finally:
            tar.unlink(missing_ok=True)

    async def _pause(self, down_since: float, attempt: int, failure: Exception, what: str) -> None:
        """Back off before trying again (the run's backoff: from 0.5 s to 30 s, at least a Retry-After), in
        short steps so that a stop is not kept waiting; Unavailable once the repository has failed for longer
        than ``max_outage``."""
        down = time.monotonic() - down_since
        if down > self.max_outage:
            raise Unavailable(f"the repository at {self.client.api_url} has failed every request for {down:.0f} s "
                              f"(last: {failure}); {what} is kept in the ledger, and the next run asks the "
                              "repository for it before sending anything again")
        headers = failure.headers if isinstance(failure, HTTPStatusError) else None
        delay = backoff(attempt, base=Patience.backoff_base, cap=Patience.backoff_cap,
                        retry_after=retry_after_seconds(headers, time.time()))
        end = time.monotonic() + min(delay, max(0.1, self.max_outage - down))
        while not self.stopping and time.monotonic() < end:
            await asyncio.sleep(min(0.2, end - time.monotonic()))

    async def _job_of_if_answered(self, batch_id: str) -> str | None:
        """``_job_of``, None when the repository gives no answer (down, restarting, overloaded)."""
        try:
            return await self._job_of(batch_id)
        except TransportError:
            return None
        except HTTPStatusError as exc:
            if isinstance(exc, AuthError) or exc.status not in RETRYABLE:
                raise
            return None

    async def _job_of(self, batch_id: str) -> str | None:
        try:
            reply = await self.client.request("bulk-find", "GET", f"{self.client.api_url}/bulk",
                                              params={"batch_id": batch_id}, expected=frozenset({404}))
        except HTTPStatusError as exc:
            if exc.status == 404:
                return None
            raise
        return str(reply.body["links"]["self"])

    async def _settle(self, batch: Batch, work: Path) -> None:
        """Bring a batch to its outcome: send it if the server never got it, then read its job to the end."""
        url = batch.job_url
        if url is None:
            url = await self._job_of_if_answered(batch.id)
            if url is None:
                claims = await asyncio.to_thread(self.batches.members, batch.id)
                if not claims:
                    await asyncio.to_thread(self.batches.settle, batch.id, [])
                    return
                url = await self._send(batch, claims, work)
                if url is None:
                    return
            else:
                await asyncio.to_thread(self.batches.mark_sent, batch.id, url)
        job = await self._wait(url)
        if job is None:
            return  # stopped: the next run reads the job
        if job["state"] == "failed":
            message = "the repository refused the batch: " + "; ".join(job.get("errors") or ["no reason given"])
            keys = [c.key for c in await asyncio.to_thread(self.batches.members, batch.id)]
            await asyncio.to_thread(self.batches.fail_all, batch.id, message)
            for key in keys:
                self.stats.note_failed(key, "bulk", None, message)
            self.tick()
            return
        outcomes = [_outcome(r) for r in job.get("records") or []]
        await asyncio.to_thread(self.batches.settle, batch.id, outcomes)
        for o in outcomes:
            if o.state in ("published", "exists"):
                self.stats.note_published(o.key, o.doi)
            elif o.state == "failed":
                self.stats.note_failed(o.key, "bulk", 400, o.message or "refused")
        self.tick()

    async def _wait(self, url: str) -> dict[str, Any] | None:
        """Poll the job until it is done or failed (None if the run is stopped first)."""
        delay = self.poll_seconds
        down_since: float | None = None
        attempt = 0
        while not self.stopping:
            try:
                reply = await self.client.request("bulk-job", "GET", url)
            except (TransportError, HTTPStatusError) as exc:
                if isinstance(exc, HTTPStatusError) and exc.status not in RETRYABLE:
                    raise
                down_since = down_since or time.monotonic()
                await self._pause(down_since, attempt, exc, f"the job {url}")
                attempt += 1
                continue
            down_since, attempt = None, 0
            body: dict[str, Any] = reply.body
            if body.get("state") in ("done", "failed"):
                return body
            self.tick()
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 2.0)
        return None


def _outcome(record: dict[str, Any]) -> Outcome:
    state = str(record.get("state"))
    return Outcome(str(record["key"]), state, record.get("id"), record.get("doi"), record.get("conceptdoi"),
                   (record.get("links") or {}).get("html"), record.get("message"))


def _changed(claims: list[Claim]) -> dict[str, str]:
    """key -> why, for each claim with a file that is not the one checked and planned."""
    out: dict[str, str] = {}
    for claim in claims:
        error = next((e for e in (f.changed() for f in claim.files) if e is not None), None)
        if error is not None:
            out[claim.key] = str(error)
    return out
