"""DataCite Metadata Schema 4.5: the JSON of the REST API (``datacite`` package shape) and kernel-4 XML.

The XML is built from the JSON, so both say the same thing. Zenodo relation names are camelCase
(``isDerivedFrom``); DataCite's are PascalCase. ``isAlternateIdentifier`` becomes an alternateIdentifier.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from depot.repository.exports import common as c

NS = "http://datacite.org/schema/kernel-4"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{NS} http://schema.datacite.org/meta/kernel-4.5/metadata.xsd"
OAI_DATACITE_NS = "http://schema.datacite.org/oai/oai-1.1/"
OAI_DATACITE_LOCATION = f"{OAI_DATACITE_NS} http://schema.datacite.org/oai/oai-1.1/oai.xsd"

# upload_type -> resourceTypeGeneral (Zenodo's vocabulary ``datacite_general``).
GENERAL = {"publication": "Text", "poster": "Text", "presentation": "Text", "dataset": "Dataset",
           "image": "Image", "video": "Audiovisual", "software": "Software", "lesson": "Text",
           "physicalobject": "PhysicalObject", "other": "Other", "workflow": "Workflow"}
PUBLICATION_GENERAL = {"article": "JournalArticle", "book": "Book", "section": "BookChapter",
                       "conferencepaper": "ConferencePaper", "preprint": "Preprint", "report": "Report",
                       "thesis": "Dissertation", "datamanagementplan": "OutputManagementPlan",
                       "peerreview": "PeerReview", "deliverable": "Report"}
# Zenodo identifier scheme -> relatedIdentifierType; schemes DataCite has no type for are left out.
SCHEMES = {"doi": "DOI", "url": "URL", "urn": "URN", "handle": "Handle", "ark": "ARK", "arxiv": "arXiv",
           "isbn": "ISBN", "issn": "ISSN", "eissn": "EISSN", "lissn": "LISSN", "pmid": "PMID", "purl": "PURL",
           "lsid": "LSID", "istc": "ISTC", "ean13": "EAN13", "upc": "UPC", "bibcode": "bibcode", "igsn": "IGSN",
           "w3id": "w3id"}
# Darwin Core terms that name the specimen's taxon: useful subjects for discovery.
TAXON_TERMS = ("dwc:scientificName", "dwc:kingdom", "dwc:phylum", "dwc:class", "dwc:order", "dwc:family",
               "dwc:genus")


def _general(kind: str, sub: str | None) -> str:
    if kind == "publication" and sub in PUBLICATION_GENERAL:
        return PUBLICATION_GENERAL[sub]
    return GENERAL.get(kind, "Other")


def _scheme(rel: dict[str, Any]) -> str | None:
    scheme = str(rel.get("scheme") or "").lower()
    if scheme in SCHEMES:
        return SCHEMES[scheme]
    ident = str(rel["identifier"]).strip()
    if not scheme:  # guessed as Zenodo's idutils would
        if ident.startswith("10.") and "/" in ident:
            return "DOI"
        if ident.startswith(("http://", "https://")):
            return "URL"
        if ident.lower().startswith("urn:"):
            return "URN"
    return None


def _person(p: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": str(p["name"]).strip()}
    if c.is_person(p):
        out["nameType"] = "Personal"
        family, given = c.split_name(out["name"])
        if given:
            out["givenName"] = given
            out["familyName"] = family
    else:
        out["nameType"] = "Organizational"
    if p.get("orcid"):
        out["nameIdentifiers"] = [{"nameIdentifier": str(p["orcid"]), "nameIdentifierScheme": "ORCID",
                                   "schemeUri": "https://orcid.org"}]
    if p.get("affiliation"):
        out["affiliation"] = [{"name": str(p["affiliation"])}]
    return out


def _subjects(m: dict[str, Any], record: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"subject": k} for k in c.keywords(record)]
    for s in m.get("subjects") or []:
        if isinstance(s, dict) and s.get("term"):
            entry: dict[str, Any] = {"subject": str(s["term"])}
            ident = str(s.get("identifier") or "")
            if ident.startswith(("http://", "https://")):
                entry["valueUri"] = ident
            if s.get("scheme") and s["scheme"] != "url":
                entry["subjectScheme"] = str(s["scheme"])
            out.append(entry)
    custom = c.custom(m)
    for term in TAXON_TERMS:
        for value in custom.get(term) or []:
            out.append({"subject": str(value), "subjectScheme": f"Darwin Core {term.split(':')[1]}",
                        "schemeUri": "http://rs.tdwg.org/dwc/terms/"})
    unique: list[dict[str, Any]] = []
    for entry in out:
        if entry not in unique:
            unique.append(entry)
    return unique


def _dates(m: dict[str, Any], record: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"date": c.publication_date(record), "dateType": "Issued"}]
    for d in m.get("dates") or []:
        if not isinstance(d, dict) or not (d.get("start") or d.get("end")):
            continue
        start, end = d.get("start"), d.get("end")
        value = start if start == end else f"{start or ''}/{end or ''}"
        entry = {"date": value, "dateType": str(d.get("type") or "Other")}
        if d.get("description"):
            entry["dateInformation"] = str(d["description"])
        out.append(entry)
    return out


def _identifiers(record: dict[str, Any], m: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(alternateIdentifiers, relatedIdentifiers), with the version link to the concept DOI."""
    alternate: list[dict[str, Any]] = []
    related: list[dict[str, Any]] = []
    for rel in c.related(record):
        ident = str(rel["identifier"]).strip()
        if rel.get("relation") == "isAlternateIdentifier":
            alternate.append({"alternateIdentifier": ident,
                              "alternateIdentifierType": str(rel.get("scheme") or _scheme(rel) or "other")})
            continue
        kind = _scheme(rel)
        relation = str(rel.get("relation") or "")
        if kind is None or not relation:
            continue
        entry: dict[str, Any] = {"relatedIdentifier": ident, "relatedIdentifierType": kind,
                                 "relationType": relation[0].upper() + relation[1:]}
        if rel.get("resource_type"):
            rtype, _, sub = str(rel["resource_type"]).partition("-")
            entry["resourceTypeGeneral"] = _general(rtype, sub or None)
        related.append(entry)
    custom = c.custom(m)
    known = {a["alternateIdentifier"] for a in alternate}
    for number in custom.get("dwc:catalogNumber") or []:
        if str(number) not in known:
            alternate.append({"alternateIdentifier": str(number), "alternateIdentifierType": "catalogNumber"})
    concept = record.get("conceptdoi")
    if concept and concept != c.doi(record):
        related.append({"relatedIdentifier": str(concept), "relatedIdentifierType": "DOI",
                        "relationType": "IsVersionOf"})
    return alternate, related


