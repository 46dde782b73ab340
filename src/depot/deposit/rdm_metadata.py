"""The depositor's metadata on the InvenioRDM records API (pure).

The depositor plans, stores and compares legacy (Zenodo deposit) metadata; ``--api rdm`` sends it as an
InvenioRDM draft body and reads RDM answers back into the legacy shape the runner, the probes, verify and
reconcile work on. Two functions and one view:

- ``to_rdm(meta)``: the body of ``POST /api/records`` and ``PUT /api/records/{id}/draft``;
- ``from_rdm(metadata, access, custom_fields)``: legacy metadata again. For every field the depositor's
  profiles fill, ``from_rdm(*parts(to_rdm(m))) == m``: verify compares field by field;
- ``legacy_view(rdm_json, api_url)``: a draft or record as the legacy API would show it (id, state,
  submitted, doi, conceptdoi, files, links.bucket, links.html, metadata).

The correspondences are current Zenodo's legacy layer's (zenodo-rdm ``site/zenodo_rdm/legacy/``) and
InvenioRDM's metadata reference (docs-invenio-rdm ``reference/metadata.md``). The specimen key, a legacy
related identifier ``isAlternateIdentifier``, is an RDM alternate identifier (``metadata.identifiers``),
which the repository's search finds as ``metadata.identifiers.identifier``. Not carried: ``communities``
(an RDM community is a review request, not a field: ``--api rdm`` refuses records that name one),
``access_conditions``, ``thesis_supervisors`` and ``prereserve_doi``; ``closed`` access becomes
``restricted``.
"""

from __future__ import annotations

from typing import Any

from depot.metadata import CONTRIBUTOR_TYPES, CUSTOM_NAMESPACES, RELATIONS

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
EXTRA_DESCRIPTIONS = (("notes", "notes"), ("methods", "method"))  # (RDM type, legacy field)
NOT_CARRIED = frozenset({"communities", "access_conditions", "thesis_supervisors", "prereserve_doi"})
ALTERNATE = "isalternateidentifier"


# -- legacy -> RDM --------------------------------------------------------------------------------------
def to_rdm(meta: dict[str, Any], *, files_enabled: bool = True) -> dict[str, Any]:
    """The RDM draft body of legacy metadata (what is not carried is left out: see NOT_CARRIED)."""
    out: dict[str, Any] = {}
    main = meta.get("upload_type")
    if main:
        sub = meta.get("image_type") if main == "image" else (
            meta.get("publication_type") if main == "publication" else None)
        out["resource_type"] = {"id": f"{main}-{sub}" if sub else str(main)}
    for name in ("title", "description", "publication_date", "version"):
        if meta.get(name) is not None:
            out[name] = meta[name]
    if meta.get("imprint_publisher"):
        out["publisher"] = meta["imprint_publisher"]
    for field in ("creators", "contributors"):
        people = [_person(p, contributor=field == "contributors") for p in meta.get(field) or []
                  if isinstance(p, dict)]
        if people:
            out[field] = people
    subjects: list[dict[str, Any]] = [{"subject": k} for k in meta.get("keywords") or []]
    subjects += [{k: v for k, v in {"id": s.get("identifier"), "subject": s.get("term"),
                                    "scheme": s.get("scheme")}.items() if v is not None}
                 for s in meta.get("subjects") or [] if isinstance(s, dict)]
    if subjects:
        out["subjects"] = subjects
    if meta.get("license"):
        licence = meta["license"]["id"] if isinstance(meta["license"], dict) else meta["license"]
        out["rights"] = [{"id": str(licence)}]
    if meta.get("language"):
        out["languages"] = [{"id": meta["language"]}]
    related = [r for r in meta.get("related_identifiers") or [] if isinstance(r, dict)]
    identifiers = [_drop_none({"identifier": r.get("identifier"), "scheme": r.get("scheme")})
                   for r in related if _is_alternate(r)]
    if identifiers:
        out["identifiers"] = identifiers
    others = [_drop_none({"identifier": r.get("identifier"), "scheme": r.get("scheme"),
                          "relation_type": {"id": str(r.get("relation", "")).lower()},
                          "resource_type": {"id": r["resource_type"]} if r.get("resource_type") else None})
              for r in related if not _is_alternate(r)]
    if others:
        out["related_identifiers"] = others
    dates = [_drop_none({"date": _interval(d), "type": {"id": str(d.get("type", "")).lower()},
                         "description": d.get("description")})
             for d in meta.get("dates") or [] if isinstance(d, dict)]
    if dates:
        out["dates"] = dates
    features = [_feature(loc) for loc in meta.get("locations") or [] if isinstance(loc, dict)]
    if features:
        out["locations"] = {"features": features}
    if meta.get("references"):
        out["references"] = [{"reference": r} for r in meta["references"]]
    extra = [{"description": meta[legacy], "type": {"id": kind}} for kind, legacy in EXTRA_DESCRIPTIONS
             if meta.get(legacy)]
    if extra:
        out["additional_descriptions"] = extra
    if meta.get("grants"):
        out["funding"] = [{"award": {"id": g.get("id")}} for g in meta["grants"] if isinstance(g, dict)]
    body: dict[str, Any] = {"metadata": out, "access": _access(meta), "files": {"enabled": files_enabled}}
    custom = _custom_fields(meta)
    if custom:
        body["custom_fields"] = custom
    if meta.get("doi"):
        body["pids"] = {"doi": {"identifier": meta["doi"], "provider": "external"}}
    return body


