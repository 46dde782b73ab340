"""``depot check``: a full dry run. Plans every record, validates it with the repository's own rules,
inspects every file and estimates the request budget. Nothing is sent anywhere."""

from __future__ import annotations

import math
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from depot.deposit.cli import (
    file_name_option,
    image_options,
    judged,
    planned_records,
    run_with_exit_codes,
    source_options,
)
from depot.deposit.commands.options_memory import given_names, meet
from depot.deposit.errors import ExitCode
from depot.deposit.targets import ZENODO_LIMITS

if TYPE_CHECKING:
    from depot.deposit.ledger import Ledger

FIRST = 5  # problems shown per kind


@click.command("check")
@source_options
@image_options
@file_name_option
@click.option("--rate-limit", default=f"{ZENODO_LIMITS[0]}/{ZENODO_LIMITS[1]}", show_default=True,
              metavar="PER_MIN[/PER_HOUR]", help="The target's rate limit, for the duration estimate.")
@click.option("--problems-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("depot-check-problems.tsv"), show_default=True,
              help="Where to list every problem found (key, kind, message).")
@click.option("--ledger", "ledger_path", default=None,
              help="Also show what `depot sync` would do against this ledger (SQLite file or postgresql:// URL).")
@click.option("--api", type=click.Choice(["legacy", "rdm"]), default="legacy", show_default=True,
              help="The API the estimate is for: legacy (one PUT per file) or rdm (init, content, commit per file).")
def check(rate_limit: str, problems_file: Path, ledger_path: str | None, file_name: str | None, api: str,
          **source: Any) -> None:
    """Dry-run SOURCE: validate every record and file, count problems, estimate requests and time."""
    given = given_names()

    def checked() -> int:
        if ledger_path is None:
            return dry_run(source, rate_limit, problems_file, file_name=file_name, api=api)
        from depot.deposit.ledger import Ledger

        ledger = Ledger.open(ledger_path, create=False)
        try:  # the ledger's source options, as a sync would take them, for the check and the sync plan both
            options = meet(ledger, {**source, "file_name": file_name}, given, new_options=False,
                           dry_run=True).options
            named = options.pop("file_name")
            return dry_run(options, rate_limit, problems_file, ledger=(ledger, ledger_path), file_name=named,
                           api=api)
        finally:
            ledger.close()

    run_with_exit_codes(checked)


def sync_plan(source: dict[str, Any], ledger: Ledger, ledger_path: str, rate_limit: str, out: TextIO,
              file_name: str | None = None) -> None:
    """What `depot sync` would send, per kind of change, without writing to the ledger or the network."""
    from depot.deposit.commands.run import parse_rate
    from depot.deposit.images import FileCheckCache
    from depot.deposit.verdict import judge

    per_minute, per_hour = parse_rate(rate_limit)
    _profile, records = planned_records(**source, check_cache=FileCheckCache(ledger.engine))
    plan = ledger.plan(judged(records, file_name), sync=True, dry_run=True,
                       judge=partial(judge, today=datetime.now(UTC).date()))
    left = (f"no new request; {plan.left} of them are still to send, as an earlier run "
            "planned them" if plan.left else "no request")
    out.write(f"sync plan against {ledger_path}:\n"
              f"  new specimens:   {plan.new + plan.changed + plan.retried} (create, one PUT per file, publish)\n"
              f"  edits in place:  {plan.edits} (3 requests each: edit, PUT metadata, publish; same DOI)\n"
              f"  new versions:    {plan.versions} (newversion, DELETE/PUT per changed file, PUT metadata, "
              f"publish; new DOI, same concept DOI)\n"
              f"  unchanged:       {plan.unchanged} ({left})\n"
              f"  gone from source: {len(plan.gone)} (reported, never deleted)\n"
              f"  rejected:        {plan.skipped} (problems in the source: nothing sent)\n"
              f"  requests: {plan.requests}; duration at {rate_limit}: "
              f"{_duration(plan.requests, per_minute, per_hour)}\n")


