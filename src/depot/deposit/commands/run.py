"""``depot run`` and ``depot sync``: plan a source into the ledger, then work through what was planned.

``run`` deposits new specimens; ``sync`` also brings published ones up to date with the source (edits in
place and new versions, see depot.deposit.changes)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from depot.deposit.cli import install_stop_handlers, planned_records, run_with_exit_codes, source_options
from depot.deposit.commands.targeting import target_options
from depot.deposit.errors import ConfigError, ExitCode
from depot.deposit.progress import ProgressDisplay, Stats, render_line


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
                     help="Tries per record (with backoff) before it is marked failed in a pass."),
        click.option("--retries", type=click.IntRange(0), default=2, show_default=True,
                     help="Passes over the records that failed for a retryable reason (5xx, timeouts, outages)."),
        click.option("--low-level-retries", type=click.IntRange(0), default=5, show_default=True,
                     help="Retries of one repeatable request (upload, read) before the record backs off."),
        click.option("--progress", "progress_mode", type=click.Choice(["auto", "live", "json", "quiet"]),
                     default="auto", show_default=True,
                     help="Live line on a terminal, JSON lines on stderr, or nothing."),
    ]):
        fn = option(fn)
    return fn


@click.command("run")
@source_options
@target_options
@work_options
def run(**options: Any) -> None:
    """Deposit SOURCE: one published record per specimen; resumable, run it again to continue."""
    run_with_exit_codes(lambda: deposit(**options))


@click.command("sync")
@source_options
@target_options
@work_options
def sync(**options: Any) -> None:
    """Bring the published records up to date with SOURCE: changed metadata is edited in place (same DOI,
    3 requests), changed files make a new version (new DOI, same concept DOI), unchanged specimens cost
    nothing, new ones are deposited; specimens gone from SOURCE are listed, never deleted."""
    run_with_exit_codes(lambda: deposit(**options, sync=True))


def deposit(*, ledger_path: str, target: str | None, token_file: Path | None, repo_dir: Path | None,
            rate_limit: str | None, transfers: int, retries: int, low_level_retries: int, progress_mode: str,
            attempts: int = 3, sync: bool = False, **source: Any) -> int:
    from depot.deposit.commands.targeting import check, choose_target, existing_ledger, opened
    from depot.deposit.ledger import Ledger

    # The target is checked before the source is read or a ledger written (depot.deposit.preflight).
    existing = existing_ledger(ledger_path)
    try:
        chosen, previous = choose_target(existing, target, repo_dir)
        sample = existing.sample_deposit() if existing is not None else None
    finally:
        if existing is not None:
            existing.close()
    per_minute, per_hour = parse_rate(rate_limit)
    with opened(chosen, token_file, (per_minute, per_hour), must_exist=sample is not None) as opened_target:
        asyncio.run(check(opened_target, chosen, previous, sample if previous is not None else None))
        ledger = Ledger.open(ledger_path)
        try:
            ledger.remember_target(chosen)
            return _plan_and_run(ledger, ledger_path, opened_target, transfers, attempts, retries,
                                 low_level_retries, progress_mode, sync, source)
        finally:
            ledger.close()


def _plan_and_run(ledger: Any, ledger_path: str, target: Any, transfers: int, attempts: int, retries: int,
                  low_level_retries: int, progress_mode: str, sync: bool, source: dict[str, Any]) -> int:
    profile, records = planned_records(**source)
    sidecars = Path(ledger_path).with_suffix(".sidecars") if "://" not in ledger_path else Path("depot-sidecars")
    summary = ledger.plan(records, sidecar_dir=sidecars, sync=sync)
    click.echo(f"plan: {summary.new} new, {summary.changed} changed, {summary.retried} to retry, "
               + (f"{summary.edits} to edit, {summary.versions} new versions, " if sync else "")
               + f"{summary.unchanged} unchanged, {summary.skipped} with problems"
               + (f", {summary.published_changed} published but changed since (use depot sync)"
                  if summary.published_changed else ""), err=True)
    for key, problem in summary.problems[:10]:
        click.echo(f"  skipped {key}: {problem}", err=True)
    if sync and summary.gone:
        click.echo(f"{len(summary.gone)} published specimens are no longer in the source (kept as they are): "
                   + ", ".join(summary.gone[:10]) + (" ..." if len(summary.gone) > 10 else ""), err=True)
    code = asyncio.run(_deposit(ledger, target, transfers, attempts, retries, low_level_retries, progress_mode,
                                str(source["source"]), profile.name))
    if code == ExitCode.OK and summary.skipped:
        click.echo(f"{summary.skipped} specimens were not deposited because of problems; "
                   "depot check lists them all", err=True)
        return ExitCode.RECORDS_FAILED
    return code


async def _deposit(ledger: Any, target: Any, transfers: int, attempts: int, passes: int, low_level_retries: int,
                   progress_mode: str, source: str, profile: str) -> int:
    from depot.deposit.client import RepositoryClient
    from depot.deposit.ratelimit import RateLimiter
    from depot.deposit.runner import Runner, RunSettings

    counts = ledger.counts_by_state()
    stats = Stats(total=sum(counts.get(s, 0) for s in ("planned", "created", "uploaded", "uncertain")))
    stats.already = counts.get("published", 0) + counts.get("verified", 0)
    limiter = RateLimiter(target.per_minute, target.per_hour)
    # The run's history names the repository, never the embedded one's port of the day.
    run_id = ledger.start_run(target="local" if target.name == "local" else target.api_url, source=source,
                              profile=profile)
    async with RepositoryClient(target.api_url, target.token, limiter=limiter,
                                connections=transfers * 2) as client:
        display = ProgressDisplay(stats, progress_mode)
        runner = Runner(ledger, client, RunSettings(transfers=transfers, retries=attempts,
                                                    low_level_retries=low_level_retries), stats,
                        tick=display.tick)
        install_stop_handlers(runner.stop)
        with display:
            await runner.run()
            for _ in range(passes):  # per-run retries: another pass over retryable failures
                if runner.stopping or not ledger.retry_failed():
                    break
                stats.failed = ledger.counts_by_state().get("failed", 0)
                await runner.run()
    counts = ledger.counts_by_state()
    waiting = sum(counts.get(s, 0) for s in ("planned", "created", "uploaded", "uncertain"))
    outcome = "interrupted" if runner.stopping else ("failures" if counts.get("failed") else
                                                      ("waiting" if waiting else "complete"))
    ledger.finish_run(run_id, published=stats.done, failed=stats.failed, outcome=outcome)
    click.echo(render_line(stats.snapshot()), err=True)
    click.echo(f"ledger: {counts.get('published', 0) + counts.get('verified', 0)} published, "
               f"{counts.get('failed', 0)} failed, {waiting} waiting", err=True)
    if runner.stopping:
        return ExitCode.INTERRUPTED
    if counts.get("failed"):
        return ExitCode.RECORDS_FAILED
    return ExitCode.RETRY_LATER if waiting else ExitCode.OK
