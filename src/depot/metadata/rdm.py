"""Legacy (Zenodo deposit) metadata <-> the parts of an InvenioRDM record, once for both halves (pure).

The depositor sends legacy metadata as an RDM draft body and reads RDM answers back; the repository stores
legacy metadata, reads RDM request bodies into it and answers in RDM JSON. Both use these functions, so
what one half writes is what the other reads:

- ``rdm_metadata(meta, titled=)``, ``rdm_access(meta)``, ``rdm_custom_fields(meta)``: legacy -> RDM;
  ``titled`` adds the English titles of vocabulary terms, which InvenioRDM's answers carry and request
  bodies leave out;
- ``legacy_of(parts)``: RDM ``metadata``/``access``/``custom_fields``/``pids`` -> legacy, with every shape
  error under its RDM path (the repository refuses a body with any; the depositor reads what fits).

The correspondences are current Zenodo's legacy layer's (zenodo-rdm ``site/zenodo_rdm/legacy/``) and
InvenioRDM's metadata reference (docs-invenio-rdm ``reference/metadata.md``); docs/api.md lists them.
A legacy related identifier ``isAlternateIdentifier`` is an RDM alternate identifier
(``metadata.identifiers``). Not carried: ``communities`` (an RDM community is a review request, not a
field), ``access_conditions``, ``thesis_supervisors`` and ``prereserve_doi``; ``closed`` access becomes
``restricted``.
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
# ``custom_fields`` of these names), as (namespace field, {RDM key: legacy field}).
GROUPS = (
    ("journal:journal", {"title": "journal_title", "volume": "journal_volume", "issue": "journal_issue",
                         "pages": "journal_pages"}),
    ("meeting:meeting", {"title": "conference_title", "acronym": "conference_acronym",
                         "dates": "conference_dates", "place": "conference_place", "url": "conference_url",
                         "session": "conference_session", "session_part": "conference_session_part"}),
    ("imprint:imprint", {"isbn": "imprint_isbn", "place": "imprint_place", "title": "partof_title",
                         "pages": "partof_pages"}),
)
THESIS_UNIVERSITY = "thesis:university"
# Legacy fields written as RDM additional descriptions, as (RDM type, legacy field).
EXTRA_DESCRIPTIONS = (("notes", "notes"), ("methods", "method"))
# RDM additional description types read back; zenodo-rdm writes ``notes`` as type ``other``, and a
# description without a type is ``other``.
LEGACY_DESCRIPTIONS = {**dict(EXTRA_DESCRIPTIONS), "other": "notes"}
PERSON_SCHEMES = ("orcid", "gnd")
PLAIN = ("title", "description", "publication_date", "version")
ALTERNATE = "isalternateidentifier"


def drop_none(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` without its None values: InvenioRDM leaves an absent field out rather than null."""
    return {k: v for k, v in item.items() if v is not None}


def _term(term_id: str, title: object, *, titled: bool) -> dict[str, Any]:
    """A vocabulary term as RDM names it: its id, and in an answer its English title."""
    return {"id": term_id, "title": {"en": title}} if titled else {"id": term_id}


# -- legacy -> RDM --------------------------------------------------------------------------------------
def rdm_metadata(meta: dict[str, Any], *, titled: bool = False) -> dict[str, Any]:
    """The RDM ``metadata`` object of legacy metadata (what is not carried is left out)."""
    out: dict[str, Any] = {}
    rtype = _resource_type(meta, titled=titled)
    if rtype:
        out["resource_type"] = rtype
    for name in PLAIN:
        if meta.get(name) is not None:
            out[name] = meta[name]
    if meta.get("imprint_publisher"):
        out["publisher"] = meta["imprint_publisher"]
    for field in ("creators", "contributors"):
        people = [_rdm_person(p, contributor=field == "contributors", titled=titled)
                  for p in meta.get(field) or [] if isinstance(p, dict)]
        if people:
            out[field] = people
    subjects: list[dict[str, Any]] = [{"subject": k} for k in meta.get("keywords") or []]
    subjects += [drop_none({"id": s.get("identifier"), "subject": s.get("term"), "scheme": s.get("scheme")})
                 for s in meta.get("subjects") or [] if isinstance(s, dict)]
    if subjects:
        out["subjects"] = subjects
    if meta.get("license"):
        licence = meta["license"]["id"] if isinstance(meta["license"], dict) else meta["license"]
        out["rights"] = [{"id": str(licence)}]
    if meta.get("language"):
        out["languages"] = [{"id": meta["language"]}]
    related = [r for r in meta.get("related_identifiers") or [] if isinstance(r, dict)]
    identifiers = [drop_none({"identifier": r.get("identifier"), "scheme": r.get("scheme")})
                   for r in related if _is_alternate(r)]
    if identifiers:
        out["identifiers"] = identifiers
    others = [drop_none({"identifier": r.get("identifier"), "scheme": r.get("scheme"),
                         "relation_type": _term(str(r.get("relation", "")).lower(), r.get("relation"), titled=titled),
                         "resource_type": {"id": r["resource_type"]} if r.get("resource_type") else None})
              for r in related if not _is_alternate(r)]
    if others:
        out["related_identifiers"] = others
    dates = [drop_none({"date": _interval(d), "type": _term(str(d.get("type", "")).lower(), d.get("type"),
                                                            titled=titled),
                        "description": d.get("description")})
             for d in meta.get("dates") or [] if isinstance(d, dict)]
    if dates:
        out["dates"] = dates
    features = [_feature(loc) for loc in meta.get("locations") or [] if isinstance(loc, dict)]
    if features:
        out["locations"] = {"features": features}
    if meta.get("references"):
        out["references"] = [{"reference": r} for r in meta["references"]]
    extra = [{"description": meta[legacy], "type": _term(kind, kind.capitalize(), titled=titled)}
             for kind, legacy in EXTRA_DESCRIPTIONS if meta.get(legacy)]
    if extra:
        out["additional_descriptions"] = extra
    if meta.get("grants"):
        out["funding"] = [{"award": {"id": g.get("id")}} for g in meta["grants"] if isinstance(g, dict)]
    return out


