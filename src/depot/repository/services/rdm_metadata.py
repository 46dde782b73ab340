"""InvenioRDM record JSON <-> the legacy deposit metadata Depot stores (pure).

Both APIs work on one data model: a deposit's ``draft``/``record`` columns hold legacy (Zenodo deposit)
metadata, so a record made through one API is read and edited through the other. This module translates
the RDM body of ``POST /api/records`` and ``PUT /api/records/{id}/draft`` into that metadata, and back
for the RDM serializer. The correspondences follow current Zenodo's legacy layer (zenodo-rdm
``site/zenodo_rdm/legacy/``) and InvenioRDM's metadata reference (docs-invenio-rdm
``docs/reference/metadata.md``); docs/api.md lists them.
"""

from __future__ import annotations

from typing import Any

from depot.metadata import (
    CONTRIBUTOR_TYPES,
    CUSTOM_NAMESPACES,
    IMAGE_TYPES,
    PUBLICATION_TYPES,
    RELATIONS,
    UPLOAD_TYPES,
    FieldError,
)

# RDM custom fields that carry legacy journal, conference, imprint and thesis fields (zenodo-rdm's
# ``custom_fields`` of the same names).
JOURNAL = {"title": "journal_title", "volume": "journal_volume", "issue": "journal_issue", "pages": "journal_pages"}
MEETING = {"title": "conference_title", "acronym": "conference_acronym", "dates": "conference_dates",
           "place": "conference_place", "url": "conference_url", "session": "conference_session",
           "session_part": "conference_session_part"}
IMPRINT = {"isbn": "imprint_isbn", "place": "imprint_place", "title": "partof_title", "pages": "partof_pages"}
ADDITIONAL = {"notes": "notes", "other": "notes", "methods": "method"}


class RdmBodyError(Exception):
    """Raised when an RDM request body has the wrong shape; ``errors`` carries every field at once."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("A validation error occurred.")
        self.errors = errors


def _list_of_dicts(value: object, field: str, errors: list[FieldError]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        errors.append(FieldError(field, ("Not a valid list.",)))
        return []
    return value


def _dicts(value: object) -> list[dict[str, Any]]:
    """The objects of a list, for nested lists whose other items are ignored (affiliations, identifiers)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _id_of(value: object) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


# -- RDM -> legacy ---------------------------------------------------------------------------------------
def to_legacy(body: dict[str, Any]) -> tuple[dict[str, Any], bool | None]:
    """The legacy metadata of an RDM body, and its ``files.enabled`` (None when the body does not say).

    Raises RdmBodyError for a wrong shape; value rules (dates, vocabularies) are the legacy model's."""
    errors: list[FieldError] = []
    meta = body.get("metadata") or {}
    if not isinstance(meta, dict):
        raise RdmBodyError([FieldError("metadata", ("Invalid input type.",))])
    out: dict[str, Any] = {}
    for name in ("title", "description", "publication_date", "version"):
        if meta.get(name) is not None:
            out[name] = meta[name]
    if meta.get("publisher"):
        out["imprint_publisher"] = meta["publisher"]
    _resource_type(meta.get("resource_type"), out, errors)
    for field in ("creators", "contributors"):
        people = [_person(p, f"metadata.{field}.{i}", errors, contributor=field == "contributors")
                  for i, p in enumerate(_list_of_dicts(meta.get(field), f"metadata.{field}", errors))]
        if people:
            out[field] = people
    _subjects(meta.get("subjects"), out, errors)
    rights = _list_of_dicts(meta.get("rights"), "metadata.rights", errors)
    if rights and _id_of(rights[0]):
        out["license"] = _id_of(rights[0])
    languages = _list_of_dicts(meta.get("languages"), "metadata.languages", errors)
    if languages and _id_of(languages[0]):
        out["language"] = _id_of(languages[0])
    related = [{k: v for k, v in {
        "identifier": r.get("identifier"), "scheme": r.get("scheme"),
        "relation": RELATIONS.get(str(_id_of(r.get("relation_type")) or "").lower(), _id_of(r.get("relation_type"))),
        "resource_type": _id_of(r.get("resource_type"))}.items() if v is not None}
        for r in _list_of_dicts(meta.get("related_identifiers"), "metadata.related_identifiers", errors)]
    # RDM's alternate identifiers are legacy related identifiers "isAlternateIdentifier" (zenodo-rdm
    # legacy deserializer), which the search indexes as alternate.identifier; they go first.
    related = [{"identifier": i["identifier"], "relation": "isAlternateIdentifier",
                 **({"scheme": i["scheme"]} if isinstance(i.get("scheme"), str) else {})}
                for i in _list_of_dicts(meta.get("identifiers"), "metadata.identifiers", errors)
                if isinstance(i.get("identifier"), str)] + related
    if related:
        out["related_identifiers"] = related
    dates = [_date(d) for d in _list_of_dicts(meta.get("dates"), "metadata.dates", errors)]
    if dates:
        out["dates"] = dates
    _locations(meta.get("locations"), out, errors)
    references = [r["reference"] for r in _list_of_dicts(meta.get("references"), "metadata.references", errors)
                  if isinstance(r.get("reference"), str)]
    if references:
        out["references"] = references
    for i, extra in enumerate(_list_of_dicts(meta.get("additional_descriptions"), "metadata.additional_descriptions",
                                             errors)):
        target = ADDITIONAL.get(str(_id_of(extra.get("type")) or "other"))
        if target is None:
            errors.append(FieldError(f"metadata.additional_descriptions.{i}.type", ("Invalid value.",)))
        elif extra.get("description") is not None:
            out[target] = extra["description"]
    grants = [{"id": _id_of(f.get("award"))} for f in _list_of_dicts(meta.get("funding"), "metadata.funding", errors)
              if _id_of(f.get("award"))]
    if grants:
        out["grants"] = grants
    _access(body.get("access"), out, errors)
    _custom_fields(body.get("custom_fields"), out, errors)
    _pids(body.get("pids"), out, errors)
    files = body.get("files")
    enabled = None
    if files is not None:
        if not isinstance(files, dict) or not isinstance(files.get("enabled", True), bool):
            errors.append(FieldError("files.enabled", ("Not a valid boolean.",)))
        else:
            enabled = bool(files.get("enabled", True))
    if errors:
        raise RdmBodyError(errors)
    return out, enabled


