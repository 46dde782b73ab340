"""A deposit job without click: work through what a ledger has planned, against a target, in passes.

``depot run`` and ``depot sync`` are thin shells around this (they plan the source into the ledger,
show progress and turn the result into an exit code); an application or a test uses it directly::

    ledger = Ledger.open("deposit.sqlite3")
    ledger.plan(records)
    result = await DepositJob(ledger, JobSettings(target="https://zenodo.org/api")).run()
    result.code  # ExitCode.OK when everything planned is published

``session`` injects the HTTP transport (an ``aiohttp.ClientSession``: a test's, or an application's own
pool); the job never closes a session it was given.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from depot.deposit.client import RepositoryClient
from depot.deposit.communities import unknown_communities
from depot.deposit.errors import ConfigError, ExitCode, HTTPStatusError, TransportError
from depot.deposit.ledger import Ledger, State
from depot.deposit.ledger.states import DONE, WAITING
from depot.deposit.probes import PROBE_BATCH
from depot.deposit.progress import Stats
from depot.deposit.ratelimit import LimiterStopped, RateLimiter
from depot.deposit.rdm_client import make_client
from depot.deposit.run_settings import RunSettings
from depot.deposit.runner import Runner
from depot.deposit.targets import Target, open_target


@dataclass(frozen=True)
class JobSettings:
    """Where to deposit and how hard to try (the depositor's options, as ``depot run`` takes them)."""

    target: str = "local"  # local, zenodo, sandbox, or an API URL (https://host/api)
    api: str = "legacy"  # legacy (the deposit API) or rdm (InvenioRDM records API: depot.deposit.rdm_client)
    token_file: Path | None = None  # the token comes from DEPOT_TOKEN first
    repo_dir: Path = Path("depot-data")  # the embedded repository's data (target local)
    per_minute: int | None = None  # rate limit to assume before the server's headers say
    per_hour: int | None = None
    transfers: int = 8  # records in flight
    attempts: int = 3  # tries per record in a pass
    passes: int = 2  # further passes over retryable failures
    low_level_retries: int = 5  # in-place retries of one repeatable request
    source: str = ""  # recorded in the ledger's runs table
    profile: str = ""
    communities: tuple[str, ...] = ()  # the records' communities: each must exist on the target
    resumable_threshold: int = 64 * 1024 * 1024  # bytes: larger files go through tus where the target has it
    bulk: bool = False  # new records through the target's bulk-ingest API, in batches (depot.deposit.bulk)
    batch_size: int = 1000  # records per bulk batch
    # a ledger that never created anything looks for its first specimens on the target first, and stops
    # if they are there (a typo in --ledger, a lost ledger); True skips that look
    allow_duplicates: bool = False


@dataclass
class JobResult:
    """What a job left behind: the exit code ``depot run`` would give, and the ledger's counts."""

    code: ExitCode
    counts: dict[str, int]
    stats: Stats
    interrupted: bool = False

    @property
    def published(self) -> int:
        return sum(self.counts.get(s, 0) for s in DONE)

    @property
    def failed(self) -> int:
        return self.counts.get(State.FAILED, 0)

    @property
    def waiting(self) -> int:
        return sum(self.counts.get(s, 0) for s in WAITING)


def initial_stats(ledger: Ledger) -> Stats:
    """Counters for a run over this ledger: what is left to do, and what was published before."""
    counts = ledger.counts_by_state()
    stats = Stats(total=sum(counts.get(s, 0) for s in WAITING))
    stats.already = sum(counts.get(s, 0) for s in DONE)
    return stats


@dataclass
class DepositJob:
    """One run over a ledger. ``stop()`` (from a signal handler, say) stops claiming new work; records in
    flight finish their current request and the ledger stays resumable."""

    ledger: Ledger
    settings: JobSettings = field(default_factory=JobSettings)
    session: aiohttp.ClientSession | None = None
    stats: Stats | None = None
    tick: Callable[[], None] | None = None  # called as records finish (a progress display)
    # given the run's rate limiter once the target is known (a progress display takes its budget and waits)
    on_limiter: Callable[[RateLimiter], None] | None = None
    target: Target | None = None  # an already opened target (else the job opens settings.target itself)
    runner: Runner | None = None
    limiter: RateLimiter | None = None  # the run's rate limiter (else one for the target's limits)
    # True while planning still writes records beside the run (depot.deposit.plan_stream): no worker ends
    planning: Callable[[], bool] | None = None
    # Keys spread over the whole source (KeyScan.spread): a new ledger looks for them too before it deposits.
    spread_keys: tuple[str, ...] = ()
    _stopping: bool = False
    bulk: Any = None  # the BulkRunner while settings.bulk runs

    def wake(self) -> None:
        """Records were planned: idle workers claim them now (call on the job's event loop)."""
        if self.runner is not None:
            self.runner._wake()

    def stop(self) -> None:
        self._stopping = True
        if self.runner is not None:
            self.runner.stop()
        if self.bulk is not None:
            self.bulk.stop()
        if self.limiter is not None:
            self.limiter.stop()  # ends its waits now: Ctrl-C must not wait out an hour's window

    async def run(self) -> JobResult:
        s = self.settings
        stats = self.stats if self.stats is not None else initial_stats(self.ledger)
        with contextlib.ExitStack() as stack:
            target = self.target or stack.enter_context(open_target(
                s.target, token_file=s.token_file, repo_dir=s.repo_dir, per_minute=s.per_minute,
                per_hour=s.per_hour, api=s.api))
            limiter = self.limiter = self.limiter or RateLimiter(target.per_minute, target.per_hour)
            if self._stopping:
                limiter.stop()
            if self.on_limiter is not None:
                self.on_limiter(limiter)
            if target.api == "rdm" and s.communities:
                raise ConfigError(_RDM_COMMUNITIES)
            # The run's history names the repository, never the embedded one's port of the day.
            run_id = self.ledger.start_run(target="local" if target.name == "local" else target.api_url,
                                           source=s.source, profile=s.profile)
            async with make_client(target.api, target.api_url, target.token, limiter=limiter,
                                   connections=s.transfers * 2, session=self.session) as client:
                try:
                    unknown = await unknown_communities(client, list(s.communities))
                except LimiterStopped:
                    unknown = []  # stopped before the check: the runner below stops at once, sending nothing
                if unknown:
                    self.ledger.finish_run(run_id, published=0, failed=0, outcome="unknown-communities")
                    raise ConfigError(_unknown_communities_message(unknown, s, target.api_url))
                runner = Runner(self.ledger, client, RunSettings(transfers=s.transfers, retries=s.attempts,
                                                                 low_level_retries=s.low_level_retries,
                                                                 resumable_threshold=s.resumable_threshold),
                                stats, tick=self.tick)
                self.runner = runner
                if not s.allow_duplicates and not self._stopping:
                    found, looked = await self._deposited_already(runner)
                    if found:
                        self.ledger.finish_run(run_id, published=0, failed=0, outcome="deposited-already")
                        raise ConfigError(_deposited_already_message(found, looked, s, target.api_url))
                if self.planning is not None:
                    runner.more_coming = self.planning
                if self._stopping:
                    runner.stop()
                if s.bulk:  # new records in batches first; the per-record runner does what is left (sync work)
                    await self._run_bulk(client, target, stats)
                if not self._stopping:
                    await runner.run()
                for _ in range(s.passes):  # per-run retries: another pass over retryable failures
                    if runner.stopping or not self.ledger.retry_failed():
                        break
                    stats.failed = self.ledger.counts_by_state().get(State.FAILED, 0)
                    await runner.run()
            counts = self.ledger.counts_by_state()
            result = JobResult(ExitCode.OK, counts, stats, interrupted=runner.stopping)
            outcome = "interrupted" if result.interrupted else (
                "failures" if result.failed else ("waiting" if result.waiting else "complete"))
            self.ledger.finish_run(run_id, published=stats.done, failed=stats.failed, outcome=outcome)
        if result.interrupted:
            result.code = ExitCode.INTERRUPTED
        elif result.failed:
            result.code = ExitCode.RECORDS_FAILED
        elif result.waiting:
            result.code = ExitCode.RETRY_LATER
        return result

    async def _deposited_already(self, runner: Runner) -> tuple[dict[str, list[dict[str, Any]]], int]:
        """A ledger that never created anything: its first specimens and some spread over the source, if the
        target holds them already (one listing request; a lost answer or a stop counts as nothing found, and
        the run goes on)."""
        keys = self.ledger.first_keys_if_unused(PROBE_BATCH)
        if not keys:
            return {}, 0
        keys = with_spread(keys, self.spread_keys)
        try:
            found = await runner.find_by_keys(keys)
        except (HTTPStatusError, TransportError, LimiterStopped):
            return {}, len(keys)
        finally:
            await runner.ledger.close()  # the probe's attempt row is written; the runner starts its writer again
        return {key: hits for key, hits in found.items() if hits}, len(keys)

    async def _run_bulk(self, client: RepositoryClient, target: Target, stats: Stats) -> None:
        from depot.deposit.bulk import BulkRunner

        bulk = BulkRunner(self.ledger, client, stats, batch_size=self.settings.batch_size, target_name=target.name,
                          tick=self.tick)
        if self.planning is not None:
            bulk.more_coming = self.planning
        self.bulk = bulk
        if self._stopping:
            bulk.stop()
        await bulk.run()


async def deposit(ledger: Ledger, settings: JobSettings | None = None, *,
                  session: aiohttp.ClientSession | None = None) -> JobResult:
    """Run one deposit job over ``ledger`` (see :class:`DepositJob`)."""
    return await DepositJob(ledger, settings or JobSettings(), session=session).run()


_RDM_COMMUNITIES = ("the records name communities, which --api rdm does not request yet (on InvenioRDM a community "
                    "is a review request, not a metadata field); nothing was sent. Deposit with --api legacy, or "
                    "without communities (--var community=)")


def with_spread(first: list[str], spread: Sequence[str], n: int = PROBE_BATCH) -> list[str]:
    """``n`` keys to look for in one request: up to half of them spread evenly over ``spread`` (first and
    last included; KeyScan.spread covers the whole source), the rest the source's ``first``."""
    others = [k for k in dict.fromkeys(spread) if k not in set(first)]
    half = min(n // 2, len(others))
    picked = [others[round(i * (len(others) - 1) / (half - 1))] for i in range(half)] if half > 1 else others[:half]
    return first[:n - len(picked)] + picked


def _deposited_already_message(found: dict[str, list[dict[str, Any]]], looked: int, s: JobSettings,
                               api_url: str) -> str:
    where = f"the local repository in {s.repo_dir}" if s.target == "local" else api_url
    shown = "; ".join(f"{key} (deposition {hits[0].get('id')}"
                      + (f", DOI {hits[0]['doi']})" if hits[0].get("doi") else ")")
                      for key, hits in list(found.items())[:3])
    return (f"{where} already holds {len(found)} of the {looked} specimens of this source looked for, its first "
            f"and some spread through it ({shown}), "
            "but this ledger has never deposited anything: a run with it would deposit them again, with new DOIs. "
            "Nothing was sent. If you meant to go on with an earlier deposit, give its ledger with --ledger (or "
            "DEPOT_LEDGER); to deposit them again on purpose, add --allow-duplicates")


def _unknown_communities_message(unknown: list[str], s: JobSettings, api_url: str) -> str:
    where = f"the local repository in {s.repo_dir}" if s.target == "local" else api_url
    create = (f"depot repo create-community {unknown[0]} --owner depositor@localhost.localdomain "
              f"--data-dir {s.repo_dir}" if s.target == "local" else "create it on the target")
    return (f"{where} has no communit{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(repr(c) for c in unknown)}, which the records name (the repository would refuse or drop "
            "them); nothing was sent. Fix the community in the profile or with --var community=... "
            f"(--var community= for none), or {create}")
