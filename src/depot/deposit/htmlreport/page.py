"""PURE: the report page as HTML text, from counts and ready-made SVG. Nothing here reads or writes.

The page is self-contained: inline CSS, inline SVG, no script, and a Content-Security-Policy that
forbids every fetch, so a browser opening it from a USB stick or an e-mail attachment makes no request.
The DOI list is rendered row by row (``doi_rows``) so that a million rows are never held at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from html import escape
from http import HTTPStatus

from depot.deposit.htmlreport.counts import Problem, Reason, ReportCounts
from depot.deposit.ledger.states import State

STATE_ORDER = (State.PLANNED, State.BATCHED, State.UNCERTAIN, State.CREATED, State.UPLOADED, State.PUBLISHED,
               State.VERIFIED, State.FAILED, State.REJECTED)
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:0 auto;max-width:1000px;
padding:1em 1.5em}
h1{font-size:1.5em;margin:.2em 0}h3{font-size:1em;margin:1em 0 .2em}
h2{font-size:1.2em;margin:1.6em 0 .4em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.4em 0}td,th{padding:.15em .7em;text-align:left;border-bottom:1px solid #eee}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#666}.plot svg{width:100%;height:auto}.note{color:#555;font-size:.92em}
.cards{display:flex;flex-wrap:wrap;gap:.6em}.card{border:1px solid #ddd;border-radius:6px;padding:.4em .8em}
.card b{display:block;font-size:1.3em}.failed b,.rejected b{color:#b03a00}.published b,.verified b{color:#006d4f}
details summary{cursor:pointer}code{font-size:.92em}
"""
LINKED_ROWS = 10_000  # DOIs listed in the page; the CSV report has them all
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _n(value: int) -> str:
    return f"{value:,}"


def _reason(status: str) -> str:
    if status == "network":
        return "no answer (timeout, refused, reset)"
    try:
        return HTTPStatus(int(status)).phrase.lower()
    except ValueError:
        return ""


def head(counts: ReportCounts, generated: datetime) -> str:
    title = f"Deposit report: {counts.ledger}"
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
            f"<h1>Deposit report</h1>\n<p class=\"meta\">Ledger <code>{escape(counts.ledger)}</code>, "
            f"{generated:%Y-%m-%d %H:%M} UTC. Made by <code>depot report --html</code>; needs no network.</p>\n")


def summary(counts: ReportCounts) -> str:
    states = [s for s in STATE_ORDER if counts.states.get(s)] + sorted(
        s for s in counts.states if s not in STATE_ORDER)
    cards = "".join(f'<div class="card {escape(s)}"><b>{_n(counts.states[s])}</b>{escape(s)}</div>' for s in states)
    total = sum(counts.states.values())
    out = [f'<section id="summary"><h2>Summary</h2><div class="cards"><div class="card"><b>{_n(total)}</b>'
           f"specimens</div>{cards}<div class=\"card\"><b>{_n(counts.requests)}</b>requests</div></div>"]
    if counts.runs:
        out.append("<details><summary>Runs (latest first)</summary><table><tr><th>started</th><th>finished</th>"
                   "<th>target</th><th class=n>published</th><th class=n>failed</th><th>outcome</th></tr>")
        for run in counts.runs:
            out.append(f"<tr><td>{escape(str(run.get('started') or ''))[:19]}</td>"
                       f"<td>{escape(str(run.get('finished') or ''))[:19]}</td>"
                       f"<td>{escape(str(run.get('target')))}</td>"
                       f"<td class=n>{_n(int(str(run.get('published') or 0)))}</td>"
                       f"<td class=n>{_n(int(str(run.get('failed') or 0)))}</td>"
                       f"<td>{escape(str(run.get('outcome') or 'running or killed'))}</td></tr>")
        out.append("</table></details>")
    out.append("</section>\n")
    return "".join(out)


def plot_section(ident: str, title: str, svg: str | None, note: str) -> str:
    body = f'<div class="plot">{svg}</div>' if svg else '<p class="note">Nothing recorded yet.</p>'
    return f'<section id="{escape(ident)}"><h2>{escape(title)}</h2>{body}<p class="note">{escape(note)}</p>' \
           "</section>\n"