def _drop_none(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None}


def _is_alternate(related: dict[str, Any]) -> bool:
    return str(related.get("relation", "")).lower() == ALTERNATE


def _person(person: dict[str, Any], *, contributor: bool) -> dict[str, Any]:
    """Legacy "Family, Given" is a person; a name without a comma an organisation (an institution)."""
    name = str(person.get("name") or "")
    family, comma, given = name.partition(",")
    who: dict[str, Any]
    if comma:
        who = {"type": "personal", "family_name": family.strip(), "given_name": given.strip()}
    else:
        who = {"type": "organizational", "name": name}
    identifiers = [{"scheme": s, "identifier": person[s]} for s in ("orcid", "gnd") if person.get(s)]
    if identifiers:
        who["identifiers"] = identifiers
    entry: dict[str, Any] = {"person_or_org": who}
    if person.get("affiliation"):
        entry["affiliations"] = [{"name": a.strip()} for a in str(person["affiliation"]).split(";") if a.strip()]
    if contributor and person.get("type"):
        entry["role"] = {"id": str(person["type"]).lower()}
    return entry


def _interval(d: dict[str, Any]) -> str:
    start, end = d.get("start") or "", d.get("end") or ""
    return start if not end or start == end else f"{start}/{end}"


def _feature(loc: dict[str, Any]) -> dict[str, Any]:
    feature: dict[str, Any] = {}
    if loc.get("lat") is not None and loc.get("lon") is not None:
        feature["geometry"] = {"type": "Point", "coordinates": [loc["lon"], loc["lat"]]}
    if loc.get("place") is not None:
        feature["place"] = loc["place"]
    if loc.get("description"):
        feature["description"] = loc["description"]
    return feature


def _access(meta: dict[str, Any]) -> dict[str, Any]:
    """Zenodo's records are public; the files follow ``access_right`` (an embargo lifts on its date)."""
    right = meta.get("access_right", "open")
    access: dict[str, Any] = {"record": "public", "files": "public" if right == "open" else "restricted"}
    if right == "embargoed":
        access["embargo"] = _drop_none({"active": True, "until": meta.get("embargo_date")})
    return access