def _resource_type(meta: dict[str, Any], *, titled: bool) -> dict[str, Any] | None:
    main = meta.get("upload_type")
    if not main:
        return None
    sub = meta.get("image_type") if main == "image" else (
        meta.get("publication_type") if main == "publication" else None)
    titles = IMAGE_TYPES if main == "image" else PUBLICATION_TYPES
    title = titles.get(sub, sub) if sub else UPLOAD_TYPES.get(main, main)
    return _term(f"{main}-{sub}" if sub else str(main), title, titled=titled)


def _is_alternate(related: dict[str, Any]) -> bool:
    return str(related.get("relation", "")).lower() == ALTERNATE


def _rdm_person(person: dict[str, Any], *, contributor: bool, titled: bool) -> dict[str, Any]:
    """Zenodo's legacy layer makes every legacy person ``personal``, split on the comma into family and
    given names (a name without one is all family name)."""
    name = str(person.get("name") or "")
    family, _, given = name.partition(",")
    who: dict[str, Any] = {"type": "personal", "name": name, "family_name": family.strip()}
    if given.strip():
        who["given_name"] = given.strip()
    identifiers = [{"scheme": s, "identifier": person[s]} for s in PERSON_SCHEMES if person.get(s)]
    if identifiers:
        who["identifiers"] = identifiers
    entry: dict[str, Any] = {"person_or_org": who}
    if person.get("affiliation"):
        entry["affiliations"] = [{"name": a.strip()} for a in str(person["affiliation"]).split(";") if a.strip()]
    if contributor and person.get("type"):
        entry["role"] = _term(str(person["type"]).lower(), person["type"], titled=titled)
    return entry


def _interval(d: dict[str, Any]) -> str | None:
    """An EDTF interval ``start/end``, or one date when the two are the same."""
    start, end = d.get("start") or "", d.get("end") or ""
    if not (start or end):
        return None
    return start if not end or start == end else f"{start}/{end}"


def _feature(loc: dict[str, Any]) -> dict[str, Any]:
    geometry = None
    if loc.get("lat") is not None and loc.get("lon") is not None:
        geometry = {"type": "Point", "coordinates": [loc["lon"], loc["lat"]]}  # GeoJSON is lon, lat
    return drop_none({"place": loc.get("place"), "geometry": geometry, "description": loc.get("description") or None})


def rdm_access(meta: dict[str, Any]) -> dict[str, Any]:
    """RDM ``access``: Zenodo's records are public; the files follow ``access_right`` (an embargo lifts
    on its date)."""
    right = meta.get("access_right", "open")
    access: dict[str, Any] = {"record": "public", "files": "public" if right == "open" else "restricted"}
    if right == "embargoed":
        access["embargo"] = drop_none({"active": True, "until": meta.get("embargo_date")})
    return access


def rdm_custom_fields(meta: dict[str, Any]) -> dict[str, Any]:
    """RDM ``custom_fields``: the legacy ``custom`` terms and the journal/meeting/imprint/thesis groups."""
    out: dict[str, Any] = dict(meta.get("custom") or {})
    for name, mapping in GROUPS:
        part = {key: meta[legacy] for key, legacy in mapping.items() if meta.get(legacy) is not None}
        if part:
            out[name] = part
    if meta.get("thesis_university"):
        out[THESIS_UNIVERSITY] = meta["thesis_university"]
    return out


