"""``depot status`` and ``depot report``: what the ledger knows, for people and for programs."""

from __future__ import annotations

import csv
import sys
from typing import Any, TextIO
from urllib.parse import quote

import click
import orjson

from depot.deposit.cli import run_with_exit_codes
from depot.deposit.errors import ExitCode
from depot.deposit.links import on_target

LEDGER = click.option("--ledger", "ledger_path", default="depot-ledger.sqlite3", show_default=True,
                      help="The ledger: a SQLite file, or a postgresql:// URL.")
STATE_ORDER = ("planned", "uncertain", "created", "uploaded", "published", "verified", "failed")


@click.command("status")
@LEDGER
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(ledger_path: str, as_json: bool) -> None:
    """Counts by state, errors by HTTP status (as the pilot's Table 5), throughput and what is left."""
    run_with_exit_codes(lambda: show_status(ledger_path, as_json))


def show_status(ledger_path: str, as_json: bool, out: TextIO | None = None) -> int:
    from depot.deposit.ledger import Ledger

    out = out or sys.stdout
    ledger = Ledger.open(ledger_path, create=False)
    try:
        counts = ledger.counts_by_state()
        errors = ledger.errors_by_status()
        speed = ledger.throughput()
        failures = ledger.failures()
        versions = ledger.version_counts()
    finally:
        ledger.close()
    left = sum(counts.get(s, 0) for s in ("planned", "uncertain", "created", "uploaded"))
    if as_json:
        out.write(orjson.dumps({"states": counts, "left": left, "versions": versions, "errors_by_status": errors,
                                "throughput": speed,
                                "failures": [{"key": k, "step": s, "status": st, "message": m}
                                             for k, s, st, m in failures]}).decode() + "\n")
        return ExitCode.OK
    total = sum(counts.values())
    out.write(f"specimens: {total}\n")
    for state in STATE_ORDER:
        if counts.get(state):
            out.write(f"  {state:<10} {counts[state]:>8}\n")
    out.write(f"left to do: {left}\n")
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
        out.write(f"failed {key} at {step} ({status_code}): {message}\n")
    return ExitCode.OK


@click.command("report")
@LEDGER
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default="-", show_default=True,
              help="File to write ('-' for standard output).")
@click.option("--all-versions", is_flag=True,
              help="One row per published version (DOI, version number, files, dates) instead of per specimen.")
def report(ledger_path: str, fmt: str, output: str, all_versions: bool) -> None:
    """Per specimen: key, state, latest DOI, concept DOI, record URL, and each file's link and checksum."""
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


def file_link(record_url: str | None, name: str) -> str | None:
    """The download URL of a record's file, from the record's landing page URL (Zenodo and Depot alike)."""
    if not record_url or "/records/" not in record_url:
        return None
    base, _, recid = record_url.rstrip("/").rpartition("/records/")
    return f"{base}/api/records/{recid}/files/{quote(name)}/content"


def rows(ledger_path: str) -> Any:
    from depot.deposit.ledger import Ledger

    ledger = Ledger.open(ledger_path, create=False)
    try:
        site = record_site(ledger)
        for claim, stored_url, concept_doi in ledger.iter_report():
            record_url = on_target(stored_url, site) if site else stored_url
            yield {
                "key": claim.key, "state": claim.state, "doi": claim.doi, "record_url": record_url,
                "concept_doi": concept_doi, "deposition_id": claim.deposition_id,
                "error": claim.last_error if claim.state == "failed" else None,
                "files": [{"name": f.name, "size": f.size, "md5": f.md5, "sha256": f.sha256,
                           "link": file_link(record_url, f.name)} for f in claim.files],
            }
    finally:
        ledger.close()


def record_site(ledger: Any) -> str | None:
    """Where the ledger's records are shown now: the ledger keeps their paths, the site comes from its target
    (for local, the embedded repository's remembered address); None for a ledger that never said."""
    from depot.deposit.targets import site_url

    remembered = ledger.target()
    return site_url(remembered.name, remembered.repo_dir) if remembered is not None else None


def write_report(ledger_path: str, fmt: str, fh: TextIO) -> int:
    count = 0
    if fmt == "json":
        fh.write("[\n")
        for i, row in enumerate(rows(ledger_path)):
            fh.write(("," if i else "") + orjson.dumps(row).decode() + "\n")
            count += 1
        fh.write("]\n")
        return count
    writer = csv.writer(fh)
    writer.writerow(["key", "state", "doi", "record_url", "concept_doi", "file", "size", "md5", "sha256", "link",
                     "error"])
    for row in rows(ledger_path):
        for f in row["files"] or [{}]:
            writer.writerow([row["key"], row["state"], row["doi"], row["record_url"], row["concept_doi"],
                             f.get("name"), f.get("size"), f.get("md5"), f.get("sha256"), f.get("link"),
                             row["error"]])
        count += 1
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