def dry_run(source: dict[str, Any], rate_limit: str, problems_file: Path, out: TextIO | None = None, *,
            ledger: tuple[Ledger, str] | None = None, file_name: str | None = None, api: str = "legacy") -> int:
    """What `depot run` would do, by the same verdict (depot.deposit.verdict): the specimens it would
    reject, with every problem listed in ``problems_file`` (key, row, kind, file, message). ``ledger``
    (the open ledger and its path): also what `depot sync` would do against it."""
    from depot.deposit.commands.run import parse_rate
    from depot.deposit.verdict import KeyRows, judge

    out = out or sys.stdout
    per_minute, per_hour = parse_rate(rate_limit)
    profile, records = planned_records(**source)
    today = datetime.now(UTC).date()
    counts: Counter[str] = Counter()
    first: dict[str, list[str]] = defaultdict(list)
    total_files = total_bytes = n = 0
    blocked: set[str] = set()  # keys with a problem (few, unless the source is broken)
    formats: Counter[str] = Counter()
    keys = KeyRows()
    communities: set[str] = set()
    with problems_file.open("w", encoding="utf-8") as listing:
        listing.write("key\trow\tkind\tfile\tmessage\n")

        def problem(key: str, row: int | None, kind: str, message: str, file: str | None = None) -> None:
            counts[kind] += 1
            where = f" (row {row})" if row is not None else ""
            if len(first[kind]) < FIRST:  # the sources' messages may name the row already
                first[kind].append(f"{key}{where}: {message.removeprefix(f'row {row}: ')}")
            listing.write("\t".join(_cell(v) for v in (key, row, kind, file, message)) + "\n")

        for record in judged(records, file_name):
            n += 1
            if keys.add(record.key, record.row):
                continue  # every row of a duplicate key is reported once the whole source is read
            verdict = judge(record, today=today)
            communities.update(verdict.communities)
            for report in verdict.files:
                total_files += 1
                total_bytes += report.size or 0
                if report.format:
                    formats[report.format] += 1
            total_files += len(record.sidecars)
            for finding in (*verdict.problems, *verdict.warnings):
                problem(record.key, record.row, finding.kind, finding.message, finding.file)
            if verdict.blocked:
                blocked.add(record.key)
        for key, rows in keys.duplicates.items():
            problem(key, rows[0], "duplicate", keys.message(key))
            blocked.add(key)
    per_file = 3 if api == "rdm" else 1  # RDM: POST .../draft/files, PUT .../content, POST .../commit
    requests = n * 2 + total_files * per_file
    specimens = n - sum(len(rows) - 1 for rows in keys.duplicates.values())
    ok = specimens - len(blocked)
    out.write(f"{n} rows read with profile {profile.name}: {specimens} specimens, {ok} ready, "
              f"{specimens - ok} with problems (depot run rejects them and sends nothing for them)\n")
    out.write(f"files: {total_files} ({total_bytes / 1e9:.2f} GB); formats: "
              + (", ".join(f"{k} {v}" for k, v in formats.most_common()) or "none") + "\n")
    how = "three requests per file" if api == "rdm" else "one PUT per file"
    out.write(f"requests: {requests} ({requests / max(n, 1):.2f} per record on the {api} API: create, {how}, "
              "publish)\n")
    out.write(f"duration at {rate_limit}: {_duration(requests, per_minute, per_hour)}\n")
    if communities:
        out.write(f"communities: {', '.join(sorted(communities))} (depot run checks them on the target first)\n")
    for kind, count in counts.most_common():
        out.write(f"{kind}: {count}\n")
        for line in first[kind]:
            out.write(f"  {line}\n")
    out.write(f"every problem is listed in {problems_file}\n")
    if ledger is not None:
        sync_plan(source, *ledger, rate_limit, out, file_name)
    blocking = sum(c for k, c in counts.items() if k != "note")
    return ExitCode.CHECK_FAILED if blocking else ExitCode.OK


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("\t", " ").replace("\n", " ")


def _duration(requests: int, per_minute: int | None, per_hour: int | None) -> str:
    rates = [r for r in ((per_minute or 0) * 60, per_hour or 0) if r]
    if not rates:
        return "no limit given"
    hours = requests / min(rates)
    return f"{hours:.1f} hours ({hours / 24:.1f} days)" if hours >= 1 else f"{math.ceil(hours * 60)} minutes"
