"""The report's plots: counts in, inline SVG text out, drawn by matplotlib (its SVG backend, no display).

Every id in a figure's SVG is prefixed with the figure's name, so that several SVGs inlined in one page
share no id (their clip paths and glyphs would otherwise resolve to another figure's). Glyphs are drawn
as paths: the page needs no font and no network to look right.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from itertools import accumulate
from typing import Any

import matplotlib
import matplotlib.dates
from matplotlib.figure import Figure

_dates: Any = matplotlib.dates  # untyped functions: called through Any for mypy --strict

# Colour-blind-safe (Okabe-Ito), in the order statuses are drawn.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")
PUBLISHED = "#0072B2"
_ABOVE: dict[str, Any] = {"loc": "lower left", "bbox_to_anchor": (0, 1.0), "frameon": False}  # legends off the bars
CEILING = "#D55E00"
_STYLE: dict[str, Any] = {"svg.fonttype": "path", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
          "axes.grid": True, "grid.alpha": 0.3, "svg.image_inline": True}


def _style(**extra: Any) -> Any:
    """matplotlib.rc_context with the report's style (its stubs take only literal keys)."""
    rc: Any = {**_STYLE, **extra}
    return matplotlib.rc_context(rc)


def _svg(figure: Figure, name: str) -> str:
    buffer = io.StringIO()
    with _style(**{"svg.hashsalt": f"depot-{name}"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG is inlined in HTML
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)  # RDF boilerplate
    # One HTML page holds every plot: give each figure's ids (groups, clip paths, glyphs) its own prefix.
    return re.sub(r'(\bid="|url\(#|href="#)([^")]+)', lambda m: f"{m.group(1)}{name}-{m.group(2)}", text)


def _days(starts: Sequence[datetime], seconds: int) -> tuple[list[float], float]:
    """Bucket starts as matplotlib date numbers (days), and a bar width a little under one bucket."""
    return [float(x) for x in _dates.date2num(list(starts))], seconds * 0.85 / 86400


def _time_axis(figure: Figure) -> None:
    for ax in figure.axes:
        locator = _dates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(_dates.ConciseDateFormatter(locator))


def _unit(seconds: int) -> str:
    return {1: "second", 10: "10 s", 60: "minute", 600: "10 min", 3600: "hour", 86400: "day"}.get(
        seconds, f"{seconds} s")


def published_over_time(starts: Sequence[datetime], seconds: int, published: Sequence[int],
                        requests: Sequence[int], ceiling_requests: float | None,
                        requests_per_record: float | None) -> str:
    """Requests per bucket against the rate limit's ceiling (top); records published per bucket, the
    ceiling that rate limit puts on them at the observed requests per record, and the running total."""
    with _style():
        figure = Figure(figsize=(9, 5.2), layout="constrained")
        top, bottom = figure.subplots(2, 1, sharex=True)
        x, width = _days(starts, seconds)
        top.bar(x, requests, width=width, align="edge", color="#56B4E9", label="requests sent")
        if ceiling_requests:
            top.axhline(ceiling_requests, color=CEILING, linestyle="--", label="rate-limit ceiling")
        top.set_ylabel(f"requests per {_unit(seconds)}")
        top.legend(ncols=2, **_ABOVE)
        bottom.bar(x, published, width=width, align="edge", color=PUBLISHED, label="records published")
        if ceiling_requests and requests_per_record:
            bottom.axhline(ceiling_requests / requests_per_record, color=CEILING, linestyle="--",
                           label=f"ceiling at {requests_per_record:.1f} requests per record")
        bottom.set_ylabel(f"records per {_unit(seconds)}")
        total = bottom.twinx()
        total.plot([v + seconds / 86400 for v in x], list(accumulate(published)), color="#333333",
                   linewidth=1.2, label="published in all")
        total.set_ylabel("published in all")
        total.grid(False)
        total.set_ylim(bottom=0)
        handles = bottom.get_legend_handles_labels()
        more = total.get_legend_handles_labels()
        bottom.legend(handles[0] + more[0], handles[1] + more[1], ncols=3, **_ABOVE)
        _time_axis(figure)
        return _svg(figure, "published")


def errors_over_time(starts: Sequence[datetime], seconds: int, errors: Mapping[str, Sequence[int]]) -> str:
    """Failed requests per bucket, stacked by HTTP status ("network": no answer)."""
    with _style():
        figure = Figure(figsize=(9, 3.2), layout="constrained")
        ax = figure.subplots()
        x, width = _days(starts, seconds)
        base = [0] * len(starts)
        for i, (status, counts) in enumerate(errors.items()):
            ax.bar(x, counts, width=width, align="edge", bottom=base, color=PALETTE[i % len(PALETTE)],
                   label=f"{status} ({sum(counts)})")
            base = [b + c for b, c in zip(base, counts, strict=True)]
        ax.set_ylabel(f"failed requests per {_unit(seconds)}")
        if errors:
            ax.legend(ncols=min(len(errors), 8), title="HTTP status (failed requests)", **_ABOVE)
        else:
            ax.text(0.5, 0.5, "no failed requests", transform=ax.transAxes, ha="center", va="center")
            if x:  # no bars to place the axis: the run's own span, not 1970
                ax.set_xlim(x[0], x[-1] + seconds / 86400)
        _time_axis(figure)
        return _svg(figure, "errors")


def requests_per_record(histogram: Sequence[tuple[int, int]]) -> str:
    """How many records took how many requests (3 is a one-file record with no retry)."""
    with _style():
        figure = Figure(figsize=(9, 2.8), layout="constrained")
        ax = figure.subplots()
        if histogram:
            ax.bar([n for n, _ in histogram], [k for _, k in histogram], width=0.8, color=PUBLISHED)
            ax.set_xticks([n for n, _ in histogram] if len(histogram) <= 30 else ax.get_xticks())
        else:
            ax.text(0.5, 0.5, "no requests recorded", transform=ax.transAxes, ha="center", va="center")
        ax.set_xlabel("requests for one record (retries and probes included)")
        ax.set_ylabel("records")
        return _svg(figure, "requests")
