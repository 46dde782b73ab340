"""I/O: what the HTML report shows, counted in SQL from the ledger's tables (bounded memory).

Time series are bucketed in the database by a prefix of the ISO timestamps the ledger stores
(``2026-12-02T10:3`` is a ten-minute bucket), so a million-row ledger returns at most a few hundred
rows per series; gaps are filled here. Long lists (problems, DOIs) are read in pages or capped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from depot.deposit.ledger.states import DONE, State
from depot.deposit.ledger.tables import attempts, runs, specimens, versions

# (prefix length of an ISO timestamp, bucket seconds), finest first.
BUCKETS = ((19, 1), (18, 10), (16, 60), (15, 600), (13, 3600), (10, 86400))
MAX_BUCKETS = 240
PROBLEM_ROWS = 1000  # problem specimens listed one by one; the rest are counted
PAGE = 5000
_PADDING = "0000-01-01T00:00:00"


@dataclass(frozen=True)
class Timeline:
    """Per time bucket (gaps filled with zeros): records published, requests sent, errors by status."""

    seconds: int
    starts: list[datetime]
    published: list[int]
    requests: list[int]
    errors: dict[str, list[int]]  # "404", "504", "network"... -> count per bucket


@dataclass(frozen=True)
class Problem:
    key: str
    kind: str  # failed, rejected or skipped
    step: str | None
    status: int | None
    reason: str


@dataclass(frozen=True)
class Reason:
    kind: str
    step: str | None
    status: int | None
    count: int
    example: str


@dataclass(frozen=True)
class ReportCounts:
    ledger: str
    states: dict[str, int]
    requests: int
    errors: dict[str, int]  # over the whole ledger, as the pilot's Table 5
    requests_per_record: list[tuple[int, int]]  # (requests, records)
    timeline: Timeline | None
    problems: list[Problem]
    problem_counts: dict[str, int]  # kind -> specimens
    reasons: list[Reason]
    runs: list[dict[str, object]] = field(default_factory=list)


def bucket_for(first: datetime, last: datetime) -> tuple[int, int]:
    """The finest bucket (prefix length, seconds) that keeps the series under MAX_BUCKETS."""
    span = (last - first).total_seconds()
    for prefix, seconds in BUCKETS:
        if span / seconds < MAX_BUCKETS:
            return prefix, seconds
    return BUCKETS[-1]


def bucket_start(prefix: str) -> datetime:
    """``2026-12-02T10:3`` -> 2026-12-02 10:30:00 (naive UTC)."""
    return datetime.fromisoformat(prefix + _PADDING[len(prefix):])


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).replace(tzinfo=None) if value else None


def _is_problem(kind: str) -> sa.ColumnElement[bool]:
    if kind == "skipped":  # planned work that the source flagged, but not (yet) rejected
        return sa.and_(specimens.c.problems.is_not(None),
                       specimens.c.state.not_in([State.FAILED, State.REJECTED]))
    return specimens.c.state == kind


def count(engine: sa.Engine, ledger: str) -> ReportCounts:
    with engine.connect() as conn:
        states = {str(s): int(n) for s, n in conn.execute(
            sa.select(specimens.c.state, sa.func.count()).group_by(specimens.c.state))}
        requests = int(conn.execute(sa.select(sa.func.count()).select_from(attempts)).scalar_one())
        errors = {str(s) if s is not None else "network": int(n) for s, n in sorted(conn.execute(
            sa.select(attempts.c.status, sa.func.count()).where(_failed_request())
            .group_by(attempts.c.status)).all(), key=lambda r: r[0] or 0)}
        per_key = (sa.select(sa.func.count().label("n")).where(attempts.c.specimen_key.is_not(None))
                   .group_by(attempts.c.specimen_key).subquery())
        histogram = sorted((int(n), int(k)) for n, k in conn.execute(
            sa.select(per_key.c.n, sa.func.count()).group_by(per_key.c.n)))
        timeline = _timeline(conn)
        problems, counts, reasons = _problems(conn)
        run_rows = [dict(r._mapping) for r in conn.execute(sa.select(runs).order_by(runs.c.id.desc()).limit(20))]
    return ReportCounts(ledger=ledger, states=states, requests=requests, errors=errors,
                        requests_per_record=histogram, timeline=timeline, problems=problems,
                        problem_counts=counts, reasons=reasons, runs=run_rows)


def _failed_request() -> sa.ColumnElement[bool]:
    return sa.or_(attempts.c.status.is_(None), attempts.c.status >= 400)


def _timeline(conn: sa.Connection) -> Timeline | None:
    ends = [_parse(v) for v in conn.execute(sa.select(sa.func.min(attempts.c.at), sa.func.max(attempts.c.at))).one()]
    ends += [_parse(v) for v in conn.execute(sa.select(sa.func.min(versions.c.published_at),
                                                       sa.func.max(versions.c.published_at))).one()]
    known = [e for e in ends if e is not None]
    if not known:
        return None
    first, last = min(known), max(known)
    prefix, seconds = bucket_for(first, last)

    def by_bucket(column: sa.ColumnElement[str], *where: sa.ColumnElement[bool],
                  extra: sa.ColumnElement[int] | None = None) -> list[Any]:
        bucket = sa.func.substr(column, 1, prefix).label("bucket")
        cols = [bucket, *([extra] if extra is not None else []), sa.func.count()]
        query = sa.select(*cols).where(*where).group_by(bucket, *([extra] if extra is not None else []))
        return list(conn.execute(query))

    start = bucket_start(first.isoformat()[:prefix])
    n = int((bucket_start(last.isoformat()[:prefix]) - start).total_seconds() // seconds) + 1
    starts = [start + timedelta(seconds=seconds * i) for i in range(n)]

    def index(bucket: str) -> int:
        return int((bucket_start(bucket) - start).total_seconds() // seconds)

    published = [0] * n
    for bucket, k in by_bucket(versions.c.published_at):
        published[index(bucket)] += int(k)
    requests = [0] * n
    errors: dict[str, list[int]] = {}
    for bucket, status, k in by_bucket(attempts.c.at, extra=attempts.c.status):  # one scan for both
        requests[index(bucket)] += int(k)
        if status is None or status >= 400:
            errors.setdefault(str(status) if status is not None else "network", [0] * n)[index(bucket)] += int(k)
    return Timeline(seconds=seconds, starts=starts, published=published, requests=requests,
                    errors=dict(sorted(errors.items())))


def _problems(conn: sa.Connection) -> tuple[list[Problem], dict[str, int], list[Reason]]:
    reason = sa.func.coalesce(specimens.c.problems, specimens.c.last_error, "")
    problems: list[Problem] = []
    counts: dict[str, int] = {}
    reasons: list[Reason] = []
    for kind in (State.FAILED, State.REJECTED, "skipped"):
        where = _is_problem(kind)
        counts[kind] = int(conn.execute(sa.select(sa.func.count()).select_from(specimens).where(where)).scalar_one())
        if not counts[kind]:
            continue
        left = PROBLEM_ROWS - len(problems)
        if left > 0:
            problems += [Problem(r.key, str(kind), r.step, r.last_status, r.reason or "") for r in conn.execute(
                sa.select(specimens.c.key, specimens.c.step, specimens.c.last_status, reason.label("reason"))
                .where(where).order_by(specimens.c.seq).limit(left))]
        reasons += [Reason(str(kind), step, status, int(k), example or "") for step, status, k, example in
                    conn.execute(sa.select(specimens.c.step, specimens.c.last_status, sa.func.count(),
                                           sa.func.min(reason)).where(where)
                                 .group_by(specimens.c.step, specimens.c.last_status)
                                 .order_by(sa.func.count().desc()).limit(50))]
    return problems, counts, reasons


def count_dois(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count(specimens.c.doi))).scalar_one())


def iter_dois(engine: sa.Engine) -> Iterator[tuple[str, str, str | None, str | None, str | None]]:
    """(key, DOI, concept DOI, record URL, published at) of every specimen with a DOI: the published and
    verified ones, then those whose new version or edit is under way, each group in source order.

    One query per state, read in chunks (``yield_per``), each walking the (state, seq) index: ordering
    the whole table by seq would sort a million rows, and paging by ``seq > last`` rescans it per page.
    """
    columns = (specimens.c.key, specimens.c.doi, specimens.c.concept_doi, specimens.c.record_url,
               specimens.c.published_at)
    order = [*DONE, *(s for s in State if s not in DONE)]
    with engine.connect() as conn:
        for state in order:
            query = (sa.select(*columns).where(specimens.c.state == state, specimens.c.doi.is_not(None))
                     .order_by(specimens.c.seq))
            for row in conn.execution_options(yield_per=PAGE).execute(query):
                yield row.key, row.doi, row.concept_doi, row.record_url, row.published_at
