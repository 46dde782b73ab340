"""I/O: ``depot verify``'s pass: re-read every published record, compare it with the ledger, remember it.

Records are read by ``checkers`` concurrent workers through a ``PatientClient`` (the run's retries,
pacing and outage breaker). A record that agrees becomes ``verified`` in the ledger, in batches, so a
verify that is interrupted resumes where it stopped, and a finished one is not repeated unless
``again``. A record that could not be read (its retries spent, or a 404 for a record the ledger says
is published: the 2019 outage answered 404 for everything) is not a verdict: it is read again after
the pass, in up to ``rounds`` rounds spaced by a growing pause, and only then reported.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from depot.deposit.errors import AuthError, HTTPStatusError, TransportError
from depot.deposit.ledger import Claim, Ledger
from depot.deposit.ledger.states import State
from depot.deposit.patient import PatientClient, Unavailable
from depot.deposit.policy import Decision, backoff, classify
from depot.deposit.reconcile import differences

# Verified keys are written in one transaction per 200, or per second: a crash re-reads at most these.
FLUSH_EVERY = 200
FLUSH_SECONDS = 1.0


@dataclass
class VerifyResult:
    checked: int = 0  # distinct records read in this pass
    verified: int = 0
    differ: int = 0
    verified_before: int = 0  # skipped: verified by an earlier pass
    missing: list[str] = field(default_factory=list)  # 404 in every round
    unchecked: list[tuple[str, str]] = field(default_factory=list)  # (key, last error) after every round
    gave_up: str | None = None  # why the pass stopped early (the repository stayed down)
    not_read: int = 0  # records left unread when it did

    def summary(self) -> str:
        text = f"verified {self.verified} of {self.checked} published records; {self.differ} differ"
        if self.missing:
            text += f"; {len(self.missing)} not found"
        if self.unchecked:
            text += f"; {len(self.unchecked)} could not be read (run depot verify again later)"
        if self.gave_up:
            text += f"; stopped with {self.not_read} not read: {self.gave_up}"
        if self.verified_before:
            text += f" ({self.verified_before} verified before: --again checks them too)"
        return text


@dataclass
class Verifier:
    ledger: Ledger
    client: PatientClient
    out: TextIO
    checkers: int = 8
    rounds: int = 3  # extra passes over what could not be read
    round_pause: float = 10.0  # base of the pause before each extra round (doubling, capped at 300 s)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    progress: Callable[[VerifyResult, int], None] | None = None  # (so far, records to check in all)
    result: VerifyResult = field(default_factory=VerifyResult)
    _agreed: list[str] = field(default_factory=list)
    _deferred: list[tuple[Claim, int | None, str]] = field(default_factory=list)

    async def run(self, *, again: bool = False) -> VerifyResult:
        if again:
            self.ledger.forget_verified()
        counts = self.ledger.counts_by_state()
        self.result.verified_before = counts.get(State.VERIFIED, 0)
        total = counts.get(State.PUBLISHED, 0)
        try:
            await self._check_all(self.ledger.iter_to_verify(), total)
            for round_number in range(self.rounds):
                if not self._deferred:
                    break
                pending, self._deferred = self._deferred, []
                await self.sleep(backoff(round_number, base=self.round_pause, cap=300.0))
                await self._check_all(iter([[claim for claim, _status, _why in pending]]), total)
        except Unavailable as exc:
            self.result.gave_up = str(exc)
            self.result.not_read = total - self.result.checked - len(self._deferred)
        finally:
            self._flush()
        for claim, status, why in self._deferred:
            if status == 404 and not self.result.gave_up:  # a 404 in an outage that outlasted us says nothing
                self.result.missing.append(claim.key)
                self.out.write(f"- {claim.key}: not found on the repository (deposition {claim.deposition_id}, "
                               "HTTP 404)\n")
            else:
                self.result.unchecked.append((claim.key, why))
                self.out.write(f"? {claim.key}: could not be read: {why}\n")
        return self.result

    async def _check_all(self, pages: Iterator[list[Claim]], total: int) -> None:
        queue: asyncio.Queue[Claim | None] = asyncio.Queue(maxsize=self.checkers * 4)

        async def feed() -> None:
            for page in pages:
                for claim in page:
                    await queue.put(claim)
            for _ in range(self.checkers):
                await queue.put(None)

        async def work() -> None:
            while (claim := await queue.get()) is not None:
                await self._check(claim)
                if self.progress:
                    self.progress(self.result, total)

        async def flush_now_and_then() -> None:  # a paced verify agrees slowly: keep what it found anyway
            while True:
                await asyncio.sleep(FLUSH_SECONDS)
                self._flush()

        tasks = [asyncio.ensure_future(feed()), *(asyncio.ensure_future(work()) for _ in range(self.checkers))]
        flusher = asyncio.ensure_future(flush_now_and_then())
        try:
            await asyncio.gather(*tasks)
        finally:  # one checker's fatal error (a refused token, a repository gone) stops the others
            for task in [*tasks, flusher]:
                task.cancel()
            await asyncio.gather(*tasks, flusher, return_exceptions=True)

    async def _check(self, claim: Claim) -> None:
        assert claim.deposition_id is not None
        try:
            remote = await self.client.get(claim.deposition_id)
        except AuthError:
            raise  # the token: nothing else can be checked either
        except HTTPStatusError as exc:
            if exc.status == 404 or classify(exc.status).action == Decision.RETRY:
                self._deferred.append((claim, exc.status, str(exc)[:200]))  # retries spent: read it later
                return
            self.result.checked += 1
            self._differs(claim, [f"HTTP {exc.status}: {exc.message[:200]}"])
            return
        except TransportError as exc:
            self._deferred.append((claim, None, str(exc)[:200]))
            return
        self.result.checked += 1
        problems = differences(((f.name, f.md5) for f in claim.files), claim.metadata, claim.doi, remote)
        if problems:
            self._differs(claim, problems)
            return
        self.result.verified += 1
        self._agreed.append(claim.key)
        if len(self._agreed) >= FLUSH_EVERY:
            self._flush()

    def _differs(self, claim: Claim, problems: Iterable[str]) -> None:
        self.result.differ += 1
        self.out.write(f"* {claim.key}: {'; '.join(problems)}\n")

    def _flush(self) -> None:
        keys, self._agreed = self._agreed, []
        if keys:
            self.ledger.mark_verified_many(keys)


def progress_printer(err: TextIO, every: float = 60.0,
                     clock: Callable[[], float] = time.monotonic) -> Callable[[VerifyResult, int], None]:
    """A line on ``err`` at most every ``every`` seconds: how far, how fast, how long still."""
    started = clock()
    last = [started]

    def show(result: VerifyResult, total: int) -> None:
        now = clock()
        if now - last[0] < every:
            return
        last[0] = now
        done = result.checked
        rate = done / max(now - started, 1e-9)
        eta = f", about {_duration((total - done) / rate)} left" if rate > 0 and total > done else ""
        err.write(f"verify: {done} of {total} read ({rate * 60:.0f}/min), {result.differ} differ{eta}\n")
        err.flush()

    return show


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
