"""I/O: the checks' client (verify, reconcile): requests that are safe to repeat, retried by the run's policy.

A verify of 281,372 records sends as many GETs; at the pilot's 0.2 % of failed GETs, a check that stops
at the first 502 never finishes. Here every request goes through the run's rate limiter (the
``RepositoryClient`` it wraps), a transient answer (what ``policy.classify`` calls RETRY: 408, 429,
5xx, no answer) is retried after ``policy.backoff`` (which honours Retry-After), up to
``low_level_retries`` times, and a run of failures (an outage, including the 2019 incident's 404s
for records that exist) opens the breaker: every checker waits, one probe goes, then all resume.
What to do when the retries are spent is the caller's choice (verify checks the record again later).
An outage longer than ``max_outage`` (no answer but failures, breaker open all along; ``first_contact``
if nothing ever succeeded: a wrong URL) raises ``Unavailable``: a check of a server that is gone stops,
it does not probe it for ever.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from depot.deposit.breaker import Breaker
from depot.deposit.client import RepositoryClient
from depot.deposit.errors import DepotError, HTTPStatusError, TransportError
from depot.deposit.policy import Decision, backoff, classify

T = TypeVar("T")


@dataclass(frozen=True)
class Patience:
    """How hard to try; the defaults are those of ``depot run`` (see ``Runner._call``)."""

    low_level_retries: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_outage: float = 600.0  # seconds the breaker may stay open before the check gives up
    first_contact: float = 60.0  # the same, before any request succeeded (a wrong URL or port, a server down)


class Unavailable(DepotError):
    """Raised when the repository has failed every request for longer than ``Patience.max_outage``."""


@dataclass
class CheckStats:
    requests: int = 0
    retries: int = 0
    errors: int = 0
    paused_s: float = 0.0


class PatientClient:
    """Reads (and discards) against a repository, with retries, pacing and an outage breaker."""

    def __init__(self, client: RepositoryClient, patience: Patience | None = None, *,
                 breaker: Breaker | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.client = client
        self.patience = patience or Patience()
        self.breaker = breaker or Breaker()
        self.clock = clock
        self.sleep = sleep
        self.stats = CheckStats()
        self._last_success = clock()  # a server that fails from the start is given first_contact
        self._answered = False

    async def get(self, deposition_id: int) -> dict[str, Any]:
        """A deposition that the ledger says exists: a 404 counts as a sign of an outage."""
        return await self.call("get", self.client.get, deposition_id, missing_is_failure=True)

    async def list_depositions(self, *, q: str | None = None, page: int = 1, size: int = 100,
                               sort: str = "mostrecent", all_versions: bool = False) -> list[dict[str, Any]]:
        return await self.call("list", self.client.list_depositions, q=q, page=page, size=size, sort=sort,
                               all_versions=all_versions)

    async def discard(self, deposition_id: int) -> None:
        """Discard a draft; gone after a retry means a lost answer to the first try, so it is done."""
        await self.call("discard", self.client.action, deposition_id, "discard", gone_ok_after_retry=True)

    async def call(self, step: str, fn: Callable[..., Awaitable[T]], *args: Any, missing_is_failure: bool = False,
                   gone_ok_after_retry: bool = False, **kwargs: Any) -> T:
        attempt = 0
        while True:
            await self._wait_for_breaker()
            self.stats.requests += 1
            try:
                result = await fn(*args, **kwargs)
            except (HTTPStatusError, TransportError) as exc:
                status = exc.status if isinstance(exc, HTTPStatusError) else None
                decision = classify(exc if status is None else status, getattr(exc, "headers", None), now=time.time())
                self.stats.errors += 1
                if status != 429:  # the rate limiter handles those; they say nothing of the server's health
                    outage = decision.action == Decision.RETRY or (missing_is_failure and status == 404)
                    self.breaker.record(not outage, self.clock())
                if gone_ok_after_retry and attempt and status in (404, 410):
                    return None  # type: ignore[return-value]
                if decision.action != Decision.RETRY or attempt >= self.patience.low_level_retries:
                    exc.step = step
                    raise
                attempt += 1
                self.stats.retries += 1
                await self.sleep(backoff(attempt, base=self.patience.backoff_base, cap=self.patience.backoff_cap,
                                         retry_after=decision.retry_after))
            else:
                self.breaker.record(True, self.clock())
                self._last_success = self.clock()
                self._answered = True
                return result

    async def _wait_for_breaker(self) -> None:
        while not self.breaker.allow(self.clock()):
            down = self.clock() - self._last_success
            if down > (self.patience.max_outage if self._answered else self.patience.first_contact):
                raise Unavailable(f"the repository has answered no request for {down:.0f} s "
                                  f"({self.stats.errors} errors); what was checked is kept: run the command "
                                  "again later to go on")
            pause = max(0.05, min(self.breaker.resume_at() - self.clock(), 1.0))
            self.stats.paused_s += pause
            await self.sleep(pause)
