"""``depot reconcile`` and ``depot verify``: compare the ledger with what the repository really holds."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any, TextIO

import click

from depot.deposit.cli import run_with_exit_codes
from depot.deposit.commands.status import LEDGER
from depot.deposit.commands.targeting import target_options
from depot.deposit.errors import ExitCode
from depot.deposit.reconcile import AGREE, DIFFERS, ERROR, ONLY_LOCAL, LocalEntry, RemoteEntry, compare


@click.command("reconcile")
@LEDGER
@target_options
@click.option("--fix", is_flag=True, help="Adopt orphan deposits, discard stray drafts and correct the ledger.")
@click.option("--combined", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write every line (mark, key, reason) to this file.")
def reconcile(ledger_path: str, target: str | None, token_file: Path | None, repo_dir: Path | None,
              rate_limit: str | None, api: str | None, fix: bool, combined: Path | None) -> None:
    """List everything the account holds and match it to the ledger by specimen key (= + - * !)."""
    run_with_exit_codes(lambda: asyncio.run(_reconcile(ledger_path, target, token_file, repo_dir, rate_limit, fix,
                                                       combined, sys.stdout, api=api)))


@contextlib.asynccontextmanager
async def _open(ledger: Any, target: str | None, token_file: Path | None, repo_dir: Path | None,
                rate_limit: str | None, *, read_only: bool, remember: bool, connections: int = 8,
                api: str | None = None, published_reads: bool = False) -> Any:
    """A client of the ledger's target (or of the one given, if it holds the ledger's deposits), checked first
    by one request (depot.deposit.preflight)."""
    from depot.deposit.commands.run import parse_rate
    from depot.deposit.commands.targeting import checked_target
    from depot.deposit.ratelimit import RateLimiter
    from depot.deposit.rdm_client import make_client

    checked = checked_target(ledger, target, repo_dir, token_file, parse_rate(rate_limit), read_only=read_only,
                             remember=remember, api=api)
    async with checked as (opened, _chosen), make_client(
            opened.api, opened.api_url, opened.token, connections=connections, published_reads=published_reads,
            limiter=RateLimiter(opened.per_minute, opened.per_hour)) as client:
        yield client


async def _reconcile(ledger_path: str, target_name: str | None, token_file: Path | None, repo_dir: Path | None,
                     rate_limit: str | None, fix: bool, combined: Path | None, out: TextIO, *,
                     api: str | None = None) -> int:
    from depot.deposit.ledger import Ledger
    from depot.deposit.ledger.reports import key_pages
    from depot.deposit.ledger.tables import specimens as sp
    from depot.deposit.listing import all_depositions
    from depot.deposit.patient import PatientClient

    ledger = Ledger.open(ledger_path, create=fix)  # only --fix may start a ledger; a listing never does
    try:
        local = [LocalEntry(r.key, r.state, r.deposition_id, r.doi) for page in key_pages(
            ledger.engine, [sp.c.key, sp.c.state, sp.c.deposition_id, sp.c.doi]) for r in page]
        keys = {e.key.lower(): e.key for e in local}
        async with _open(ledger, target_name, token_file, repo_dir, rate_limit, read_only=not fix, api=api,
                         remember=fix) as plain:
            client = PatientClient(plain)
            remote = [entry async for entry in _remote_entries(client, all_depositions(client), keys)]
            report = compare(local, remote)
            lines = [f"{f.mark} {f.key}" + (f"  ({f.reason})" if f.reason else "") for f in report.findings]
            for line in lines:
                out.write(line + "\n")
            if combined:
                combined.write_text("\n".join(lines) + "\n", encoding="utf-8")
            summary = report.summary()
            out.write(" ".join(f"{mark} {n}" for mark, n in summary.items()) + "\n")
            if fix:
                fixed = await _fix(report, ledger, client)
                out.write(f"fixed {fixed}\n")
    finally:
        ledger.close()
    return ExitCode.OK if set(k for k, v in summary.items() if v) <= {AGREE} or fix else ExitCode.RECORDS_FAILED


async def _remote_entries(client: Any, depositions: Any, keys: dict[str, str]) -> Any:
    async for dep in depositions:
        alternates = [str(r.get("identifier", "")) for r in (dep.get("metadata") or {}).get("related_identifiers") or []
                      if isinstance(r, dict) and r.get("relation") == "isAlternateIdentifier"]
        key = next((keys[a.lower()] for a in alternates if a.lower() in keys), alternates[-1] if alternates else "")
        files = tuple((f.get("filename", ""), f.get("checksum", "")) for f in dep.get("files") or [])
        yield RemoteEntry(key or f"deposition:{dep['id']}", int(dep["id"]), bool(dep.get("submitted")),
                          dep.get("doi"), str(dep.get("state", "")), files, str(dep.get("conceptrecid") or ""))


async def _fix(report: Any, ledger: Any, client: Any) -> int:
    """Adopt what exists, discard stray never-published drafts, correct the ledger. Never deletes a record."""
    from depot.deposit.ledger.states import DONE, State

    fixed = 0
    for finding in report.findings:
        if finding.mark not in (DIFFERS, ERROR, ONLY_LOCAL) or finding.local is None:
            continue
        key = finding.key
        published = sorted((r for r in finding.remote if r.submitted), key=lambda r: r.deposition_id)
        drafts = sorted((r for r in finding.remote if not r.submitted), key=lambda r: r.deposition_id)
        if published:
            # The latest version of the first record published (later concepts are duplicates: kept, reported).
            first = published[0].concept or str(published[0].deposition_id)
            keep = max((r for r in published if (r.concept or str(r.deposition_id)) == first),
                       key=lambda r: r.deposition_id)
            full = await client.get(keep.deposition_id)
            ledger.mark_created(key, deposition_id=keep.deposition_id,
                                bucket_url=str((full.get("links") or {}).get("bucket") or ""))
            ledger.mark_published(key, doi=keep.doi, concept_doi=full.get("conceptdoi"),
                                  record_url=(full.get("links") or {}).get("html"), record=full)
            for stray in drafts:
                await client.discard(stray.deposition_id)
            fixed += 1
        elif drafts:
            keep = drafts[0]
            full = await client.get(keep.deposition_id)
            ledger.mark_created(key, deposition_id=keep.deposition_id,
                                bucket_url=str((full.get("links") or {}).get("bucket") or ""))
            for stray in drafts[1:]:
                await client.discard(stray.deposition_id)
            fixed += 1
        elif finding.mark == ONLY_LOCAL and finding.local.state in (*DONE, State.CREATED, State.UPLOADED,
                                                                    State.UNCERTAIN):
            ledger.mark_planned(key)  # nothing there: deposit it again
            fixed += 1
    return fixed


@click.command("verify")
@LEDGER
@target_options
@click.option("--again", is_flag=True,
              help="Check the records verified before too (by default a verify skips them, so it resumes).")
@click.option("--checkers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Records read at once (the rate limit paces them all).")
@click.option("--low-level-retries", type=click.IntRange(0), default=5, show_default=True,
              help="Retries of one request after a transient error (429, 5xx, no answer), as in depot run.")
def verify(ledger_path: str, target: str | None, token_file: Path | None, repo_dir: Path | None,
           rate_limit: str | None, api: str | None,
           again: bool, checkers: int, low_level_retries: int) -> None:
    """Re-read every published record; compare its files' md5 and its metadata with the ledger.

    A record that agrees is marked verified, so an interrupted verify resumes where it stopped. Transient
    errors are retried as in depot run; a record that still cannot be read is read again after the pass.
    Exit 0: all agree; 1: some differ or are missing; 6: some could not be read (run verify again later)."""
    run_with_exit_codes(lambda: asyncio.run(_verify(ledger_path, target, token_file, repo_dir, rate_limit,
                                                    sys.stdout, again=again, checkers=checkers, api=api,
                                                    low_level_retries=low_level_retries)))


async def _verify(ledger_path: str, target_name: str | None, token_file: Path | None, repo_dir: Path | None,
                  rate_limit: str | None, out: TextIO, *, again: bool = False, checkers: int = 8,
                  low_level_retries: int = 5, api: str | None = None) -> int:
    from depot.deposit.ledger import Ledger
    from depot.deposit.patient import Patience, PatientClient
    from depot.deposit.verifying import Verifier, progress_printer

    ledger = Ledger.open(ledger_path, create=False)
    try:
        async with _open(ledger, target_name, token_file, repo_dir, rate_limit, read_only=True, remember=True,
                         api=api, published_reads=True,
                         connections=max(checkers, 8)) as plain:
            client = PatientClient(plain, Patience(low_level_retries=low_level_retries))
            verifier = Verifier(ledger, client, out, checkers=checkers, progress=progress_printer(sys.stderr))
            result = await verifier.run(again=again)
    finally:
        ledger.close()
    out.write(result.summary() + "\n")
    if result.differ or result.missing:
        return ExitCode.RECORDS_FAILED
    return ExitCode.RETRY_LATER if result.unchecked or result.gave_up else ExitCode.OK