def _rights(record: dict[str, Any]) -> list[dict[str, Any]]:
    m = c.meta(record)
    access = str(m.get("access_right") or "open")
    out: list[dict[str, Any]] = [{"rights": f"{access.title()} Access" if access != "open" else "Open Access",
                                  "rightsUri": f"info:eu-repo/semantics/{access}Access"}]
    lic = c.license_id(record)
    if lic:
        entry: dict[str, Any] = {"rights": lic}
        url, spdx = c.license_url(lic), c.spdx_id(lic)
        if url:
            entry["rightsUri"] = url
        if spdx:
            entry.update({"rights": spdx, "rightsIdentifier": spdx.lower(), "rightsIdentifierScheme": "spdx",
                          "schemeUri": "https://spdx.org/licenses/"})
        out.append(entry)
    return out


def as_json(record: dict[str, Any]) -> dict[str, Any]:
    """DataCite 4.5 JSON (validates with ``datacite.schema45``)."""
    m = c.meta(record)
    kind, sub = c.resource_type(record)
    rtype = m["resource_type"] if isinstance(m.get("resource_type"), dict) else {}
    doc: dict[str, Any] = {
        "types": {"resourceTypeGeneral": _general(kind, sub), "resourceType": str(rtype.get("title") or kind)},
        "creators": [_person(p) for p in c.people(record)] or [{"name": ":unav", "nameType": "Organizational"}],
        "titles": [{"title": str(m.get("title") or record.get("title") or ":unas")}],
        "publisher": {"name": c.publisher(record)},
        "publicationYear": c.publication_year(record),
        "schemaVersion": NS,
    }
    doi = c.doi(record)
    if doi:
        doc["doi"] = doi
    subjects = _subjects(m, record)
    if subjects:
        doc["subjects"] = subjects
    contributors = [{**_person(p), "contributorType": str(p.get("type") or "Other")}
                    for p in c.people(record, "contributors")]
    if contributors:
        doc["contributors"] = contributors
    doc["dates"] = _dates(m, record)
    if m.get("language"):
        doc["language"] = str(m["language"])
    alternate, related = _identifiers(record, m)
    if alternate:
        doc["alternateIdentifiers"] = alternate
    if related:
        doc["relatedIdentifiers"] = related
    files = c.files(record)
    if files:
        doc["sizes"] = sorted({f"{f.get('size', 0)} Bytes" for f in files})
        doc["formats"] = sorted({c.media_type(f["key"]) for f in files})
    if m.get("version"):
        doc["version"] = str(m["version"])
    doc["rightsList"] = _rights(record)
    descriptions = [{"description": c.plain_text(str(m[key])), "descriptionType": kind_}
                    for key, kind_ in (("description", "Abstract"), ("method", "Methods"), ("notes", "Other"))
                    if m.get(key) and c.plain_text(str(m[key]))]
    if descriptions:
        doc["descriptions"] = descriptions
    geo = []
    for loc in m.get("locations") or []:
        if not isinstance(loc, dict) or not loc.get("place"):
            continue
        entry: dict[str, Any] = {"geoLocationPlace": str(loc["place"])}
        if loc.get("lat") is not None and loc.get("lon") is not None:
            entry["geoLocationPoint"] = {"pointLatitude": float(loc["lat"]), "pointLongitude": float(loc["lon"])}
        geo.append(entry)
    if geo:
        doc["geoLocations"] = geo
    return doc


