"""I/O: the ledger's reporting queries, each served by an index so that a 1,000,000-row ledger answers fast.

``depot status`` must answer in under a second at that size: every figure is a grouped count over a
covering index, an index range of the few rows that matter (errors, failures, pending sync work) or a
min/max that SQLite and PostgreSQL take from one end of an index. Listings page by keyset on ``seq``
(indexed since revision 0006), never by OFFSET: each page is an index seek, so a report is O(n).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from depot.deposit.ledger.states import ACTIVE, DONE, State
from depot.deposit.ledger.tables import attempts, files, specimens, versions

PAGE = 2000  # rows per keyset page: large enough to amortise the query, small enough for flat memory


def counts_by_state(conn: sa.Connection) -> dict[str, int]:
    """Specimens per state: a grouped count over the (state, seq) index."""
    return {r[0]: int(r[1]) for r in conn.execute(
        sa.select(specimens.c.state, sa.func.count()).group_by(specimens.c.state))}


def errors_by_status(conn: sa.Connection) -> dict[str, int]:
    """Failed requests by HTTP status ("network" when no answer came), as the seed's Table 5.

    Two index ranges (no answer; >= 400) instead of one OR, which would scan every attempt."""
    grouped = sa.select(attempts.c.status, sa.func.count()).group_by(attempts.c.status)
    rows = list(conn.execute(grouped.where(attempts.c.status >= 400)).all())
    rows += conn.execute(grouped.where(attempts.c.status.is_(None))).all()
    return {str(s) if s is not None else "network": int(n) for s, n in sorted(rows, key=lambda r: r[0] or 0)}


def failures(conn: sa.Connection, limit: int) -> list[tuple[str, str | None, int | None, str | None]]:
    return [(r.key, r.step, r.last_status, r.last_error) for r in conn.execute(
        sa.select(specimens.c.key, specimens.c.step, specimens.c.last_status, specimens.c.last_error)
        .where(specimens.c.state == State.FAILED).order_by(specimens.c.seq).limit(limit))]


def _one(conn: sa.Connection, query: Any) -> Any:
    return conn.execute(query).scalar()


def throughput(conn: sa.Connection, published: int | None = None) -> dict[str, Any]:
    """Records per hour from the first request to the last publication, and the requests recorded.

    Each min and max is its own query, the form both databases answer from one end of an index.
    Attempts are only ever appended, so their count is the span of their ids and the first and last
    request are the rows at both ends; ``published`` defaults to the published and verified count.
    The span starts at the first request, not the first publication: records published together (16 in
    flight) came out at millions an hour over the milliseconds between their publications."""
    first = _one(conn, sa.select(sa.func.min(specimens.c.published_at)))
    last = _one(conn, sa.select(sa.func.max(specimens.c.published_at)))
    if published is None:
        published = int(_one(conn, sa.select(sa.func.count()).select_from(specimens)
                             .where(specimens.c.state.in_(DONE))) or 0)
    low = _one(conn, sa.select(sa.func.min(attempts.c.id)))
    high = _one(conn, sa.select(sa.func.max(attempts.c.id)))
    out: dict[str, Any] = {"published": published, "requests": int(high - low + 1) if low is not None else 0}
    if not (first and last and published > 0):
        return out
    start = datetime.fromisoformat(first)
    if low is not None:  # the first request's start: its row is written when its answer came
        row = conn.execute(sa.select(attempts.c.at, attempts.c.duration_ms).where(attempts.c.id == low)).first()
        if row is not None:
            start = min(start, datetime.fromisoformat(row.at) - timedelta(milliseconds=row.duration_ms))
    seconds = (datetime.fromisoformat(last) - start).total_seconds()
    out["records_per_hour"] = round(published / seconds * 3600, 1) if seconds > 0 else None
    return out


def version_counts(conn: sa.Connection) -> dict[str, int]:
    """Published versions in all, those edited in place since, and sync work still pending by kind."""
    total = _one(conn, sa.select(sa.func.count()).select_from(versions))
    edited = _one(conn, sa.select(sa.func.count()).select_from(versions).where(versions.c.modified_at.is_not(None)))
    pending: dict[str, int] = {}
    # Grouped over the (op, state) index: only the rows with sync work are read, however many are planned.
    for op, state, n in conn.execute(sa.select(specimens.c.op, specimens.c.state, sa.func.count())
                                     .where(specimens.c.op.is_not(None))
                                     .group_by(specimens.c.op, specimens.c.state)):
        if state in ACTIVE:
            pending[op] = pending.get(op, 0) + int(n)
    return {"versions": int(total or 0), "edited_in_place": int(edited or 0),
            "pending_edits": pending.get("edit", 0), "pending_versions": pending.get("version", 0)}


def key_pages(engine: sa.Engine, columns: list[Any], *where: Any, page: int = PAGE) -> Iterator[Sequence[Any]]:
    """Pages of specimen rows (``columns`` plus ``seq``) in source order, by keyset on the seq index.

    Each page is read in its own short transaction, so a long report never holds the database."""
    last = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(*columns, specimens.c.seq).where(specimens.c.seq > last, *where)
                                .order_by(specimens.c.seq).limit(page)).all()
        if not rows:
            return
        yield rows
        last = rows[-1].seq


def iter_versions(engine: sa.Engine) -> Iterator[dict[str, Any]]:
    """Every published version of every specimen, in source order then version order."""
    for keys in key_pages(engine, [specimens.c.key]):
        found: dict[str, list[Any]] = {k.key: [] for k in keys}
        with engine.connect() as conn:
            for v in conn.execute(sa.select(versions).where(versions.c.specimen_key.in_(list(found)))
                                  .order_by(versions.c.version)):
                found[v.specimen_key].append(v)
        for k in keys:
            for v in found[k.key]:
                yield {"key": k.key, "version": v.version, "deposition_id": v.deposition_id, "doi": v.doi,
                       "concept_doi": v.concept_doi, "metadata_hash": v.metadata_hash,
                       "files": v.files, "published_at": v.published_at, "modified_at": v.modified_at}


# One row per file (a specimen without files: one row with None for the file's columns), in source order.
REPORT_COLUMNS = ("key", "state", "doi", "record_url", "concept_doi", "deposition_id", "last_error",
                  "source_row", "rejected_file", "rejected_reason", "file", "size", "md5", "sha256")
_BOUND = sa.select(specimens.c.seq).where(specimens.c.seq > sa.bindparam("b_after")).order_by(specimens.c.seq) \
    .offset(sa.bindparam("b_skip")).limit(1)
_REPORT = sa.select(specimens.c.key, specimens.c.state, specimens.c.doi, specimens.c.record_url,
                    specimens.c.concept_doi, specimens.c.deposition_id, specimens.c.last_error,
                    specimens.c.source_row, specimens.c.rejected_file, specimens.c.rejected_reason, files.c.name,
                    files.c.size, files.c.md5, files.c.sha256) \
    .select_from(specimens.outerjoin(files, files.c.specimen_key == specimens.c.key)) \
    .where(specimens.c.seq > sa.bindparam("b_after"), specimens.c.seq <= sa.bindparam("b_upto")) \
    .order_by(specimens.c.seq, files.c.position)


def report_rows(engine: sa.Engine, page: int = PAGE) -> Iterator[Sequence[Any]]:
    """Pages of report rows (``REPORT_COLUMNS``): per page, an index seek for its last seq, then one join
    over that seq range; the rows come as the database gives them, with nothing rebuilt per specimen."""
    after = 0
    while True:
        with engine.connect() as conn:
            upto = conn.execute(_BOUND, {"b_after": after, "b_skip": page - 1}).scalar()
            if upto is None:
                upto = conn.execute(sa.select(sa.func.max(specimens.c.seq))).scalar()
                if upto is None or upto <= after:
                    return
            rows = conn.execute(_REPORT, {"b_after": after, "b_upto": upto}).all()
        yield rows
        after = upto
