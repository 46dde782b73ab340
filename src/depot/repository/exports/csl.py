"""CSL-JSON of a record (``application/vnd.citationstyles.csl+json``), one item as Zenodo serves it."""

from __future__ import annotations

from typing import Any

from depot.repository.exports import common as c

# upload_type/subtype -> CSL item type (Zenodo's vocabulary ``csl``: image-photo is "graphic").
TYPES = {("image", "photo"): "graphic", ("image", None): "figure", ("dataset", None): "dataset",
         ("software", None): "software", ("video", None): "motion_picture", ("poster", None): "speech",
         ("presentation", None): "speech", ("publication", "article"): "article-journal",
         ("publication", "book"): "book", ("publication", "section"): "chapter",
         ("publication", "conferencepaper"): "paper-conference", ("publication", "report"): "report",
         ("publication", "thesis"): "thesis", ("publication", "preprint"): "article",
         ("publication", None): "article"}


def _name(p: dict[str, Any]) -> dict[str, str]:
    if not c.is_person(p):
        return {"literal": str(p["name"])}
    family, given = c.split_name(str(p["name"]))
    return {"family": family, "given": given} if given else {"literal": family}


def _date_parts(value: str) -> list[list[int]]:
    return [[int(part) for part in value.split("-") if part.isdigit()]]


def item(record: dict[str, Any]) -> dict[str, Any]:
    m = c.meta(record)
    kind, sub = c.resource_type(record)
    out: dict[str, Any] = {
        "id": c.recid(record),
        "type": TYPES.get((kind, sub)) or TYPES.get((kind, None)) or "article",
        "title": str(m.get("title") or record.get("title") or ""),
        "issued": {"date-parts": _date_parts(c.publication_date(record))},
        "publisher": c.publisher(record),
    }
    authors = [_name(p) for p in c.people(record)]
    if authors:
        out["author"] = authors
    if c.doi(record):
        out["DOI"] = c.doi(record)
        out["URL"] = c.doi_url(record)
    if m.get("description"):
        out["abstract"] = c.plain_text(str(m["description"]))
    if c.keywords(record):
        out["keyword"] = ", ".join(c.keywords(record))
    if m.get("version"):
        out["version"] = str(m["version"])
    if m.get("language"):
        out["language"] = str(m["language"])
    return out