def _sub(parent: etree._Element, tag: str, text: object = None, **attrs: object) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NS}}}{tag}", {k: c.xml_text(str(v)) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = c.xml_text(str(text))
    return el


def _name(parent: etree._Element, tag: str, person: dict[str, Any], **attrs: object) -> None:
    el = _sub(parent, tag, **attrs)
    _sub(el, f"{tag}Name", person["name"], nameType=person.get("nameType"))
    for key in ("givenName", "familyName"):
        if person.get(key):
            _sub(el, key, person[key])
    for ident in person.get("nameIdentifiers") or []:
        _sub(el, "nameIdentifier", ident["nameIdentifier"], nameIdentifierScheme=ident["nameIdentifierScheme"],
             schemeURI=ident.get("schemeUri"))
    for aff in person.get("affiliation") or []:
        _sub(el, "affiliation", aff["name"])


def etree_of(doc: dict[str, Any]) -> etree._Element:
    """The kernel-4 ``<resource>`` element of a DataCite JSON document."""
    root = etree.Element(f"{{{NS}}}resource", nsmap={None: NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    if doc.get("doi"):
        _sub(root, "identifier", doc["doi"], identifierType="DOI")
    creators = _sub(root, "creators")
    for person in doc["creators"]:
        _name(creators, "creator", person)
    titles = _sub(root, "titles")
    for t in doc["titles"]:
        _sub(titles, "title", t["title"], titleType=t.get("titleType"))
    _sub(root, "publisher", doc["publisher"]["name"])
    _sub(root, "publicationYear", doc["publicationYear"])
    _sub(root, "resourceType", doc["types"].get("resourceType", ""),
         resourceTypeGeneral=doc["types"]["resourceTypeGeneral"])
    if doc.get("subjects"):
        subjects = _sub(root, "subjects")
        for s in doc["subjects"]:
            _sub(subjects, "subject", s["subject"], subjectScheme=s.get("subjectScheme"),
                 schemeURI=s.get("schemeUri"), valueURI=s.get("valueUri"))
    if doc.get("contributors"):
        contributors = _sub(root, "contributors")
        for person in doc["contributors"]:
            _name(contributors, "contributor", person, contributorType=person["contributorType"])
    if doc.get("dates"):
        dates = _sub(root, "dates")
        for d in doc["dates"]:
            _sub(dates, "date", d["date"], dateType=d["dateType"], dateInformation=d.get("dateInformation"))
    if doc.get("language"):
        _sub(root, "language", doc["language"])
    if doc.get("alternateIdentifiers"):
        alternate = _sub(root, "alternateIdentifiers")
        for a in doc["alternateIdentifiers"]:
            _sub(alternate, "alternateIdentifier", a["alternateIdentifier"],
                 alternateIdentifierType=a["alternateIdentifierType"])
    if doc.get("relatedIdentifiers"):
        related = _sub(root, "relatedIdentifiers")
        for r in doc["relatedIdentifiers"]:
            _sub(related, "relatedIdentifier", r["relatedIdentifier"], relatedIdentifierType=r["relatedIdentifierType"],
                 relationType=r["relationType"], resourceTypeGeneral=r.get("resourceTypeGeneral"))
    for plural, singular in (("sizes", "size"), ("formats", "format")):
        if doc.get(plural):
            group = _sub(root, plural)
            for value in doc[plural]:
                _sub(group, singular, value)
    if doc.get("version"):
        _sub(root, "version", doc["version"])
    rights_list = _sub(root, "rightsList")
    for r in doc.get("rightsList") or []:
        _sub(rights_list, "rights", r.get("rights", ""), rightsURI=r.get("rightsUri"),
             rightsIdentifier=r.get("rightsIdentifier"), rightsIdentifierScheme=r.get("rightsIdentifierScheme"),
             schemeURI=r.get("schemeUri"))
    if doc.get("descriptions"):
        descriptions = _sub(root, "descriptions")
        for d in doc["descriptions"]:
            _sub(descriptions, "description", d["description"], descriptionType=d["descriptionType"])
    if doc.get("geoLocations"):
        locations = _sub(root, "geoLocations")
        for g in doc["geoLocations"]:
            loc = _sub(locations, "geoLocation")
            if g.get("geoLocationPlace"):
                _sub(loc, "geoLocationPlace", g["geoLocationPlace"])
            point = g.get("geoLocationPoint")
            if point:
                p = _sub(loc, "geoLocationPoint")
                _sub(p, "pointLongitude", point["pointLongitude"])
                _sub(p, "pointLatitude", point["pointLatitude"])
    return root


def as_etree(record: dict[str, Any]) -> etree._Element:
    return etree_of(as_json(record))


def as_xml(record: dict[str, Any]) -> bytes:
    """DataCite 4.5 XML (validates against kernel-4.5 ``metadata.xsd``)."""
    return bytes(etree.tostring(as_etree(record), xml_declaration=True, encoding="UTF-8", pretty_print=True))


def oai_datacite_etree(record: dict[str, Any], datacentre: str = "DEPOT") -> etree._Element:
    """The ``oai_datacite`` wrapper (oai-1.1) around the kernel-4.5 resource, as Zenodo serves it over OAI-PMH."""
    root = etree.Element(f"{{{OAI_DATACITE_NS}}}oai_datacite", nsmap={None: OAI_DATACITE_NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", OAI_DATACITE_LOCATION)
    etree.SubElement(root, f"{{{OAI_DATACITE_NS}}}schemaVersion").text = "4.5"
    etree.SubElement(root, f"{{{OAI_DATACITE_NS}}}datacentreSymbol").text = datacentre
    etree.SubElement(root, f"{{{OAI_DATACITE_NS}}}payload").append(as_etree(record))
    return root
