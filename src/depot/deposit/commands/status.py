"""``depot status`` and ``depot report``: what the ledger knows, for people and for programs."""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

import click
import orjson

from depot.deposit.cli import run_with_exit_codes
from depot.deposit.errors import ConfigError, ExitCode
from depot.deposit.ledger.states import State
from depot.deposit.links import on_target

LEDGER = click.option("--ledger", "ledger_path", default="depot-ledger.sqlite3", show_default=True,
                      help="The ledger: a SQLite file, or a postgresql:// URL.")


@click.command("status")
@LEDGER
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(ledger_path: str, as_json: bool) -> None:
    """Counts by state, errors by HTTP status (as the pilot's Table 5), throughput and what is left."""
    run_with_exit_codes(lambda: show_status(ledger_path, as_json))


def show_status(ledger_path: str, as_json: bool, out: TextIO | None = None) -> int:
    from depot.deposit.ledger import Ledger
    from depot.deposit.ledger.states import DONE, WAITING, State

    order = (State.PLANNED, State.BATCHED, State.UNCERTAIN, State.CREATED, State.UPLOADED, State.PUBLISHED,
             State.VERIFIED, State.FAILED, State.REJECTED)

    out = out or sys.stdout
    ledger = Ledger.open(ledger_path, create=False)
    try:
        counts = ledger.counts_by_state()
        errors = ledger.errors_by_status()
        speed = ledger.throughput(sum(counts.get(s, 0) for s in DONE))
        failures = ledger.failures()
        versions = ledger.version_counts()
        rejections = ledger.rejections()
        target, options = ledger.target(), ledger.source_options()
    finally:
        ledger.close()
    left = sum(counts.get(s, 0) for s in WAITING)
    if as_json:
        out.write(orjson.dumps({"states": counts, "left": left, "versions": versions, "errors_by_status": errors,
                                "throughput": speed,
                                "failures": [{"key": k, "step": s, "status": st, "message": m}
                                             for k, s, st, m in failures],
                                "rejected": [{"key": k, "state": s, "row": r, "file": f, "reason": m}
                                             for k, s, r, f, m in rejections],
                                "target": target.describe() if target else None,
                                "source_options": options}).decode() + "\n")
        return ExitCode.OK
    from depot.deposit.source_options import described

    total = sum(counts.values())
    if target is not None:
        out.write(f"target: {target.describe()}\n")
    if options is not None:  # what a run or sync not given them takes (depot.deposit.source_options)
        out.write(f"source options: {described(options)}\n")
    out.write(f"specimens: {total}\n")
    for name in order:
        if counts.get(name):
            out.write(f"  {name:<10} {counts[name]:>8}\n")
    held = counts.get(State.REJECTED, 0)
    out.write(f"left to do: {left}" + (f"; {held} rejected: fix the source and run again (nothing is sent for "
                                       "them until then)" if held else "") + "\n")
    if versions["versions"]:
        out.write(f"published versions: {versions['versions']} ({versions['edited_in_place']} edited in place); "
                  f"pending sync: {versions['pending_edits']} edits, {versions['pending_versions']} new versions\n")
    if errors:
        n = sum(errors.values())
        out.write("errors by HTTP status (requests):\n")
        for code, count in sorted(errors.items(), key=lambda kv: -kv[1]):
            out.write(f"  {code:<8} {count:>7}  {100 * count / n:5.1f} %\n")
    if speed.get("records_per_hour"):
        out.write(f"throughput: {speed['records_per_hour']:.0f} records/hour over {speed['published']} records, "
                  f"{speed['requests']} requests\n")
    for key, step, status_code, message in failures:
        answer = f" (HTTP {status_code})" if status_code is not None else ""  # none: failed before any answer
        out.write(f"failed {key} at {step}{answer}: {message}\n")
    for key, state, row, file, reason in rejections:
        where = ", ".join(x for x in (f"row {row}" if row is not None else "", file or "") if x)
        kept = "" if state == State.REJECTED else f" (kept {state}; not updated)"
        out.write(f"rejected {key}{f' ({where})' if where else ''}{kept}: {reason}\n")
    if len(rejections) < held:
        out.write(f"... and {held - len(rejections)} more rejected: depot report lists them all\n")
    return ExitCode.OK