def _custom_fields(meta: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = dict(meta.get("custom") or {})
    for name, mapping in GROUPS:
        part = {key: meta[legacy] for key, legacy in mapping.items() if meta.get(legacy) is not None}
        if part:
            out[name] = part
    if meta.get("thesis_university"):
        out["thesis:university"] = meta["thesis_university"]
    return out


# -- RDM -> legacy --------------------------------------------------------------------------------------
def from_rdm(metadata: dict[str, Any], access: dict[str, Any] | None = None,
             custom_fields: dict[str, Any] | None = None, pids: dict[str, Any] | None = None) -> dict[str, Any]:
    """Legacy metadata of the parts of an RDM draft or record (the inverse of ``to_rdm``)."""
    out: dict[str, Any] = {}
    rid = _id(metadata.get("resource_type"))
    if rid:
        main, _, sub = rid.partition("-")
        out["upload_type"] = main
        if sub and main in ("image", "publication"):
            out[f"{main}_type"] = sub
    for name in ("title", "description", "publication_date", "version"):
        if metadata.get(name) is not None:
            out[name] = metadata[name]
    if metadata.get("publisher"):
        out["imprint_publisher"] = metadata["publisher"]
    for field in ("creators", "contributors"):
        people = [_legacy_person(p, contributor=field == "contributors") for p in _dicts(metadata.get(field))]
        if people:
            out[field] = people
    keywords = [s["subject"] for s in _dicts(metadata.get("subjects")) if not s.get("id") and s.get("subject")]
    if keywords:
        out["keywords"] = keywords
    subjects = [_drop_none({"term": s.get("subject"), "identifier": s["id"], "scheme": s.get("scheme")})
                for s in _dicts(metadata.get("subjects")) if s.get("id")]
    if subjects:
        out["subjects"] = subjects
    rights = _dicts(metadata.get("rights"))
    if rights and _id(rights[0]):
        out["license"] = _id(rights[0])
    languages = _dicts(metadata.get("languages"))
    if languages and _id(languages[0]):
        out["language"] = _id(languages[0])
    related = [_drop_none({"identifier": i.get("identifier"), "relation": RELATIONS[ALTERNATE],
                           "scheme": i.get("scheme")}) for i in _dicts(metadata.get("identifiers"))]
    for r in _dicts(metadata.get("related_identifiers")):
        relation = str(_id(r.get("relation_type")) or "")
        related.append(_drop_none({"identifier": r.get("identifier"),
                                   "relation": RELATIONS.get(relation.lower(), relation),
                                   "resource_type": _id(r.get("resource_type")), "scheme": r.get("scheme")}))
    if related:
        out["related_identifiers"] = related
    dates = [_legacy_date(d) for d in _dicts(metadata.get("dates"))]
    if dates:
        out["dates"] = dates
    locations = metadata.get("locations")
    places = [_location(f) for f in _dicts(locations.get("features") if isinstance(locations, dict) else None)]
    if places:
        out["locations"] = places
    references = [r["reference"] for r in _dicts(metadata.get("references")) if r.get("reference") is not None]
    if references:
        out["references"] = references
    for extra in _dicts(metadata.get("additional_descriptions")):
        legacy = dict(EXTRA_DESCRIPTIONS).get(str(_id(extra.get("type")) or ""))
        if legacy and extra.get("description") is not None:
            out[legacy] = extra["description"]
    grants = [{"id": _id(f.get("award"))} for f in _dicts(metadata.get("funding")) if _id(f.get("award"))]
    if grants:
        out["grants"] = grants
    out.update(_legacy_access(access or {}))
    out.update(_legacy_custom(custom_fields or {}))
    doi = (pids or {}).get("doi")
    if isinstance(doi, dict) and doi.get("provider") == "external" and doi.get("identifier"):
        out["doi"] = doi["identifier"]
    return out


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _id(value: object) -> str | None:
    return str(value["id"]) if isinstance(value, dict) and value.get("id") is not None else None


def _legacy_person(entry: dict[str, Any], *, contributor: bool) -> dict[str, Any]:
    who = entry.get("person_or_org") if isinstance(entry.get("person_or_org"), dict) else {}
    assert isinstance(who, dict)
    name = who.get("name")
    family, given = who.get("family_name") or "", who.get("given_name") or ""
    if who.get("type") == "personal" and family and given:
        name = f"{family}, {given}"
    person: dict[str, Any] = {"name": name or family or given}
    affiliations = [str(a["name"]) for a in _dicts(entry.get("affiliations")) if a.get("name")]
    if affiliations:
        person["affiliation"] = "; ".join(affiliations)
    for ident in _dicts(who.get("identifiers")):
        if ident.get("scheme") in ("orcid", "gnd"):
            person[str(ident["scheme"])] = ident.get("identifier")
    role = _id(entry.get("role"))
    if contributor and role:
        person["type"] = CONTRIBUTOR_TYPES.get(role.lower(), role)
    return person


def _legacy_date(d: dict[str, Any]) -> dict[str, Any]:
    start, _, end = str(d.get("date") or "").partition("/")
    kind = str(_id(d.get("type")) or "")
    return _drop_none({"start": start or None, "end": (end or start) or None, "type": kind.capitalize() or None,
                       "description": d.get("description")})


def _location(feature: dict[str, Any]) -> dict[str, Any]:
    loc: dict[str, Any] = {}
    geometry = feature.get("geometry")
    if isinstance(geometry, dict) and geometry.get("type") == "Point":
        coords = geometry.get("coordinates")
        if isinstance(coords, list) and len(coords) == 2:
            loc["lat"], loc["lon"] = coords[1], coords[0]
    if feature.get("place") is not None:
        loc["place"] = feature["place"]
    if feature.get("description"):
        loc["description"] = feature["description"]
    return loc


def _legacy_access(access: dict[str, Any]) -> dict[str, Any]:
    if not access:
        return {}
    embargo = access.get("embargo") if isinstance(access.get("embargo"), dict) else {}
    assert isinstance(embargo, dict)
    if embargo.get("active"):
        return _drop_none({"access_right": "embargoed", "embargo_date": embargo.get("until")})
    restricted = "restricted" in (access.get("files"), access.get("record"))
    return {"access_right": "restricted" if restricted else "open"}


def _legacy_custom(custom: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, mapping in GROUPS:
        part = custom.get(name)
        if isinstance(part, dict):
            out.update({legacy: part[key] for key, legacy in mapping.items() if part.get(key) is not None})
    if custom.get("thesis:university"):
        out["thesis_university"] = custom["thesis:university"]
    namespaced = {k: v for k, v in custom.items() if k.split(":", 1)[0] in CUSTOM_NAMESPACES}
    if namespaced:
        out["custom"] = namespaced
    return out


# -- an RDM answer as the legacy API would show it -----------------------------------------------------
def legacy_view(body: dict[str, Any], api_url: str) -> dict[str, Any]:
    """A draft or record of the RDM API in the legacy deposition's shape, for the runner and the checks:
    ``state`` unsubmitted (a draft never published), inprogress (the open edit of a published record) or
    done; ``links.bucket`` is the draft's files endpoint, which the client's uploads go to."""
    rid = str(body.get("id", ""))
    draft = bool(body.get("is_draft"))
    published = bool(body.get("is_published"))
    state = "done" if not draft else ("inprogress" if published else "unsubmitted")
    links = body.get("links") if isinstance(body.get("links"), dict) else {}
    assert isinstance(links, dict)
    parent = body.get("parent") if isinstance(body.get("parent"), dict) else {}
    assert isinstance(parent, dict)
    doi = _pid_doi(body.get("pids"))
    files_part = body.get("files") if isinstance(body.get("files"), dict) else {}
    assert isinstance(files_part, dict)
    entries = files_part.get("entries")
    listed = list(entries.values()) if isinstance(entries, dict) else _dicts(entries)
    # A file initialised (and maybe sent) but not committed is not there yet: a publish would refuse it.
    files = [{"id": f.get("id") or f.get("file_id"), "filename": f.get("key"), "filesize": f.get("size"),
              "checksum": f.get("checksum")} for f in listed
             if isinstance(f, dict) and f.get("key") and f.get("status", "completed") == "completed"]
    record = f"{api_url}/records/{rid}"
    view: dict[str, Any] = {
        "id": int(rid) if rid.isdigit() else rid,
        "conceptrecid": str(parent.get("id", "")),
        "created": body.get("created"),
        "modified": body.get("updated"),
        "state": state,
        "submitted": published,
        "title": (body.get("metadata") or {}).get("title", ""),
        "metadata": from_rdm(body.get("metadata") or {}, body.get("access"), body.get("custom_fields"),
                             body.get("pids")),
        "files": files,
        "links": {"self": f"{record}/draft" if draft else record, "bucket": f"{record}/draft/files",
                  "html": links.get("self_html") or links.get("record_html") or ""},
    }
    if doi and published:
        view["doi"] = doi
    concept = _pid_doi(parent.get("pids"))
    if concept:
        view["conceptdoi"] = concept
    return view


def _pid_doi(pids: object) -> str | None:
    doi = pids.get("doi") if isinstance(pids, dict) else None
    if isinstance(doi, dict) and doi.get("identifier"):
        return str(doi["identifier"])
    return None
