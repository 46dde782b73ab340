"""The HTML report's parts: counting in SQL by time bucket, plots as SVG, and the page's HTML (escaped)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from depot.deposit.htmlreport import ceiling, counts, page, plots, write_html
from depot.deposit.htmlreport.counts import Problem, bucket_for, bucket_start, count
from depot.deposit.ledger import Ledger
from depot.deposit.ledger.tables import attempts, specimens, versions

START = datetime(2019, 5, 16, 9, 0, tzinfo=UTC)


def make_ledger(path: Path, n: int, span: timedelta) -> str:
    """n specimens over ``span``: every 10th failed at publish (502); 3 attempts each, every 5th with a 504 more."""
    ledger = Ledger.open(str(path))
    rows, done, tries = [], [], []
    for i in range(n):
        at = (START + span * i / max(n - 1, 1)).isoformat()
        failed = i % 10 == 3
        rows.append({"key": f"urn:catalog:T:{i}", "seq": i + 1, "state": "failed" if failed else "published",
                     "step": "publish" if failed else None, "doi": None if failed else f"10.5072/depot.{i}",
                     "metadata": {}, "metadata_hash": "x", "fingerprint": "x", "last_status": 502 if failed else None,
                     "last_error": "HTTP 502: Bad Gateway" if failed else None, "created_at": at, "updated_at": at,
                     "published_at": None if failed else at})
        if not failed:
            done.append({"specimen_key": f"urn:catalog:T:{i}", "deposition_id": i, "version": 1,
                         "doi": f"10.5072/depot.{i}", "metadata_hash": "x", "files_hash": "x", "published_at": at})
        steps = ["create", "upload", "publish"] + (["publish"] if i % 5 == 0 else [])
        tries += [{"specimen_key": f"urn:catalog:T:{i}", "step": s, "duration_ms": 5, "at": at,
                   "status": 504 if (i % 5 == 0 and j == 2) else (502 if failed and s == "publish" else 200)}
                  for j, s in enumerate(steps)]
    with ledger.engine.begin() as conn:
        conn.execute(specimens.insert(), rows)
        conn.execute(versions.insert(), done)
        conn.execute(attempts.insert(), tries)
    ledger.close()
    return str(path)


@pytest.mark.parametrize(("span", "seconds"), [(timedelta(seconds=30), 1), (timedelta(minutes=30), 10),
                                               (timedelta(hours=3), 60), (timedelta(days=1), 600),
                                               (timedelta(days=9), 3600), (timedelta(days=400), 86400)])
def test_buckets_stay_few_and_fill_the_gaps(tmp_path: Path, span: timedelta, seconds: int) -> None:
    assert bucket_for(START, START + span)[1] == seconds
    path = make_ledger(tmp_path / "l.sqlite3", 300, span)
    ledger = Ledger.open(path)
    try:
        got = count(ledger.engine, path)
    finally:
        ledger.close()
    line = got.timeline
    # Under MAX_BUCKETS, except past 240 days (day buckets are the coarsest: one bar a day).
    most = max(counts.MAX_BUCKETS, span.total_seconds() / seconds) + 1
    assert line is not None and line.seconds == seconds and len(line.starts) <= most
    assert all(b - a == timedelta(seconds=seconds) for a, b in zip(line.starts, line.starts[1:], strict=False))
    assert sum(line.published) == 270 == got.states["published"]
    assert sum(line.requests) == got.requests == 300 * 3 + 60
    assert {k: sum(v) for k, v in line.errors.items()} == got.errors == {"502": 30, "504": 60}
    assert dict(got.requests_per_record) == {3: 240, 4: 60}
    assert got.problem_counts["failed"] == 30 and got.reasons[0].count == 30 and got.reasons[0].status == 502


def test_problem_list_is_capped_but_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counts, "PROBLEM_ROWS", 4)
    path = make_ledger(tmp_path / "l.sqlite3", 100, timedelta(hours=1))
    out = tmp_path / "r.html"
    got = write_html(path, out, 100, 5000)
    assert len(got.problems) == 4 and got.problem_counts["failed"] == 10
    html = out.read_text(encoding="utf-8")
    assert "The first 4 are listed" in html and html.count('href="https://doi.org/10.5072/depot.') == 90
    assert not list(tmp_path.glob(".*partial"))


def test_bucket_start_pads_prefixes() -> None:
    assert bucket_start("2019-05-16T10:3") == datetime(2019, 5, 16, 10, 30)
    assert bucket_start("2019-05-16") == datetime(2019, 5, 16)
    assert bucket_start("2019-05-16T10:31:4") == datetime(2019, 5, 16, 10, 31, 40)


def test_ceiling_takes_the_tighter_window() -> None:
    assert ceiling(60, 100, 5000) == pytest.approx(5000 / 60)  # hourly budget binds over a minute bucket
    assert ceiling(1, 100, None) == pytest.approx(100 / 60)
    assert ceiling(60, None, None) is None


def test_page_escapes_what_comes_from_the_data() -> None:
    evil = '<script>alert("x")</script>'
    html = page.problems([Problem(evil, "failed", "publish", 400, evil)], {"failed": 1}, [])
    html += "".join(page.doi_rows([(evil, '10.5072/"><img src=x>', None, "javascript:alert(1)", None)], 1))
    assert "javascript:" not in html  # a record link only for an http(s) URL
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_plots_are_inline_svg_with_ids_of_their_own() -> None:
    starts = [datetime(2019, 5, 16, 9, m) for m in range(10)]
    svgs = [plots.published_over_time(starts, 60, list(range(10)), [3 * x for x in range(10)], 100.0, 3.0),
            plots.errors_over_time(starts, 60, {"502": [1] * 10, "504": [0, 2] * 5}),
            plots.requests_per_record([(3, 50), (4, 7), (9, 1)])]
    ids: list[str] = []
    for svg in svgs:
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>") and "<?xml" not in svg
        assert not re.search(r'(href|src)="(https?:|//)|url\((https?:|//)', svg)  # no external reference
        assert "<metadata>" not in svg
        ids += re.findall(r'\bid="([^"]+)"', svg)
        refs = set(re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', svg))
        assert {r for pair in refs for r in pair if r} <= set(ids), "a reference to an id the SVG lacks"
    assert len(ids) == len(set(ids)), "two plots share an id: their clip paths would clash in one page"


def test_a_long_doi_list_is_cut_with_a_pointer_to_the_csv() -> None:
    rows = [(f"k{i}", f"10.5072/depot.{i}", None, None, "2019-05-16T10:00:00+00:00") for i in range(5)]
    html = "".join(page.doi_rows(iter(rows), 5, linked=2))
    assert html.count('<a href="https://doi.org/') == 2 and "depot report --format csv" in html
    assert "5 specimens with a DOI" in html
    short = "".join(page.doi_rows(iter(rows[:2]), 2, linked=2))
    assert "--format csv" not in short and short.count("<tr>") == 3


def test_a_run_without_failures_keeps_its_own_time_axis(monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib import dates

    figures: list = []
    monkeypatch.setattr(plots, "_svg", lambda figure, name: figures.append(figure) or "<svg/>")
    starts = [datetime(2019, 5, 16, 9, m) for m in range(10)]
    plots.errors_over_time(starts, 60, {})
    low, high = (dates.num2date(x).replace(tzinfo=None) for x in figures[0].axes[0].get_xlim())
    assert (low, high) == (starts[0], starts[-1] + timedelta(minutes=1))  # before: 1970-01-01 to 1970-01-02


@pytest.mark.parametrize(("target", "drawn"), [("zenodo", "the rate limit (100/min, 5000/h) as an average"),
                                               ("local", "No rate limit is known for this ledger")])
def test_the_report_draws_the_ceiling_of_the_ledgers_own_target(tmp_path: Path, target: str, drawn: str) -> None:
    from depot.deposit.commands.status import write_html_report
    from depot.deposit.ledger.remembered import RememberedTarget

    path = make_ledger(tmp_path / "l.sqlite3", 30, timedelta(minutes=30))
    ledger = Ledger.open(path)
    ledger.remember_target(RememberedTarget(target))
    ledger.close()
    write_html_report(path, tmp_path / "r.html", None)
    assert drawn in (tmp_path / "r.html").read_text(encoding="utf-8")
    write_html_report(path, tmp_path / "given.html", "30/600")  # --rate-limit wins over the target's
    assert "the rate limit (30/min, 600/h) as an average" in (tmp_path / "given.html").read_text(encoding="utf-8")
