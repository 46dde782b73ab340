"""``depot report --html``: one self-contained HTML page about a deposit, for people.

Counting (``counts``, SQL on the ledger) is kept apart from drawing (``plots``, matplotlib to SVG) and
from the page (``page``, pure HTML text). ``write_html`` is the only function that does all three.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from depot.deposit.htmlreport import page, plots
from depot.deposit.htmlreport.counts import ReportCounts, count, count_dois, iter_dois

__all__ = ["ReportCounts", "ceiling", "write_html"]


def ceiling(seconds: int, per_minute: int | None, per_hour: int | None) -> float | None:
    """Most requests the rate limit lets through in a bucket of ``seconds``, on average."""
    limits = [n * seconds / window for n, window in ((per_minute, 60), (per_hour, 3600)) if n]
    return min(limits) if limits else None


def write_html(ledger_path: str, out: Path, per_minute: int | None, per_hour: int | None) -> ReportCounts:
    """Write the report page for the ledger to ``out`` (atomically: a reader never sees half a page)."""
    from depot.deposit.ledger import Ledger

    ledger = Ledger.open(ledger_path, create=False)
    try:
        counts = count(ledger.engine, ledger_path)
        sections = [page.head(counts, datetime.now(UTC)), page.summary(counts)]
        line = counts.timeline
        histogram = counts.requests_per_record
        records = sum(k for _, k in histogram)
        mean = sum(n * k for n, k in histogram) / records if records else None
        if per_minute or per_hour:
            caption = (f"Top: requests sent per bucket; the dashed line is the rate limit ({per_minute or '-'}/min, "
                       f"{per_hour or '-'}/h) as an average per bucket. Bottom: records published per bucket, the "
                       "ceiling that limit puts on them at the requests per record seen, and the running total.")
        else:
            caption = ("Top: requests sent per bucket. Bottom: records published per bucket and the running total. "
                       "No rate limit is known for this ledger's target, so no ceiling is drawn (--rate-limit "
                       "draws one).")
        sections.append(page.plot_section(
            "published", "Records published over time",
            plots.published_over_time(line.starts, line.seconds, line.published, line.requests,
                                      ceiling(line.seconds, per_minute, per_hour), mean) if line else None,
            caption))
        sections.append(page.plot_section(
            "errors", "Errors by HTTP status over time",
            plots.errors_over_time(line.starts, line.seconds, line.errors) if line else None,
            "Failed requests per bucket by HTTP status, as the 2019 pilot's Table 5 but over time; "
            "the table gives the totals."))
        sections.append(page.errors_table(counts.errors, counts.requests))
        sections.append(page.plot_section(
            "requests", "Requests per record",
            plots.requests_per_record(histogram) if histogram else None,
            "A record with one file takes 3 requests (create, upload, publish); more means retries or probes."
            + (f" Mean: {mean:.2f}." if mean else "")))
        sections.append(page.problems(counts.problems, counts.problem_counts, counts.reasons))
        partial = out.with_name(f".{out.name}.partial")
        with partial.open("w", encoding="utf-8") as fh:
            fh.writelines(sections)
            fh.writelines(page.doi_rows(iter_dois(ledger.engine), count_dois(ledger.engine)))
            fh.write(page.tail())
        os.replace(partial, out)
        return counts
    finally:
        ledger.close()
