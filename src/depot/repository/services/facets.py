"""Search aggregations as current Zenodo returns them (issue 12, item 5).

Zenodo's records search aggregates ``access_status``, ``resource_type`` (nested by subtype), ``subject``
and ``file_type`` (zenodo-rdm ``invenio.cfg`` ``RDM_SEARCH["facets"]``; ``publication_date`` and the
custom-field facets are not served here). Each facet answers invenio-records-resources' labelled shape:
``{"buckets": [{"key", "doc_count", "label", "is_selected"[, "inner": {"buckets": [...]}]}], "label"}``,
ten buckets at most, by count then key (an Elasticsearch ``terms`` aggregation's defaults).

The values are written as ``terms`` rows of scope ``record`` at publish (``facet.*`` fields, original
case), so an aggregation is one GROUP BY over the matching records, not a read of their metadata.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from depot.metadata import IMAGE_TYPES, PUBLICATION_TYPES, UPLOAD_TYPES
from depot.repository.services.views import Deposit
from depot.repository.store.tables import deposits, terms

FACETS = ("access_status", "resource_type", "subject", "file_type")
LABELS = {"access_status": "Access status", "resource_type": "Resource types", "subject": "Subjects",
          "file_type": "File type"}
ACCESS_LABELS = {"open": "Open", "embargoed": "Embargoed", "restricted": "Restricted",
                 "metadata-only": "Metadata-only"}
SPLIT = "::"  # resource type and subtype in one value, as NestedTermsFacet's splitchar
SIZE = 10


def facet_values(record: dict[str, Any], *, files_enabled: bool, keys: list[str]) -> list[tuple[str, str]]:
    """(facet, value) pairs of a published version with metadata ``record`` and files ``keys``."""
    out: list[tuple[str, str]] = []
    if not files_enabled:
        out.append(("access_status", "metadata-only"))
    else:
        right = record.get("access_right", "open")
        out.append(("access_status", right if right in ("open", "embargoed") else "restricted"))
    kind = record.get("upload_type")
    if isinstance(kind, str) and kind:
        out.append(("resource_type", kind))
        sub = record.get("image_type") if kind == "image" else record.get("publication_type")
        if kind in ("image", "publication") and isinstance(sub, str) and sub:
            out.append(("resource_type", f"{kind}{SPLIT}{sub}"))
    for keyword in record.get("keywords") or []:
        if isinstance(keyword, str) and keyword.strip():
            out.append(("subject", keyword[:1000]))
    for key in keys:
        ext = key.rsplit(".", 1)[1].lower() if "." in key.strip(".") else ""
        if ext:
            out.append(("file_type", ext[:100]))
    return list(dict.fromkeys(out))


def facet_rows(deposit: Deposit, record: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``terms`` rows indexing a published version's facet values."""
    return [{"deposit_id": deposit.id, "scope": "record", "field": f"facet.{facet}", "value": value}
            for facet, value in facet_values(record, files_enabled=deposit.files_enabled,
                                             keys=[f.key for f in deposit.files])]


def aggregate(conn: sa.Connection, matching: Any) -> dict[str, Any]:
    """The aggregations of the records whose ids ``matching`` (a SELECT of ``deposits.id``) yields."""
    rows = conn.execute(
        sa.select(terms.c.field, terms.c.value, sa.func.count())  # a (deposit, field, value) is written once
        .where(terms.c.scope == "record", terms.c.field.in_([f"facet.{f}" for f in FACETS]),
               terms.c.deposit_id.in_(matching))
        .group_by(terms.c.field, terms.c.value)).all()
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for field, value, count in rows:
        counts[field.removeprefix("facet.")][value] = int(count)
    return shape(counts)


def parse_filters(pairs: list[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Facet filters from query parameters: InvenioRDM's ``f=facet:value`` (repeatable; ``value`` of a
    subtype ``image::photo``) and the Zenodo-style ``facet=value`` (``resource_type=image``). Other names
    are not filters; an ``f=`` naming no facet is a ``ValueError`` whose message names it."""
    out: dict[str, list[str]] = defaultdict(list)
    for name, raw in pairs:
        if name == "f":
            facet, sep, value = raw.partition(":")
            if not sep or facet not in FACETS or not value:
                raise ValueError(f"f={raw!r}: use f=FACET:VALUE with FACET one of {', '.join(FACETS)}")
        elif name in FACETS:
            facet, value = name, raw
        else:
            continue
        if value and value not in out[facet]:
            out[facet].append(value)
    return {facet: tuple(values) for facet, values in out.items() if values}


def filtered(filters: dict[str, tuple[str, ...]]) -> Any:
    """The WHERE clause on ``deposits.id``: any of a facet's values, every facet (as Zenodo's facets)."""
    clauses = [sa.exists().where(terms.c.deposit_id == deposits.c.id, terms.c.scope == "record",
                                 terms.c.field == f"facet.{facet}", terms.c.value.in_(values))
               for facet, values in sorted(filters.items())]
    return sa.and_(sa.true(), *clauses)


def mark_selected(aggregations: dict[str, Any], filters: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """Set ``is_selected`` on the buckets the search is filtered by, and keep a selected value that has no
    hit left visible (count 0) so a page can still offer to clear it."""
    for facet, values in filters.items():
        agg = aggregations.get(facet)
        if agg is None:
            continue
        buckets = agg["buckets"]
        for value in values:
            top, _, sub = value.partition(SPLIT)
            bucket = next((b for b in buckets if b["key"] == top), None)
            if bucket is None:
                bucket = _bucket(top, 0, ACCESS_LABELS.get(top, UPLOAD_TYPES.get(top, top)))
                if facet == "resource_type":
                    bucket["inner"] = {"buckets": []}
                buckets.append(bucket)
            if not sub:
                bucket["is_selected"] = True
                continue
            inner = bucket.setdefault("inner", {"buckets": []})["buckets"]
            child = next((b for b in inner if b["key"] == sub), None)
            if child is None:
                child = _bucket(sub, 0, sub)
                inner.append(child)
            child["is_selected"] = True
    return aggregations


def _top(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:SIZE]


def _bucket(key: str, count: int, label: str) -> dict[str, Any]:
    return {"key": key, "doc_count": count, "label": label, "is_selected": False}


def shape(counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """invenio-records-resources' labelled facets from {facet: {value: count}} (pure)."""
    out: dict[str, Any] = {}
    for facet in FACETS:
        values = counts.get(facet, {})
        if facet == "resource_type":
            top = {k: v for k, v in values.items() if SPLIT not in k}
            buckets = []
            for key, count in _top(top):
                subs = {k.split(SPLIT, 1)[1]: v for k, v in values.items() if k.startswith(key + SPLIT)}
                labels = IMAGE_TYPES if key == "image" else PUBLICATION_TYPES
                bucket = _bucket(key, count, UPLOAD_TYPES.get(key, key))
                bucket["inner"] = {"buckets": [_bucket(k, c, labels.get(k, k)) for k, c in _top(subs)]}
                buckets.append(bucket)
        elif facet == "access_status":
            buckets = [_bucket(k, c, ACCESS_LABELS.get(k, k)) for k, c in _top(values)]
        elif facet == "file_type":
            buckets = [_bucket(k, c, k.upper()) for k, c in _top(values)]
        else:
            buckets = [_bucket(k, c, k) for k, c in _top(values)]
        out[facet] = {"buckets": buckets, "label": LABELS[facet]}
    return out
