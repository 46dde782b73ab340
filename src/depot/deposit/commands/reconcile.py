"""``depot reconcile`` and ``depot verify``: compare the ledger with what the repository really holds."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
from pathlib import Path
from typing import Any, TextIO

import click
import orjson

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
              rate_limit: str | None, fix: bool, combined: Path | None) -> None:
    """List everything the account holds and match it to the ledger by specimen key (= + - * !)."""
    run_with_exit_codes(lambda: asyncio.run(_reconcile(ledger_path, target, token_file, repo_dir, rate_limit, fix,
                                                       combined, sys.stdout)))


@contextlib.asynccontextmanager
async def _open(ledger: Any, target: str | None, token_file: Path | None, repo_dir: Path | None,
                rate_limit: str | None, *, read_only: bool, remember: bool) -> Any:
    """A client of the ledger's target (or of the one given, if it holds the ledger's deposits), checked first
    by one request (depot.deposit.preflight)."""
    from depot.deposit.client import RepositoryClient
    from depot.deposit.commands.run import parse_rate
    from depot.deposit.commands.targeting import checked_target
    from depot.deposit.ratelimit import RateLimiter

    checked = checked_target(ledger, target, repo_dir, token_file, parse_rate(rate_limit), read_only=read_only,
                             remember=remember)
    async with checked as (opened, _chosen), RepositoryClient(
            opened.api_url, opened.token, limiter=RateLimiter(opened.per_minute, opened.per_hour)) as client:
        yield client


async def _reconcile(ledger_path: str, target_name: str | None, token_file: Path | None, repo_dir: Path | None,
                     rate_limit: str | None, fix: bool, combined: Path | None, out: TextIO) -> int:
    from depot.deposit.ledger import Ledger
    from depot.deposit.listing import all_depositions

    ledger = Ledger.open(ledger_path, create=fix)  # only --fix may start a ledger; a listing never does
    try:
        local = [LocalEntry(c.key, c.state, c.deposition_id, c.doi) for c, _url, _concept in ledger.iter_report()]
        keys = {e.key.lower(): e.key for e in local}
        async with _open(ledger, target_name, token_file, repo_dir, rate_limit, read_only=not fix,
                         remember=fix) as client:
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
                await client.action(stray.deposition_id, "discard")
            fixed += 1
        elif drafts:
            keep = drafts[0]
            full = await client.get(keep.deposition_id)
            ledger.mark_created(key, deposition_id=keep.deposition_id,
                                bucket_url=str((full.get("links") or {}).get("bucket") or ""))
            for stray in drafts[1:]:
                await client.action(stray.deposition_id, "discard")
            fixed += 1
        elif finding.mark == ONLY_LOCAL and finding.local.state in ("published", "verified", "created", "uploaded",
                                                                    "uncertain"):
            ledger.mark_planned(key)  # nothing there: deposit it again
            fixed += 1
    return fixed


@click.command("verify")
@LEDGER
@target_options
def verify(ledger_path: str, target: str | None, token_file: Path | None, repo_dir: Path | None,
           rate_limit: str | None) -> None:
    """Re-read every published record; compare its files' md5 and its metadata with the ledger."""
    run_with_exit_codes(lambda: asyncio.run(_verify(ledger_path, target, token_file, repo_dir, rate_limit,
                                                    sys.stdout)))


def metadata_digest(metadata: dict[str, Any], keys: list[str]) -> str:
    return hashlib.sha256(orjson.dumps({k: metadata.get(k) for k in keys}, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def _verify(ledger_path: str, target_name: str | None, token_file: Path | None, repo_dir: Path | None,
                  rate_limit: str | None, out: TextIO) -> int:
    from depot.deposit.ledger import Ledger

    ledger = Ledger.open(ledger_path, create=False)
    bad = checked = 0
    try:
        async with _open(ledger, target_name, token_file, repo_dir, rate_limit, read_only=True,
                         remember=True) as client:
            for claim, _url, _concept in list(ledger.iter_report()):
                if claim.state not in ("published", "verified") or claim.deposition_id is None:
                    continue
                checked += 1
                remote = await client.get(claim.deposition_id)
                problems = []
                server_files = {f["filename"]: f["checksum"] for f in remote.get("files") or []}
                for f in claim.files:
                    if server_files.get(f.name) != f.md5:
                        problems.append(f"{f.name}: md5 {server_files.get(f.name)} on the repository, {f.md5} "
                                        "in the ledger")
                extra = set(server_files) - {f.name for f in claim.files}
                if extra:
                    problems.append(f"files only on the repository: {', '.join(sorted(extra))}")
                keys = [k for k in claim.metadata if k not in ("publication_date", "doi", "prereserve_doi")]
                if metadata_digest(remote.get("metadata") or {}, keys) != metadata_digest(claim.metadata, keys):
                    differing = [k for k in keys if (remote.get("metadata") or {}).get(k) != claim.metadata.get(k)]
                    problems.append(f"metadata differs: {', '.join(differing)}")
                if remote.get("doi") != claim.doi:
                    problems.append(f"DOI {remote.get('doi')} on the repository, {claim.doi} in the ledger")
                if problems:
                    bad += 1
                    out.write(f"* {claim.key}: {'; '.join(problems)}\n")
                else:
                    ledger.mark_verified(claim.key)
    finally:
        ledger.close()
    out.write(f"verified {checked - bad} of {checked} published records; {bad} differ\n")
    return ExitCode.OK if bad == 0 else ExitCode.RECORDS_FAILED