@click.command("report")
@LEDGER
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default="-", show_default=True,
              help="File to write ('-' for standard output).")
@click.option("--all-versions", is_flag=True,
              help="One row per published version (DOI, version number, files, dates) instead of per specimen.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write a self-contained HTML page (plots, errors, problems, DOIs) to this file instead.")
@click.option("--rate-limit", "html_rate_limit", default=None, metavar="PER_MIN[/PER_HOUR]",
              help="The ceiling drawn in the HTML page's plots [Zenodo's 100/5000 for a ledger made with "
                   "--target zenodo or sandbox; none for another target].")
def report(ledger_path: str, fmt: str, output: str, all_versions: bool, html_path: Path | None = None,
           html_rate_limit: str | None = None) -> None:
    """Per specimen: key, state, latest DOI, concept DOI, record URL, and each file's link and checksum.
    With --html, one page to look at instead: records published over time against the rate limit, errors
    by HTTP status over time, requests per record, the specimens that failed and why, and the DOIs."""
    if html_path is not None:
        run_with_exit_codes(lambda: write_html_report(ledger_path, html_path, html_rate_limit))
        return

    def go() -> int:
        from depot.deposit.ledger.engine import database_url
        from depot.deposit.ledger.remembered import check_exists

        check_exists(ledger_path, database_url(ledger_path))  # before --output is created
        with click.open_file(output, "w", encoding="utf-8", lazy=False) as fh:
            if all_versions:
                write_versions(ledger_path, fmt, fh)  # type: ignore[arg-type]
            else:
                write_report(ledger_path, fmt, fh)  # type: ignore[arg-type]
        return ExitCode.OK

    run_with_exit_codes(go)


_URL_SAFE = re.compile(r"[A-Za-z0-9_.~/-]*")  # what quote() leaves alone: most file names


def file_link(record_url: str | None, name: str) -> str | None:
    """The download URL of a record's file, from the record's landing page URL (Zenodo and Depot alike)."""
    if not record_url or "/records/" not in record_url:
        return None
    base, _, recid = record_url.rstrip("/").rpartition("/records/")
    return f"{base}/api/records/{recid}/files/{name if _URL_SAFE.fullmatch(name) else quote(name)}/content"


def report_pages(ledger_path: str) -> Iterator[Sequence[Any]]:
    """Pages of the ledger's report rows (depot.deposit.ledger.reports.REPORT_COLUMNS), in source order."""
    from depot.deposit.ledger import Ledger
    from depot.deposit.ledger.reports import report_rows

    ledger = Ledger.open(ledger_path, create=False)  # now, not at the first page: fail before any output
    # The ledger keeps record paths; the site they are shown on comes from its target (see record_site).
    site = record_site(ledger)

    def pages() -> Iterator[Sequence[Any]]:
        try:
            for page in report_rows(ledger.engine):
                yield page if not site else [(*r[:3], on_target(r[3], site), *r[4:]) for r in page]
        finally:
            ledger.close()

    return pages()


def rows(ledger_path: str, pages: Iterator[Sequence[Any]] | None = None) -> Any:
    """One dict per specimen, with its files; a rejected specimen's error is why, with its row and file."""
    current: dict[str, Any] | None = None
    for page in pages if pages is not None else report_pages(ledger_path):
        for (key, state, doi, record_url, concept_doi, deposition_id, error, source_row, rejected_file,
             rejected_reason, name, size, md5, sha256) in page:
            if current is None or current["key"] != key:
                if current is not None:
                    yield current
                current = {"key": key, "state": state, "doi": doi, "record_url": record_url,
                           "concept_doi": concept_doi, "deposition_id": deposition_id,
                           "error": error if state == State.FAILED else rejected_reason, "row": source_row,
                           "problem_file": rejected_file, "files": []}
            if name is not None:
                current["files"].append({"name": name, "size": size, "md5": md5, "sha256": sha256,
                                         "link": file_link(record_url, name)})
    if current is not None:
        yield current