# -- RDM -> legacy --------------------------------------------------------------------------------------
def legacy_of(parts: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """The legacy metadata of an RDM body's ``metadata``, ``access``, ``custom_fields`` and ``pids``, and
    the shape errors found (field paths as RDM names them). Value rules (dates, vocabularies) are the legacy
    model's, checked on save; what has the wrong shape is left out of the metadata."""
    errors: list[FieldError] = []
    meta = parts.get("metadata") or {}
    if not isinstance(meta, dict):
        return {}, [FieldError("metadata", ("Invalid input type.",))]
    out: dict[str, Any] = {}
    for name in PLAIN:
        if meta.get(name) is not None:
            out[name] = meta[name]
    if meta.get("publisher"):
        out["imprint_publisher"] = meta["publisher"]
    _legacy_resource_type(meta.get("resource_type"), out, errors)
    for field in ("creators", "contributors"):
        people = [_legacy_person(p, f"metadata.{field}.{i}", errors, contributor=field == "contributors")
                  for i, p in enumerate(_list_of_dicts(meta.get(field), f"metadata.{field}", errors))]
        if people:
            out[field] = people
    _legacy_subjects(meta.get("subjects"), out, errors)
    for field, legacy in (("rights", "license"), ("languages", "language")):
        chosen = _list_of_dicts(meta.get(field), f"metadata.{field}", errors)
        if chosen and _id(chosen[0]):  # legacy metadata holds one of each
            out[legacy] = _id(chosen[0])
    _legacy_related(meta, out, errors)
    dates = [_legacy_date(d) for d in _list_of_dicts(meta.get("dates"), "metadata.dates", errors)]
    if dates:
        out["dates"] = dates
    _legacy_locations(meta.get("locations"), out, errors)
    references = [r["reference"] for r in _list_of_dicts(meta.get("references"), "metadata.references", errors)
                  if isinstance(r.get("reference"), str)]
    if references:
        out["references"] = references
    field = "metadata.additional_descriptions"
    for i, extra in enumerate(_list_of_dicts(meta.get("additional_descriptions"), field, errors)):
        target = LEGACY_DESCRIPTIONS.get(_id(extra.get("type")) or "other")
        if target is None:
            errors.append(FieldError(f"{field}.{i}.type", ("Invalid value.",)))
        elif extra.get("description") is not None:
            out[target] = extra["description"]
    grants = [{"id": _id(f.get("award"))} for f in _list_of_dicts(meta.get("funding"), "metadata.funding", errors)
              if _id(f.get("award"))]
    if grants:
        out["grants"] = grants
    _legacy_access(parts.get("access"), out, errors)
    _legacy_custom(parts.get("custom_fields"), out, errors)
    _legacy_doi(parts.get("pids"), out, errors)
    return out, errors


def _list_of_dicts(value: object, field: str, errors: list[FieldError]) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        errors.append(FieldError(field, ("Not a valid list.",)))
        return []
    return value


def dicts(value: object) -> list[dict[str, Any]]:
    """The objects of a list, for nested lists whose other items are ignored (affiliations, identifiers)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _id(value: object) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _legacy_resource_type(value: object, out: dict[str, Any], errors: list[FieldError]) -> None:
    if value is None:
        return
    rid = _id(value)
    if rid is None:
        errors.append(FieldError("metadata.resource_type", ("Invalid value.",)))
        return
    main, _, sub = rid.partition("-")
    out["upload_type"] = main
    if sub and main in ("image", "publication"):
        out[f"{main}_type"] = sub


def _legacy_person(entry: dict[str, Any], field: str, errors: list[FieldError], *,
                   contributor: bool) -> dict[str, Any]:
    who = entry.get("person_or_org")
    if not isinstance(who, dict):
        errors.append(FieldError(f"{field}.person_or_org", ("Missing data for required field.",)))
        return {}
    family, given = who.get("family_name") or "", who.get("given_name") or ""
    if who.get("type") == "personal" and family and given:
        name = f"{family}, {given}"  # InvenioRDM derives a person's name from these two
    else:
        name = who.get("name") or (f"{family}, {given}" if family and given else family or given)
    person: dict[str, Any] = {"name": name}
    affiliations = [str(a["name"]) for a in dicts(entry.get("affiliations")) if a.get("name")]
    if affiliations:
        person["affiliation"] = "; ".join(affiliations)
    for ident in dicts(who.get("identifiers")):
        if ident.get("scheme") in PERSON_SCHEMES:
            person[str(ident["scheme"])] = ident.get("identifier")
    role = _id(entry.get("role"))
    if contributor and role:  # zenodo-rdm's legacy serializer: no role, no type
        person["type"] = CONTRIBUTOR_TYPES.get(role.lower(), role)
    return person


def _legacy_subjects(value: object, out: dict[str, Any], errors: list[FieldError]) -> None:
    """A subject with an id is a controlled term (legacy ``subjects``), one without a keyword."""
    keywords, subjects = [], []
    for s in _list_of_dicts(value, "metadata.subjects", errors):
        if s.get("id"):
            subjects.append(drop_none({"term": s.get("subject") or s["id"], "identifier": s["id"],
                                       "scheme": s.get("scheme")}))
        elif s.get("subject"):
            keywords.append(s["subject"])
    if keywords:
        out["keywords"] = keywords
    if subjects:
        out["subjects"] = subjects


def _legacy_related(meta: dict[str, Any], out: dict[str, Any], errors: list[FieldError]) -> None:
    """Alternate identifiers first, as legacy related identifiers ``isAlternateIdentifier`` (which the
    repository's search indexes as alternate identifiers), then the related identifiers."""
    related = []
    for r in _list_of_dicts(meta.get("related_identifiers"), "metadata.related_identifiers", errors):
        relation = _id(r.get("relation_type"))
        related.append(drop_none({"identifier": r.get("identifier"), "scheme": r.get("scheme"),
                                  "relation": RELATIONS.get(relation.lower(), relation) if relation else None,
                                  "resource_type": _id(r.get("resource_type"))}))
    related = [{"identifier": i["identifier"], "relation": RELATIONS[ALTERNATE],
                **({"scheme": i["scheme"]} if isinstance(i.get("scheme"), str) else {})}
               for i in _list_of_dicts(meta.get("identifiers"), "metadata.identifiers", errors)
               if isinstance(i.get("identifier"), str)] + related
    if related:
        out["related_identifiers"] = related


def _legacy_date(d: dict[str, Any]) -> dict[str, Any]:
    start, _, end = str(d.get("date") or "").partition("/")
    kind = _id(d.get("type")) or ""
    return drop_none({"start": start or None, "end": (end or start) or None, "type": kind.capitalize() or None,
                      "description": d.get("description")})


def _object(value: object, field: str, errors: list[FieldError]) -> dict[str, Any] | None:
    """``value`` if it is an object; None if it is absent, or (with an error) if it is not an object."""
    if value is not None and not isinstance(value, dict):
        errors.append(FieldError(field, ("Invalid input type.",)))
    return value if isinstance(value, dict) else None


def _legacy_locations(value: object, out: dict[str, Any], errors: list[FieldError]) -> None:
    locations = _object(value, "metadata.locations", errors)
    if locations is None:
        return
    found = []
    for feature in _list_of_dicts(locations.get("features"), "metadata.locations.features", errors):
        loc: dict[str, Any] = drop_none({"place": feature.get("place")})
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


def _legacy_access(value: object, out: dict[str, Any], errors: list[FieldError]) -> None:
    """RDM ``access`` -> legacy ``access_right`` (zenodo-rdm legacy ``dump_access_right``); an absent
    ``record`` or ``files`` is public, as InvenioRDM defaults them."""
    access = _object(value, "access", errors)
    if access is None:
        return
    for key in ("record", "files"):
        if access.get(key, "public") not in ("public", "restricted"):
            errors.append(FieldError(f"access.{key}", ("Must be one of: public, restricted.",)))
    embargo: dict[str, Any] = access["embargo"] if isinstance(access.get("embargo"), dict) else {}
    if embargo.get("active"):
        out["access_right"] = "embargoed"
        if embargo.get("until"):
            out["embargo_date"] = embargo["until"]
    elif "restricted" in (access.get("files"), access.get("record")):
        out["access_right"] = "restricted"
    else:
        out["access_right"] = "open"


def _legacy_custom(value: object, out: dict[str, Any], errors: list[FieldError]) -> None:
    custom_fields = _object(value, "custom_fields", errors)
    if custom_fields is None:
        return
    for name, mapping in GROUPS:
        part = custom_fields.get(name)
        if isinstance(part, dict):
            out.update({legacy: part[key] for key, legacy in mapping.items() if part.get(key) is not None})
    if custom_fields.get(THESIS_UNIVERSITY):
        out["thesis_university"] = custom_fields[THESIS_UNIVERSITY]
    custom = {k: v for k, v in custom_fields.items() if k.split(":", 1)[0] in CUSTOM_NAMESPACES}
    if custom:
        out["custom"] = custom


def _legacy_doi(value: object, out: dict[str, Any], errors: list[FieldError]) -> None:
    """``pids.doi`` of any provider is legacy ``doi``, as zenodo-rdm's legacy serializer dumps it."""
    doi = value.get("doi") if isinstance(value, dict) else None
    if doi is None:
        return
    if not isinstance(doi, dict) or not isinstance(doi.get("identifier"), str):
        errors.append(FieldError("pids.doi", ("Invalid value.",)))
        return
    out["doi"] = doi["identifier"]
