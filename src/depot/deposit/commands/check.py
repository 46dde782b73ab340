"""``depot check``: a full dry run. Plans every record, validates it with the repository's own rules,
inspects every file and estimates the request budget. Nothing is sent anywhere."""

from __future__ import annotations

import math
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from depot.deposit.cli import planned_records, run_with_exit_codes, source_options
from depot.deposit.errors import ExitCode
from depot.deposit.inspect_files import inspect
from depot.deposit.targets import ZENODO_LIMITS
from depot.metadata import check as check_metadata

FIRST = 5  # problems shown per kind


@click.command("check")
@source_options
@click.option("--rate-limit", default=f"{ZENODO_LIMITS[0]}/{ZENODO_LIMITS[1]}", show_default=True,
              metavar="PER_MIN[/PER_HOUR]", help="The target's rate limit, for the duration estimate.")
@click.option("--problems-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("depot-check-problems.tsv"), show_default=True,
              help="Where to list every problem found (key, kind, message).")
@click.option("--ledger", "ledger_path", default=None,
              help="Also show what `depot sync` would do against this ledger (SQLite file or postgresql:// URL).")
def check(rate_limit: str, problems_file: Path, ledger_path: str | None, **source: Any) -> None:
    """Dry-run SOURCE: validate every record and file, count problems, estimate requests and time."""
    run_with_exit_codes(lambda: dry_run(source, rate_limit, problems_file, ledger_path=ledger_path))


def sync_plan(source: dict[str, Any], ledger_path: str, rate_limit: str, out: TextIO) -> None:
    """What `depot sync` would send, per kind of change, without writing to the ledger or the network."""
    from depot.deposit.commands.run import parse_rate
    from depot.deposit.ledger import Ledger

    per_minute, per_hour = parse_rate(rate_limit)
    ledger = Ledger.open(ledger_path, create=False)
    try:
        _profile, records = planned_records(**source)
        plan = ledger.plan(records, sync=True, dry_run=True)
    finally:
        ledger.close()
    out.write(f"sync plan against {ledger_path}:\n"
              f"  new specimens:   {plan.new + plan.changed + plan.retried} (create, one PUT per file, publish)\n"
              f"  edits in place:  {plan.edits} (3 requests each: edit, PUT metadata, publish; same DOI)\n"
              f"  new versions:    {plan.versions} (newversion, DELETE/PUT per changed file, PUT metadata, "
              f"publish; new DOI, same concept DOI)\n"
              f"  unchanged:       {plan.unchanged} (no request)\n"
              f"  gone from source: {len(plan.gone)} (reported, never deleted)\n"
              f"  requests: {plan.requests}; duration at {rate_limit}: "
              f"{_duration(plan.requests, per_minute, per_hour)}\n")


def dry_run(source: dict[str, Any], rate_limit: str, problems_file: Path, out: TextIO | None = None, *,
            ledger_path: str | None = None) -> int:
    from depot.deposit.commands.run import parse_rate

    out = out or sys.stdout
    per_minute, per_hour = parse_rate(rate_limit)
    profile, records = planned_records(**source)
    today = datetime.now(UTC).date()
    counts: Counter[str] = Counter()
    first: dict[str, list[str]] = defaultdict(list)
    total_files = total_bytes = n = ok = 0
    formats: Counter[str] = Counter()
    with problems_file.open("w", encoding="utf-8") as listing:
        listing.write("key\tkind\tmessage\n")

        def problem(key: str, kind: str, message: str) -> None:
            counts[kind] += 1
            if len(first[kind]) < FIRST:
                first[kind].append(f"{key}: {message}")
            listing.write(f"{key}\t{kind}\t{message.replace(chr(9), ' ').replace(chr(10), ' ')}\n")

        for record in records:
            n += 1
            bad = False
            for message in record.problems:
                problem(record.key, "record", message)
                bad = True
            file_count = len(record.files) + len(record.sidecars)
            for spec in record.files:
                size, fmt, findings = inspect(spec.path, spec.name)
                total_files += 1
                total_bytes += size or 0
                if fmt:
                    formats[fmt] += 1
                for finding in findings:
                    problem(record.key, finding.kind, finding.message)
                    bad = bad or finding.kind != "note"
            total_files += len(record.sidecars)
            for error in check_metadata(record.metadata, today=today, file_count=file_count):
                problem(record.key, "metadata", f"{error.field}: {' '.join(error.messages)}")
                bad = True
            ok += not bad
    requests = n * 2 + total_files
    out.write(f"{n} specimens read with profile {profile.name}: {ok} ready, {n - ok} with problems\n")
    out.write(f"files: {total_files} ({total_bytes / 1e9:.2f} GB); formats: "
              + (", ".join(f"{k} {v}" for k, v in formats.most_common()) or "none") + "\n")
    out.write(f"requests: {requests} ({requests / max(n, 1):.2f} per record: create, one PUT per file, publish)\n")
    out.write(f"duration at {rate_limit}: {_duration(requests, per_minute, per_hour)}\n")
    for kind, count in counts.most_common():
        out.write(f"{kind}: {count}\n")
        for line in first[kind]:
            out.write(f"  {line}\n")
    out.write(f"every problem is listed in {problems_file}\n")
    if ledger_path is not None:
        sync_plan(source, ledger_path, rate_limit, out)
    blocking = sum(c for k, c in counts.items() if k != "note")
    return ExitCode.CHECK_FAILED if blocking else ExitCode.OK


def _duration(requests: int, per_minute: int | None, per_hour: int | None) -> str:
    rates = [r for r in ((per_minute or 0) * 60, per_hour or 0) if r]
    if not rates:
        return "no limit given"
    hours = requests / min(rates)
    return f"{hours:.1f} hours ({hours / 24:.1f} days)" if hours >= 1 else f"{math.ceil(hours * 60)} minutes"
