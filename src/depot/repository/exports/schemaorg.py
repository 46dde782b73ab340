"""schema.org JSON-LD of a record, for landing pages and ``application/ld+json`` (standards §5).

Every record is typed ``Dataset`` as well as its own kind (``Photograph`` for image-photo), because Google
Dataset Search only indexes ``Dataset`` and Zenodo's image-only typing keeps specimen images out of it. Types
are compact ("Photograph", not "https://schema.org/Photograph"), which validators require.
"""

from __future__ import annotations

from typing import Any

from depot.repository.exports import common as c

TYPES = {
    ("image", "photo"): "Photograph", ("image", None): "ImageObject", ("dataset", None): "Dataset",
    ("software", None): "SoftwareSourceCode", ("video", None): "MediaObject", ("poster", None): "Poster",
    ("presentation", None): "PresentationDigitalDocument", ("lesson", None): "Course",
    ("publication", "article"): "ScholarlyArticle", ("publication", "book"): "Book",
    ("publication", "thesis"): "Thesis", ("publication", "report"): "Report",
}


def schema_type(record: dict[str, Any]) -> str:
    kind, sub = c.resource_type(record)
    return TYPES.get((kind, sub)) or TYPES.get((kind, None)) or "CreativeWork"


def _agent(person: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"@type": "Person" if c.is_person(person) else "Organization", "name": person["name"]}
    orcid = c.orcid_url(person)
    if orcid:
        out["@id"] = orcid
    if out["@type"] == "Person":
        family, given = c.split_name(str(person["name"]))
        out["familyName"] = family
        if given:
            out["givenName"] = given
    if person.get("affiliation"):
        out["affiliation"] = {"@type": "Organization", "name": person["affiliation"]}
    return out


def _spatial(m: dict[str, Any]) -> list[dict[str, Any]]:
    places = []
    for loc in m.get("locations") or []:
        if not isinstance(loc, dict) or not loc.get("place"):
            continue
        place: dict[str, Any] = {"@type": "Place", "name": loc["place"]}
        if loc.get("description"):
            place["description"] = loc["description"]
        if loc.get("lat") is not None and loc.get("lon") is not None:
            place["geo"] = {"@type": "GeoCoordinates", "latitude": loc["lat"], "longitude": loc["lon"]}
        places.append(place)
    return places


def _temporal(m: dict[str, Any]) -> list[str]:
    spans = []
    for d in m.get("dates") or []:
        if isinstance(d, dict) and (d.get("start") or d.get("end")):
            start, end = d.get("start") or "..", d.get("end") or ".."
            spans.append(start if start == end else f"{start}/{end}")
    return spans


def _specimen_links(record: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """(isBasedOn URLs, extra identifiers): the specimen a record derives from, and its catalogue keys."""
    based_on: list[str] = []
    identifiers: list[dict[str, Any]] = []
    for rel in c.related(record):
        ident = str(rel["identifier"])
        if rel.get("relation") == "isAlternateIdentifier":
            identifiers.append({"@type": "PropertyValue", "propertyID": rel.get("scheme") or "other",
                                "value": ident})
        elif rel.get("relation") in ("isDerivedFrom", "documents", "isSupplementTo") and ident.startswith("http"):
            based_on.append(ident)
    return based_on, identifiers


def jsonld(record: dict[str, Any]) -> dict[str, Any]:
    """The schema.org JSON-LD document of a published record (the records-API JSON)."""
    m = c.meta(record)
    kind = schema_type(record)
    doc: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": [kind] if kind == "Dataset" else ["Dataset", kind],
    }
    doi_url = c.doi_url(record)
    if doi_url:
        doc["@id"] = doi_url
    based_on, extra_ids = _specimen_links(record)
    ids: list[Any] = [doi_url] if doi_url else []
    doc["identifier"] = (ids + extra_ids) if extra_ids else (doi_url or c.recid(record))
    doc["name"] = m.get("title") or record.get("title") or ""
    description = c.plain_text(str(m.get("description") or ""))
    if description:
        doc["description"] = description
    url = c.landing_url(record)
    if url:
        doc["url"] = url
    lic = c.license_id(record)
    lic_url = c.license_url(lic) if lic else None
    if lic_url:
        doc["license"] = lic_url
    creators = [_agent(p) for p in c.people(record)]
    if creators:
        doc["creator"] = creators
        doc["author"] = creators
    contributors = [_agent(p) for p in c.people(record, "contributors")]
    if contributors:
        doc["contributor"] = contributors
    doc["datePublished"] = c.publication_date(record)
    if record.get("modified"):
        doc["dateModified"] = record["modified"]
    doc["publisher"] = {"@type": "Organization", "name": c.publisher(record)}
    keywords = c.keywords(record) + [str(s["term"]) for s in m.get("subjects") or []
                                     if isinstance(s, dict) and s.get("term")]
    if keywords:
        doc["keywords"] = keywords
    if m.get("language"):
        doc["inLanguage"] = m["language"]
    if m.get("version"):
        doc["version"] = m["version"]
    doc["isAccessibleForFree"] = c.is_open(record)
    spatial, temporal = _spatial(m), _temporal(m)
    if spatial:
        doc["spatialCoverage"] = spatial
    if temporal:
        doc["temporalCoverage"] = temporal[0] if len(temporal) == 1 else temporal
    if based_on:
        doc["isBasedOn"] = based_on
    if c.is_open(record):  # restricted files are not downloadable, so no content URLs are announced
        downloads = [{"@type": "DataDownload", "name": f["key"], "contentUrl": c.file_url(f),
                      "encodingFormat": c.media_type(f["key"]), "contentSize": f"{f.get('size', 0)} B"}
                     for f in c.files(record) if c.file_url(f)]
        if downloads:
            doc["distribution"] = downloads
            images = [d for d in downloads if str(d["encodingFormat"]).startswith("image/")]
            if images:
                doc["contentUrl"] = images[0]["contentUrl"]
                doc["encodingFormat"] = images[0]["encodingFormat"]
                doc["image"] = [d["contentUrl"] for d in images]
    return doc