def _resource_type(value: object, out: dict[str, Any], errors: list[FieldError]) -> None:
    if value is None:
        return
    rid = _id_of(value)
    if rid is None:
        errors.append(FieldError("metadata.resource_type", ("Invalid value.",)))
        return
    main, _, sub = rid.partition("-")
    out["upload_type"] = main
    if sub and main == "image":
        out["image_type"] = sub
    elif sub and main == "publication":
        out["publication_type"] = sub


def _person(entry: dict[str, Any], field: str, errors: list[FieldError], *, contributor: bool) -> dict[str, Any]:
    who = entry.get("person_or_org")
    if not isinstance(who, dict):
        errors.append(FieldError(f"{field}.person_or_org", ("Missing data for required field.",)))
        return {}
    name = who.get("name")
    if not name:
        family, given = who.get("family_name") or "", who.get("given_name") or ""
        name = f"{family}, {given}" if family and given else (family or given)
    person: dict[str, Any] = {"name": name}
    affiliations = [str(a["name"]) for a in _dicts(entry.get("affiliations")) if a.get("name")]
    if affiliations:
        person["affiliation"] = "; ".join(affiliations)
    for ident in _dicts(who.get("identifiers")):
        if ident.get("scheme") in ("orcid", "gnd"):
            person[str(ident["scheme"])] = ident.get("identifier")
    role = _id_of(entry.get("role"))
    if contributor:
        person["type"] = CONTRIBUTOR_TYPES.get(str(role or "other").lower(), role)
    return person


def _subjects(value: object, out: dict[str, Any], errors: list[FieldError]) -> None:
    keywords, subjects = [], []
    for s in _list_of_dicts(value, "metadata.subjects", errors):
        if s.get("id"):  # a controlled term
            subjects.append({"term": s.get("subject") or s["id"], "identifier": s["id"], "scheme": s.get("scheme")})
        elif s.get("subject"):
            keywords.append(s["subject"])
    if keywords:
        out["keywords"] = keywords
    if subjects:
        out["subjects"] = subjects


def _date(d: dict[str, Any]) -> dict[str, Any]:
    text = str(d.get("date") or "")
    start, _, end = text.partition("/")
    item: dict[str, Any] = {"start": start or None, "end": (end or start) or None,
                            "type": str(_id_of(d.get("type")) or "").capitalize()}
    if d.get("description"):
        item["description"] = d["description"]
    return {k: v for k, v in item.items() if v is not None}


