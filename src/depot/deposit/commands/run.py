"""``depot run`` and ``depot sync``: plan a source into the ledger, then work through what was planned.

``run`` deposits new specimens; ``sync`` also brings published ones up to date with the source (edits in
place and new versions, see depot.deposit.changes)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from depot.deposit.cli import (
    file_name_option,
    image_options,
    install_stop_handlers,
    judged,
    planned_source,
    run_with_exit_codes,
    source_options,
)
from depot.deposit.commands.options_memory import given_names, new_options_option
from depot.deposit.commands.targeting import target_options
from depot.deposit.config import Duration, verbosity
from depot.deposit.errors import ConfigError, ExitCode
from depot.deposit.progress import ProgressDisplay, Stats, render_line

if TYPE_CHECKING:
    from collections.abc import Callable

    from depot.deposit.job import DepositJob
    from depot.deposit.ledger.planning import PlanSummary
    from depot.deposit.plan_stream import BackgroundPlan


def parse_rate(rate: str | None) -> tuple[int | None, int | None]:
    if rate is None:
        return None, None
    try:
        parts = [int(p) for p in rate.split("/")]
    except ValueError as exc:
        raise ConfigError(f"--rate-limit expects PER_MIN or PER_MIN/PER_HOUR, got {rate!r}") from exc
    return parts[0] or None, (parts[1] or None) if len(parts) > 1 else None


def work_options(fn: Any) -> Any:
    for option in reversed([
        click.option("--ledger", "ledger_path", default="depot-ledger.sqlite3", show_default=True,
                     help="The ledger: a SQLite file, or a postgresql:// URL."),
        click.option("--transfers", type=click.IntRange(1, 256), default=8, show_default=True,
                     help="Records in flight at once."),
        click.option("--attempts", type=click.IntRange(1), default=3, show_default=True,
                     help="Tries of each step of a record (create, upload, publish; with backoff) before it is "
                          "marked failed in a pass."),
        click.option("--retries", type=click.IntRange(0), default=2, show_default=True,
                     help="Passes over the records that failed for a retryable reason (5xx, timeouts, outages)."),
        click.option("--low-level-retries", type=click.IntRange(0), default=5, show_default=True,
                     help="Retries of one repeatable request (upload, read) before the record backs off."),
        click.option("--resumable-threshold-mb", type=click.IntRange(1), default=64, show_default=True,
                     help="Files above this many MiB go as resumable uploads (tus, 32 MiB a request) where the "
                          "target offers them (Depot's repository; Zenodo gets a plain PUT): a cut connection or "
                          "a rerun after a crash resumes from the server's offset."),
        click.option("--progress", "progress_mode", type=click.Choice(["auto", "live", "text", "json", "quiet"]),
                     default="auto", show_default=True,
                     help="On stderr: a live line (auto on a terminal), a stats line every --stats (auto "
                          "otherwise), JSON events every --stats (per record too with -v), or nothing."),
        click.option("--allow-duplicates", is_flag=True,
                     help="Deposit even if the target already holds the first specimens of a ledger that has "
                          "never deposited anything (by default such a run stops before sending: the ledger is "
                          "likely not the one of the earlier deposit)."),
        click.option("--stats", "stats_interval", type=Duration(), default=None,
                     help="How often to print progress, e.g. 30s, 1m, 1h; 0 only at the end [1m for text, "
                          "1s for json]."),
    ]):
        fn = option(fn)
    return fn


@click.command("run")
@source_options
@image_options
@file_name_option
@target_options
@work_options
@new_options_option
@click.option("--bulk", is_flag=True,
              help="Send new records through the target's bulk-ingest API in batches (one BagIt bag per batch; "
                   "Depot's repository only, see docs/bulk-deposit.md).")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=1000, show_default=True,
              help="Records per batch with --bulk (the repository accepts at most its bulk_max_records).")
def run(**options: Any) -> None:
    """Deposit SOURCE: one published record per specimen; resumable, run it again to continue."""
    given = given_names()
    run_with_exit_codes(lambda: deposit(**options, given=given, verbosity=verbosity()))


@click.command("sync")
@source_options
@image_options
@file_name_option
@target_options
@work_options
@new_options_option
def sync(**options: Any) -> None:
    """Bring the published records up to date with SOURCE: changed metadata is edited in place (same DOI,
    3 requests), changed files make a new version (new DOI, same concept DOI), unchanged specimens cost
    nothing, new ones are deposited; specimens gone from SOURCE are listed, never deleted."""
    given = given_names()
    run_with_exit_codes(lambda: deposit(**options, sync=True, given=given, verbosity=verbosity()))


def deposit(*, ledger_path: str, target: str | None, token_file: Path | None, repo_dir: Path | None,
            rate_limit: str | None, transfers: int, retries: int, low_level_retries: int, progress_mode: str,
            attempts: int = 3, sync: bool = False, stats_interval: float | None = None, verbosity: int = 0,
            file_name: str | None = None, api: str | None = None, resumable_threshold_mb: int = 64,
            bulk: bool = False, batch_size: int = 1000, allow_duplicates: bool = False,
            given: dict[str, str] | None = None, new_options: bool = False, **source: Any) -> int:
    from dataclasses import replace

    from depot.deposit.commands.options_memory import meet
    from depot.deposit.commands.targeting import check, choose_target, existing_ledger, opened
    from depot.deposit.ledger import Ledger

    # The target is checked before the source is read or a ledger written (depot.deposit.preflight).
    existing = existing_ledger(ledger_path)
    try:
        chosen, previous = choose_target(existing, target, repo_dir, api)
        if bulk and chosen.name in ("zenodo", "sandbox"):  # before any request, token or source read
            from depot.deposit.bulk import NO_BULK

            raise ConfigError(NO_BULK.format(where=f"--target {chosen.name}"))
        sample = existing.sample_deposit() if existing is not None else None
        # Options not given are the ledger's (depot.deposit.source_options); said before anything is read.
        options = meet(existing, {**source, "file_name": file_name}, given or {}, new_options=new_options)
        file_name = options.options.pop("file_name")
        source = options.options
    finally:
        if existing is not None:
            existing.close()
    per_minute, per_hour = parse_rate(rate_limit)
    with opened(chosen, token_file, (per_minute, per_hour), must_exist=sample is not None) as opened_target:
        opened_target = asyncio.run(check(opened_target, chosen, previous, sample if previous is not None else None))
        ledger = Ledger.open(ledger_path)
        try:
            ledger.remember_target(replace(chosen, api=opened_target.api))
            if options.remember is not None:
                ledger.remember_source_options(options.remember)
            return _plan_and_run(ledger, ledger_path, opened_target, transfers, attempts, retries,
                                 low_level_retries, progress_mode, sync, source, stats_interval=stats_interval,
                                 verbosity=verbosity, file_name=file_name,
                                 resumable_threshold_mb=resumable_threshold_mb, bulk=(bulk, batch_size),
                                 allow_duplicates=allow_duplicates)
        finally:
            ledger.close()


def _plan_and_run(ledger: Any, ledger_path: str, target: Any, transfers: int, attempts: int, retries: int,
                  low_level_retries: int, progress_mode: str, sync: bool, source: dict[str, Any], *,
                  stats_interval: float | None, verbosity: int, file_name: str | None,
                  resumable_threshold_mb: int = 64, bulk: tuple[bool, int] = (False, 1000),
                  allow_duplicates: bool = False) -> int:
    """Plan while depositing: a first pass over the keys alone (duplicates are rejected before anything
    is sent, however far apart), then the records are planned in a thread beside the deposit."""
    import time
    from functools import partial

    from depot.deposit.images import FileCheckCache
    from depot.deposit.keyscan import scan_keys
    from depot.deposit.plan_stream import BackgroundPlan
    from depot.deposit.verdict import judge

    opened = planned_source(**source, check_cache=FileCheckCache(ledger.engine))
    sidecars = Path(ledger_path).with_suffix(".sidecars") if "://" not in ledger_path else Path("depot-sidecars")
    started = time.monotonic()
    opened.warm()  # the image checkers start beside the key pass, not after it (the first request waits on them)
    try:
        keys = scan_keys(opened.keys)
    except BaseException:
        opened.stop_checkers()
        raise
    duplicates = len(keys.duplicates.duplicates)
    click.echo(f"keys: {keys.count} specimens read in {time.monotonic() - started:.1f} s"
               + (f", {duplicates} duplicate keys (every row of each is rejected)" if duplicates else "")
               + "; planning goes on beside the deposit", err=True)
    gone = ledger.published_not_in(keys) if sync else []
    keys.forget()
    # One verdict for check and run: a specimen with a problem is stored as rejected, never sent.

    def plan_records(on_batch: Callable[[PlanSummary], None], stopping: Callable[[], bool]) -> PlanSummary:
        try:
            summary: PlanSummary = ledger.plan(judged(opened.records, file_name), sidecar_dir=sidecars, sync=sync,
                               judge=partial(judge, today=datetime.now(UTC).date()), keys=keys,
                               on_batch=on_batch, stopping=stopping)
            return summary
        finally:
            opened.records.close()  # stopped early too: the image checkers and the source are closed now

    from depot.deposit.job import initial_stats

    # Counted before planning starts: the run's total is what the ledger held then plus what planning adds
    # (counted after, the first batch would be counted twice).
    stats = initial_stats(ledger)
    # What earlier runs left unfinished, counted now: planning runs beside the deposit, which may finish a
    # row before the planner reaches it (counted there, most of them would already be published).
    resumed = stats.total
    plan = BackgroundPlan(plan_records)
    try:
        plan.start().wait_first()
        if plan.error is not None:
            raise plan.error  # the first records could not be planned: nothing was sent
        # The communities of the first batch are checked against the target (a profile names them).
        code = asyncio.run(_deposit(ledger, target, transfers, attempts, retries, low_level_retries,
                                    progress_mode, str(source["source"]), opened.profile.name, stats_interval,
                                    verbosity, sorted(plan.communities), plan=plan, stats=stats,
                                    resumable_threshold_mb=resumable_threshold_mb, bulk=bulk,
                                    allow_duplicates=allow_duplicates, spread_keys=tuple(keys.spread)))
    finally:
        plan.stop()
        plan.join()
    if plan.error is not None:
        raise plan.error  # what was planned before it goes on at the next run
    summary = plan.summary
    assert summary is not None
    summary.gone = gone
    click.echo(("plan (stopped before the end of the source; the next run plans the rest): " if summary.stopped
                else "plan: ")
               + f"{summary.new} new, {summary.changed} changed, {summary.retried} to retry, "
               + (f"{summary.edits} to edit, {summary.versions} new versions, " if sync else "")
               + f"{summary.unchanged} unchanged"
               + (f", {resumed} left unfinished by an earlier run (resumed)" if resumed else "")
               + f", {summary.skipped} rejected"
               + (f" ({summary.duplicates} duplicate keys)" if summary.duplicates else "")
               + (f", {summary.published_changed} published but changed since (use depot sync)"
                  if summary.published_changed else ""), err=True)
    for key, problem in summary.problems[:10]:
        click.echo(f"  rejected {key}: {problem}", err=True)
    if sync and summary.gone:
        click.echo(f"{len(summary.gone)} published specimens are no longer in the source (kept as they are): "
                   + ", ".join(summary.gone[:10]) + (" ..." if len(summary.gone) > 10 else ""), err=True)
    if code == ExitCode.OK and summary.skipped:
        click.echo(f"{summary.skipped} specimens were rejected because of problems in the source and nothing "
                   "was sent for them; depot status and depot check list them, fix the source and run again",
                   err=True)
        return ExitCode.RECORDS_FAILED
    return code


async def _deposit(ledger: Any, target: Any, transfers: int, attempts: int, passes: int, low_level_retries: int,
                   progress_mode: str, source: str, profile: str, stats_interval: float | None = None,
                   verbosity: int = 0, communities: list[str] | None = None,
                   plan: BackgroundPlan | None = None, stats: Stats | None = None,
                   resumable_threshold_mb: int = 64, bulk: tuple[bool, int] = (False, 1000),
                   allow_duplicates: bool = False, spread_keys: tuple[str, ...] = ()) -> int:
    from functools import partial

    from depot.deposit.job import DepositJob, JobSettings, initial_stats

    settings = JobSettings(target=target.name, api=target.api, repo_dir=target.repo_dir or Path("depot-data"),
                           per_minute=target.per_minute, per_hour=target.per_hour, transfers=transfers,
                           attempts=attempts, passes=passes, low_level_retries=low_level_retries, source=source,
                           profile=profile, communities=tuple(communities or ()),
                           resumable_threshold=resumable_threshold_mb * 1024 * 1024, bulk=bulk[0],
                           batch_size=bulk[1], allow_duplicates=allow_duplicates)
    stats = stats or initial_stats(ledger)
    if verbosity < 0 and progress_mode == "auto":
        progress_mode = "quiet"
    display = ProgressDisplay(stats, progress_mode, interval=stats_interval, verbose=verbosity > 0)
    # The target is already open (and checked by the preflight): the job uses it as it is.
    job = DepositJob(ledger, settings, stats=stats, tick=display.tick, on_limiter=display.attach, target=target,
                     spread_keys=spread_keys)
    if plan is not None:
        _follow(plan, job, stats)
    install_stop_handlers(job.stop if plan is None else partial(_stop_both, plan, job))
    try:
        async with display:
            result = await job.run()
    finally:
        if plan is not None:
            plan.stop()  # the run ended first (stopped, or a fatal error): so does planning
            await asyncio.to_thread(plan.join)
    click.echo(render_line(stats.snapshot()), err=True)
    click.echo(f"ledger: {result.published} published, {result.failed} failed, {result.waiting} waiting", err=True)
    return result.code


def _stop_both(plan: BackgroundPlan, job: DepositJob) -> None:
    plan.stop()
    job.stop()


def _follow(plan: BackgroundPlan, job: DepositJob, stats: Stats) -> None:
    """Each batch planned beside the run: grow the run's total, wake idle workers, and stop the run if
    planning failed (the error is reported once the run has stopped)."""
    import contextlib

    loop = asyncio.get_running_loop()
    counted = 0
    job.planning = stats.planning = plan.running

    def on_loop() -> None:
        nonlocal counted
        stats.total += plan.active - counted
        counted = plan.active
        if plan.error is not None:
            job.stop()
        job.wake()

    def from_thread() -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: the run is over
            loop.call_soon_threadsafe(on_loop)

    plan.listen(from_thread)
    on_loop()