def errors_table(errors: dict[str, int], requests: int) -> str:
    """The pilot's Table 5 (status, count, share of the errors, response), with the share of all requests."""
    if not errors:
        return '<p class="note">No request failed.</p>'
    failed = sum(errors.values())
    rows = "".join(f"<tr><td>{escape(code)}</td><td class=n>{_n(n)}</td><td class=n>{100 * n / failed:.1f}</td>"
                   f"<td class=n>{100 * n / max(requests, 1):.2f}</td><td>{escape(_reason(code))}</td></tr>"
                   for code, n in sorted(errors.items(), key=lambda kv: -kv[1]))
    return (f'<table id="errors-by-status"><tr><th>code</th><th class=n>n</th><th class=n>% of errors</th>'
            f"<th class=n>% of requests</th><th>response</th></tr>{rows}"
            f"<tr><th>all</th><th class=n>{_n(failed)}</th><th class=n>100.0</th>"
            f"<th class=n>{100 * failed / max(requests, 1):.2f}</th><th></th></tr></table>")


def problems(listed: list[Problem], totals: dict[str, int], reasons: list[Reason]) -> str:
    out = ['<section id="problems"><h2>Failed, rejected and skipped specimens</h2>']
    if not any(totals.values()):
        out.append('<p class="note">None: every specimen is published or still on its way.</p></section>\n')
        return "".join(out)
    out.append("<p>" + ", ".join(f"{_n(n)} {escape(kind)}" for kind, n in totals.items()) + ".</p>")
    out.append('<h3>By reason</h3><table id="reasons"><tr><th>kind</th><th>step</th><th>status</th>'
               "<th class=n>specimens</th><th>for example</th></tr>")
    out += [f"<tr><td>{escape(r.kind)}</td><td>{escape(r.step or '')}</td><td>{r.status or ''}</td>"
            f"<td class=n>{_n(r.count)}</td><td>{escape(r.example[:200])}</td></tr>" for r in reasons]
    out.append('</table><h3>Each specimen</h3><table id="problem-list"><tr><th>key</th><th>kind</th>'
               "<th>step</th><th>status</th><th>reason</th></tr>")
    out += [f"<tr><td>{escape(p.key)}</td><td>{escape(p.kind)}</td><td>{escape(p.step or '')}</td>"
            f"<td>{p.status or ''}</td><td>{escape(p.reason[:500])}</td></tr>" for p in listed]
    out.append("</table>")
    if len(listed) < sum(totals.values()):
        out.append(f'<p class="note">The first {_n(len(listed))} are listed; '
                   "<code>depot report --format csv</code> lists them all.</p>")
    out.append("</section>\n")
    return "".join(out)


def doi_rows(rows: Iterable[tuple[str, str, str | None, str | None, str | None]], total: int,
             linked: int = LINKED_ROWS) -> Iterator[str]:
    """The DOI list, one row at a time, up to ``linked`` rows of ``total``: a browser does not open a page of
    a million rows (87 MB did not load in two minutes), and ``depot report --format csv`` lists them all."""
    yield ('<section id="dois"><h2>DOIs</h2><table id="doi-list"><tr><th>key</th><th>DOI</th>'
           "<th>concept DOI</th><th>published</th></tr>\n")
    count = 0
    for key, doi, concept, url, published in rows:
        if count >= linked:
            break
        link = f'<a href="https://doi.org/{escape(doi)}">{escape(doi)}</a>'
        record = f' (<a href="{escape(url)}">record</a>)' if url and url.startswith(("https://", "http://")) else ""
        yield (f"<tr><td>{escape(key)}</td><td>{link}{record}</td><td>{escape(concept or '')}</td>"
               f"<td>{escape((published or '')[:19])}</td></tr>\n")
        count += 1
    more = (f" The first {_n(count)} are listed here; <code>depot report --format csv</code> lists them all."
            if total > count else "")
    yield f'</table><p class="note">{_n(total)} specimens with a DOI.{more}</p></section>\n'


def tail() -> str:
    return "</body></html>\n"