def record_site(ledger: Any) -> str | None:
    """Where the ledger's records are shown now: the ledger keeps their paths, the site comes from its target
    (for local, the embedded repository's remembered address); None for a ledger that never said."""
    from depot.deposit.targets import site_url

    remembered = ledger.target()
    return site_url(remembered.name, remembered.repo_dir) if remembered is not None else None


def write_report(ledger_path: str, fmt: str, fh: TextIO) -> int:
    count = 0
    pages = report_pages(ledger_path)
    if fmt == "json":
        fh.write("[\n")
        for i, row in enumerate(rows(ledger_path, pages)):
            fh.write(("," if i else "") + orjson.dumps(row).decode() + "\n")
            count += 1
        fh.write("]\n")
        return count
    writer = csv.writer(fh)
    writer.writerow(["key", "state", "doi", "record_url", "concept_doi", "file", "size", "md5", "sha256", "link",
                     "error", "row", "problem_file"])
    for page in pages:  # a page holds whole specimens (a range of seq)
        writer.writerows([(key, state, doi, record_url, concept_doi, name, size, md5, sha256,
                           file_link(record_url, name) if name is not None else None,
                           error if state == State.FAILED else rejected_reason, source_row, rejected_file)
                          for (key, state, doi, record_url, concept_doi, _dep, error, source_row, rejected_file,
                               rejected_reason, name, size, md5, sha256) in page])
        count += len({r[0] for r in page})
    return count


def write_versions(ledger_path: str, fmt: str, fh: TextIO) -> int:
    """Every version the ledger saw published: the concept DOI ties a specimen's versions together."""
    from depot.deposit.ledger import Ledger

    ledger = Ledger.open(ledger_path, create=False)
    count = 0
    try:
        if fmt == "json":
            fh.write("[\n")
            for i, row in enumerate(ledger.iter_versions()):
                fh.write(("," if i else "") + orjson.dumps(row).decode() + "\n")
                count += 1
            fh.write("]\n")
            return count
        writer = csv.writer(fh)
        writer.writerow(["key", "version", "doi", "concept_doi", "deposition_id", "published_at", "modified_at",
                         "metadata_hash", "file", "size", "md5"])
        for row in ledger.iter_versions():
            for f in row["files"] or [{}]:
                writer.writerow([row["key"], row["version"], row["doi"], row["concept_doi"], row["deposition_id"],
                                 row["published_at"], row["modified_at"], row["metadata_hash"], f.get("name"),
                                 f.get("size"), f.get("md5")])
            count += 1
        return count
    finally:
        ledger.close()


def write_html_report(ledger_path: str, out: Path, rate_limit: str | None) -> int:
    from depot.deposit.commands.run import parse_rate
    from depot.deposit.htmlreport import write_html

    per_minute, per_hour = parse_rate(rate_limit) if rate_limit else _target_limits(ledger_path)
    try:
        counts = write_html(ledger_path, out, per_minute, per_hour)
    except OSError as exc:
        raise ConfigError(f"--html {out}: cannot write it: {exc.strerror or exc}") from exc
    click.echo(f"report: {out} ({sum(counts.states.values())} specimens, {counts.requests} requests)", err=True)
    return ExitCode.OK


def _target_limits(ledger_path: str) -> tuple[int | None, int | None]:
    """The rate limit of the ledger's own target (a ceiling at Zenodo's 100/min under a local run's 100
    requests a second said nothing true)."""
    from depot.deposit.ledger import Ledger
    from depot.deposit.targets import known_limits

    ledger = Ledger.open(ledger_path, create=False)
    try:
        remembered = ledger.target()
    finally:
        ledger.close()
    return known_limits(remembered.name) if remembered is not None else (None, None)
