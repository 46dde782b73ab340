"""Search over deposits: index terms from metadata, and compile a parsed query to SQL.

Exact-match fields live in the ``terms`` table, one row per (deposit, scope, field, value), lower-cased.
Scope ``deposit`` indexes what the owner sees (the open draft, else the record); scope ``record``
indexes the published metadata, which the public records search uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from depot.metadata import FieldError
from depot.repository.errors import ValidationError
from depot.repository.services.ids import parse_id
from depot.repository.services.query import And, Node, Not, Or, QuerySyntaxError, Range, Term, parse
from depot.repository.store import statements as st
from depot.repository.store.tables import concepts, deposits, terms

# Legacy names Zenodo's query parser maps (zenodo-rdm queryparser.py ZENODO_LEGACY_SEARCH_MAP), plus the
# RDM names, to our indexed fields.
FIELD_ALIASES = {
    "alternate.identifier": "alternate.identifier",
    "metadata.identifiers.identifier": "alternate.identifier",
    "related.identifier": "related.identifier",
    "metadata.related_identifiers.identifier": "related.identifier",
    "keywords": "keywords",
    "metadata.subjects.subject": "keywords",
    "creators.name": "creators.name",
    "metadata.creators.person_or_org.name": "creators.name",
    "communities": "communities",
    "title": "title",
    "metadata.title": "title",
    "upload_type": "upload_type",
}
COLUMN_FIELDS = {"recid": "id", "id": "id", "conceptrecid": "concept", "parent.id": "concept", "doi": "doi",
                 "pids.doi.identifier": "doi", "conceptdoi": "conceptdoi", "created": "created",
                 "updated": "modified", "modified": "modified", "publication_date": "publication_date"}


def index_terms(metadata: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, lower-cased value) pairs of ``metadata`` for exact-match search."""
    title = metadata.get("title")
    if isinstance(title, str) and title:
        yield "title", title.lower()[:1000]
    for rel in metadata.get("related_identifiers") or []:
        if isinstance(rel, dict) and isinstance(rel.get("identifier"), str):
            field = "alternate.identifier" if rel.get("relation") == "isAlternateIdentifier" else "related.identifier"
            yield field, rel["identifier"].lower()[:1000]
    for kw in metadata.get("keywords") or []:
        if isinstance(kw, str):
            yield "keywords", kw.lower()[:1000]
    for person in metadata.get("creators") or []:
        if isinstance(person, dict) and isinstance(person.get("name"), str):
            yield "creators.name", person["name"].lower()[:1000]
    for com in metadata.get("communities") or []:
        if isinstance(com, dict) and isinstance(com.get("identifier"), str):
            yield "communities", com["identifier"].lower()
    if isinstance(metadata.get("upload_type"), str):
        yield "upload_type", metadata["upload_type"].lower()
    for term, values in (metadata.get("custom") or {}).items():
        for value in values if isinstance(values, list) else []:
            if isinstance(value, str | int | float):
                yield f"custom.{term}".lower(), str(value).lower()[:1000]


def term_rows(deposit_id: int, scope: str, metadata: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The ``terms`` rows indexing ``metadata`` in ``scope``."""
    if not metadata:
        return []
    return [{"deposit_id": deposit_id, "scope": scope, "field": f, "value": v}
            for f, v in dict.fromkeys(index_terms(metadata))]


def write_terms(conn: sa.Connection, deposit_id: int, scope: str, metadata: dict[str, Any] | None) -> None:
    conn.execute(st.DELETE_TERMS, {"b_id": deposit_id, "b_scope": scope})
    rows = term_rows(deposit_id, scope, metadata)
    if rows:
        conn.execute(st.INSERT_TERMS, rows)


def compile_query(q: str | None, scope: str) -> Any:
    """A WHERE clause over ``deposits`` (joined to ``concepts``) for query string ``q``."""
    try:
        node = parse(q or "")
    except QuerySyntaxError as exc:
        raise ValidationError([FieldError("q", (f"Invalid query string syntax: {exc}",))]) from exc
    return sa.true() if node is None else _compile(node, scope)


def _term_exists(scope: str, field: str, value: Any) -> Any:
    return sa.exists().where(terms.c.deposit_id == deposits.c.id, terms.c.scope == scope,
                             terms.c.field == field, value)


def _compile(node: Node, scope: str) -> Any:
    if isinstance(node, And):
        return sa.and_(*(_compile(i, scope) for i in node.items))
    if isinstance(node, Or):
        return sa.or_(*(_compile(i, scope) for i in node.items))
    if isinstance(node, Not):
        return sa.not_(_compile(node.item, scope))
    if isinstance(node, Range):
        return _compile_range(node)
    return _compile_term(node, scope)


def _compile_term(node: Term, scope: str) -> Any:
    value = node.value.lower()
    if node.field is None:
        like = f"%{_escape_like(value)}%"
        return sa.or_(
            _term_exists(scope, "title", terms.c.value.like(like, escape="\\")),
            sa.exists().where(terms.c.deposit_id == deposits.c.id, terms.c.scope == scope, terms.c.value == value),
        )
    if node.field in COLUMN_FIELDS:
        return _column(COLUMN_FIELDS[node.field]) == _typed(COLUMN_FIELDS[node.field], node.value)
    field = FIELD_ALIASES.get(node.field)
    if field is None and node.field.startswith("custom."):
        field = node.field.lower()
    if field is None:
        raise ValidationError([FieldError("q", (f"Unknown search field: {node.field}",))])
    if field == "title":
        return _term_exists(scope, "title", terms.c.value.like(f"%{_escape_like(value)}%", escape="\\"))
    if value.endswith("*") and not node.phrase:
        return _term_exists(scope, field, terms.c.value.like(_escape_like(value[:-1]) + "%", escape="\\"))
    return _term_exists(scope, field, terms.c.value == value)


def _compile_range(node: Range) -> Any:
    name = COLUMN_FIELDS.get(node.field)
    if name is None:
        raise ValidationError([FieldError("q", (f"Ranges are not supported on {node.field}",))])
    col, clauses = _column(name), []
    if node.low is not None:
        low = _typed(name, node.low)
        clauses.append(col >= low if node.include_low else col > low)
    if node.high is not None:
        high = _typed(name, node.high)
        clauses.append(col <= high if node.include_high else col < high)
    return sa.and_(*clauses) if clauses else sa.true()


def _column(name: str) -> Any:
    return {"id": deposits.c.id, "concept": deposits.c.concept_id, "doi": deposits.c.doi,
            "conceptdoi": concepts.c.doi, "created": deposits.c.created, "modified": deposits.c.modified,
            "publication_date": deposits.c.published}[name]


def _typed(name: str, value: str) -> Any:
    if name in {"id", "concept"}:
        found = parse_id(value)
        if found is None:
            raise ValidationError([FieldError("q", (f"{value!r} is not a record id",))])
        return found
    return value


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