def _locations(value: object, out: dict[str, Any], errors: list[FieldError]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        errors.append(FieldError("metadata.locations", ("Invalid input type.",)))
        return
    found = []
    for feature in _list_of_dicts(value.get("features"), "metadata.locations.features", errors):
        loc: dict[str, Any] = {"place": feature.get("place")}
        geometry = feature.get("geometry")
        if isinstance(geometry, dict) and geometry.get("type") == "Point":
            coords = geometry.get("coordinates")
            if isinstance(coords, list) and len(coords) == 2:
                loc["lon"], loc["lat"] = coords
        if feature.get("description"):
            loc["description"] = feature["description"]
        found.append(loc)
    if found:
        out["locations"] = found


def _access(value: object, out: dict[str, Any], errors: list[FieldError]) -> None:
    """RDM ``access`` -> legacy ``access_right`` (zenodo-rdm legacy ``dump_access_right`` in reverse)."""
    if value is None:
        return
    if not isinstance(value, dict):
        errors.append(FieldError("access", ("Invalid input type.",)))
        return
    for key in ("record", "files"):
        if value.get(key, "public") not in ("public", "restricted"):
            errors.append(FieldError(f"access.{key}", ("Must be one of: public, restricted.",)))
    embargo: dict[str, Any] = value["embargo"] if isinstance(value.get("embargo"), dict) else {}
    if embargo.get("active"):
        out["access_right"] = "embargoed"
        if embargo.get("until"):
            out["embargo_date"] = embargo["until"]
    elif value.get("files") == "restricted" or value.get("record") == "restricted":
        out["access_right"] = "restricted"
    else:
        out["access_right"] = "open"


def _custom_fields(value: object, out: dict[str, Any], errors: list[FieldError]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        errors.append(FieldError("custom_fields", ("Invalid input type.",)))
        return
    for name, mapping in (("journal:journal", JOURNAL), ("meeting:meeting", MEETING), ("imprint:imprint", IMPRINT)):
        part = value.get(name)
        if isinstance(part, dict):
            out.update({legacy: part[key] for key, legacy in mapping.items() if part.get(key) is not None})
    if value.get("thesis:university"):
        out["thesis_university"] = value["thesis:university"]
    custom = {k: v for k, v in value.items() if k.split(":", 1)[0] in CUSTOM_NAMESPACES}
    if custom:
        out["custom"] = custom


def _pids(value: object, out: dict[str, Any], errors: list[FieldError]) -> None:
    if not value:
        return
    doi = value.get("doi") if isinstance(value, dict) else None
    if doi is None:
        return
    if not isinstance(doi, dict) or not isinstance(doi.get("identifier"), str):
        errors.append(FieldError("pids.doi", ("Invalid value.",)))
        return
    out["doi"] = doi["identifier"]


# -- legacy -> RDM ---------------------------------------------------------------------------------------
def resource_type(meta: dict[str, Any]) -> dict[str, Any] | None:
    main = meta.get("upload_type")
    if not main:
        return None
    sub = meta.get("image_type") if main == "image" else meta.get("publication_type") if main == "publication" else None
    titles = IMAGE_TYPES if main == "image" else PUBLICATION_TYPES
    title = titles.get(sub, sub) if sub else UPLOAD_TYPES.get(main, main)
    return {"id": f"{main}-{sub}" if sub else main, "title": {"en": title}}


def _rdm_person(person: dict[str, Any], *, contributor: bool) -> dict[str, Any]:
    name = str(person.get("name") or "")
    family, _, given = name.partition(",")
    who: dict[str, Any] = {"type": "personal", "name": name, "family_name": family.strip()}
    if given.strip():
        who["given_name"] = given.strip()
    identifiers = [{"scheme": s, "identifier": person[s]} for s in ("orcid", "gnd") if person.get(s)]
    if identifiers:
        who["identifiers"] = identifiers
    entry: dict[str, Any] = {"person_or_org": who}
    if person.get("affiliation"):
        entry["affiliations"] = [{"name": a.strip()} for a in str(person["affiliation"]).split(";") if a.strip()]
    if contributor and person.get("type"):
        entry["role"] = {"id": str(person["type"]).lower(), "title": {"en": person["type"]}}
    return entry


def _alternate(related: dict[str, Any]) -> bool:
    return str(related.get("relation", "")).lower() == "isalternateidentifier"


def from_legacy(meta: dict[str, Any]) -> dict[str, Any]:
    """The RDM ``metadata`` object of legacy metadata."""
    out: dict[str, Any] = {}
    rtype = resource_type(meta)
    if rtype:
        out["resource_type"] = rtype
    for name in ("title", "description", "publication_date", "version"):
        if meta.get(name):
            out[name] = meta[name]
    out["publisher"] = meta.get("imprint_publisher")
    out["creators"] = [_rdm_person(p, contributor=False) for p in meta.get("creators") or [] if isinstance(p, dict)]
    contributors = [_rdm_person(p, contributor=True) for p in meta.get("contributors") or [] if isinstance(p, dict)]
    if contributors:
        out["contributors"] = contributors
    subjects = [{"subject": k} for k in meta.get("keywords") or []]
    subjects += [{"id": s.get("identifier"), "subject": s.get("term"), "scheme": s.get("scheme")}
                 for s in meta.get("subjects") or [] if isinstance(s, dict)]
    if subjects:
        out["subjects"] = subjects
    if meta.get("license"):
        lic = meta["license"]["id"] if isinstance(meta["license"], dict) else meta["license"]
        out["rights"] = [{"id": lic}]
    if meta.get("language"):
        out["languages"] = [{"id": meta["language"]}]
    related = [{k: v for k, v in {
        "identifier": r.get("identifier"), "scheme": r.get("scheme"),
        "relation_type": {"id": str(r.get("relation", "")).lower(), "title": {"en": r.get("relation")}},
        "resource_type": {"id": r["resource_type"]} if r.get("resource_type") else None}.items() if v is not None}
        for r in meta.get("related_identifiers") or [] if isinstance(r, dict) and not _alternate(r)]
    if related:
        out["related_identifiers"] = related
    identifiers = [{k: v for k, v in {"identifier": r.get("identifier"), "scheme": r.get("scheme")}.items()
                    if v is not None}
                   for r in meta.get("related_identifiers") or [] if isinstance(r, dict) and _alternate(r)]
    if identifiers:
        out["identifiers"] = identifiers
    dates = [{k: v for k, v in {
        "date": d.get("start") if d.get("start") == d.get("end") or not d.get("end")
        else f"{d.get('start') or ''}/{d.get('end')}",
        "type": {"id": str(d.get("type", "")).lower(), "title": {"en": d.get("type")}},
        "description": d.get("description")}.items() if v is not None}
        for d in meta.get("dates") or [] if isinstance(d, dict)]
    if dates:
        out["dates"] = dates
    features = []
    for loc in meta.get("locations") or []:
        if not isinstance(loc, dict):
            continue
        feature: dict[str, Any] = {"place": loc.get("place")}
        if loc.get("lat") is not None and loc.get("lon") is not None:
            feature["geometry"] = {"type": "Point", "coordinates": [loc["lon"], loc["lat"]]}
        if loc.get("description"):
            feature["description"] = loc["description"]
        features.append(feature)
    if features:
        out["locations"] = {"features": features}
    if meta.get("references"):
        out["references"] = [{"reference": r} for r in meta["references"]]
    extra = [{"description": meta[legacy], "type": {"id": kind, "title": {"en": kind.capitalize()}}}
             for kind, legacy in (("notes", "notes"), ("methods", "method")) if meta.get(legacy)]
    if extra:
        out["additional_descriptions"] = extra
    if meta.get("grants"):
        out["funding"] = [{"award": {"id": g.get("id")}} for g in meta["grants"] if isinstance(g, dict)]
    return out


def access_of(meta: dict[str, Any]) -> dict[str, Any]:
    """RDM ``access`` of legacy metadata: the record is always public on Zenodo, its files follow
    ``access_right``."""
    right = meta.get("access_right", "open")
    embargoed = right == "embargoed"
    status = {"open": "open", "embargoed": "embargoed"}.get(right, "restricted")
    return {"record": "public", "files": "public" if right == "open" else "restricted",
            "embargo": {"active": embargoed, "until": meta.get("embargo_date") if embargoed else None,
                        "reason": None},
            "status": status}


def custom_fields_of(meta: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = dict(meta.get("custom") or {})
    for name, mapping in (("journal:journal", JOURNAL), ("meeting:meeting", MEETING), ("imprint:imprint", IMPRINT)):
        part = {key: meta[legacy] for key, legacy in mapping.items() if meta.get(legacy) is not None}
        if part:
            out[name] = part
    if meta.get("thesis_university"):
        out["thesis:university"] = meta["thesis_university"]
    return out
