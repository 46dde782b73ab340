"""``depot run`` and ``depot sync``: plan a source into the ledger, then work through what was planned.

``run`` deposits new specimens; ``sync`` also brings published ones up to date with the source (edits in
place and new versions, see depot.deposit.changes)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from depot.deposit.cli import (
    file_name_option,
    install_stop_handlers,
    judged,
    planned_records,
    run_with_exit_codes,
    source_options,
)
from depot.deposit.errors import ConfigError, ExitCode
from depot.deposit.progress import ProgressDisplay, Stats, render_line


def target_options(fn: Any) -> Any:
    for option in reversed([
        click.option("--target", default="local", show_default=True,
                     help="local (an embedded Depot repository), zenodo, sandbox, or an API URL "
                          "(https://host/api)."),
        click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="File holding the access token [the token is read from DEPOT_TOKEN first]."),
        click.option("--repo-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("depot-data"),
                     show_default=True, help="Data folder of the embedded repository (--target local)."),
        click.option("--rate-limit", default=None, metavar="PER_MIN[/PER_HOUR]",
                     help="Requests to allow [Zenodo: 100/5000; learnt from the server's headers as it answers]."),
    ]):
        fn = option(fn)
    return fn


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
@file_name_option
@target_options
@work_options
def run(**options: Any) -> None:
    """Deposit SOURCE: one published record per specimen; resumable, run it again to continue."""
    run_with_exit_codes(lambda: deposit(**options))


@click.command("sync")
@source_options
@file_name_option
@target_options
@work_options
def sync(**options: Any) -> None:
    """Bring the published records up to date with SOURCE: changed metadata is edited in place (same DOI,
    3 requests), changed files make a new version (new DOI, same concept DOI), unchanged specimens cost
    nothing, new ones are deposited; specimens gone from SOURCE are listed, never deleted."""
    run_with_exit_codes(lambda: deposit(**options, sync=True))


def deposit(*, ledger_path: str, target: str, token_file: Path | None, repo_dir: Path, rate_limit: str | None,
            transfers: int, retries: int, low_level_retries: int, progress_mode: str, attempts: int = 3,
            sync: bool = False, file_name: str | None = None, **source: Any) -> int:
    from functools import partial

    from depot.deposit.ledger import Ledger
    from depot.deposit.verdict import judge

    ledger = Ledger.open(ledger_path)
    try:
        profile, records = planned_records(**source)
        sidecars = Path(ledger_path).with_suffix(".sidecars") if "://" not in ledger_path else Path("depot-sidecars")
        # One verdict for check and run: a specimen with a problem is stored as rejected, never sent.
        summary = ledger.plan(judged(records, file_name), sidecar_dir=sidecars, sync=sync,
                              judge=partial(judge, today=datetime.now(UTC).date()))
        click.echo(f"plan: {summary.new} new, {summary.changed} changed, {summary.retried} to retry, "
                   + (f"{summary.edits} to edit, {summary.versions} new versions, " if sync else "")
                   + f"{summary.unchanged} unchanged, {summary.skipped} rejected"
                   + (f" ({summary.duplicates} duplicate keys)" if summary.duplicates else "")
                   + (f", {summary.published_changed} published but changed since (use depot sync)"
                      if summary.published_changed else ""), err=True)
        for key, problem in summary.problems[:10]:
            click.echo(f"  rejected {key}: {problem}", err=True)
        if sync and summary.gone:
            click.echo(f"{len(summary.gone)} published specimens are no longer in the source (kept as they are): "
                       + ", ".join(summary.gone[:10]) + (" ..." if len(summary.gone) > 10 else ""), err=True)
        per_minute, per_hour = parse_rate(rate_limit)
        code = asyncio.run(_deposit(ledger, target, token_file, repo_dir, per_minute, per_hour, transfers, attempts,
                                    retries, low_level_retries, progress_mode, str(source["source"]), profile.name,
                                    sorted(summary.communities)))
        if code == ExitCode.OK and summary.skipped:
            click.echo(f"{summary.skipped} specimens were rejected because of problems in the source and nothing "
                       "was sent for them; depot status and depot check list them, fix the source and run again",
                       err=True)
            return ExitCode.RECORDS_FAILED
        return code
    finally:
        ledger.close()


async def _deposit(ledger: Any, target_name: str, token_file: Path | None, repo_dir: Path, per_minute: int | None,
                   per_hour: int | None, transfers: int, attempts: int, passes: int, low_level_retries: int,
                   progress_mode: str, source: str, profile: str, communities: list[str]) -> int:
    from depot.deposit.client import RepositoryClient
    from depot.deposit.communities import unknown_communities
    from depot.deposit.ratelimit import RateLimiter
    from depot.deposit.runner import Runner, RunSettings
    from depot.deposit.targets import open_target

    counts = ledger.counts_by_state()
    stats = Stats(total=sum(counts.get(s, 0) for s in ("planned", "created", "uploaded", "uncertain")))
    stats.already = counts.get("published", 0) + counts.get("verified", 0)
    with open_target(target_name, token_file=token_file, repo_dir=repo_dir, per_minute=per_minute,
                     per_hour=per_hour) as target:
        limiter = RateLimiter(target.per_minute, target.per_hour)
        run_id = ledger.start_run(target=target.api_url, source=source, profile=profile)
        async with RepositoryClient(target.api_url, target.token, limiter=limiter,
                                    connections=transfers * 2) as client:
            unknown = await unknown_communities(client, communities)
            if unknown:
                ledger.finish_run(run_id, published=0, failed=0, outcome="unknown-communities")
                where = f"the local repository in {repo_dir}" if target_name == "local" else target.api_url
                create = (f"depot repo create-community {unknown[0]} --owner depositor@localhost.localdomain "
                          f"--data-dir {repo_dir}" if target_name == "local" else "create it on the target")
                click.echo(f"depot: {where} has no communit{'y' if len(unknown) == 1 else 'ies'} "
                           f"{', '.join(repr(c) for c in unknown)}, which the records name (the repository would "
                           "refuse or drop them); nothing was sent. Fix the community in the profile or with "
                           f"--var community=... (--var community= for none), or {create}", err=True)
                return ExitCode.USAGE
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
