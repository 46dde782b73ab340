"""Simple Dublin Core as ``oai_dc`` XML, the format every OAI-PMH item must have (and ``application/x-dc+xml``).

Types follow Zenodo (an OpenAIRE ``info:eu-repo/semantics`` term) plus the DCMI type, so that generic
harvesters that only know DCMI still see "Image".
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from depot.repository.exports import common as c

OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{OAI_DC} http://www.openarchives.org/OAI/2.0/oai_dc.xsd"

DCMI = {"image": "Image", "dataset": "Dataset", "software": "Software", "video": "MovingImage",
        "physicalobject": "PhysicalObject", "publication": "Text", "poster": "Text", "presentation": "Text",
        "lesson": "InteractiveResource"}
EU_REPO = {"publication": "info:eu-repo/semantics/article", "dataset": "info:eu-repo/semantics/other",
           "software": "info:eu-repo/semantics/other", "poster": "info:eu-repo/semantics/conferencePoster",
           "presentation": "info:eu-repo/semantics/lecture"}


def fields(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(element, value) pairs in document order."""
    m = c.meta(record)
    out: list[tuple[str, str]] = [("title", str(m.get("title") or record.get("title") or ""))]
    out += [("creator", str(p["name"])) for p in c.people(record)]
    out += [("contributor", str(p["name"])) for p in c.people(record, "contributors")]
    out += [("subject", k) for k in c.keywords(record)]
    out += [("subject", str(s["term"])) for s in m.get("subjects") or [] if isinstance(s, dict) and s.get("term")]
    if m.get("description"):
        out.append(("description", c.plain_text(str(m["description"]))))
    if m.get("notes"):
        out.append(("description", c.plain_text(str(m["notes"]))))
    out.append(("publisher", c.publisher(record)))
    out.append(("date", c.publication_date(record)))
    for d in m.get("dates") or []:
        if isinstance(d, dict) and (d.get("start") or d.get("end")):
            out.append(("date", f"{d.get('start') or ''}/{d.get('end') or ''}"))
    kind, _ = c.resource_type(record)
    out.append(("type", EU_REPO.get(kind, "info:eu-repo/semantics/other")))
    out.append(("type", DCMI.get(kind, "Text" if kind == "publication" else "Other")))
    if c.doi_url(record):
        out.append(("identifier", str(c.doi_url(record))))
    out.append(("identifier", c.oai_identifier(record)))
    for rel in c.related(record):
        if rel.get("relation") == "isAlternateIdentifier":
            out.append(("identifier", str(rel["identifier"])))
        else:
            out.append(("relation", str(rel["identifier"])))
    if record.get("conceptdoi"):
        out.append(("relation", f"https://doi.org/{record['conceptdoi']}"))
    base = (c.landing_url(record) or "").split("/records/")[0]
    for community in m.get("communities") or []:
        if isinstance(community, dict) and community.get("id") and base:
            out.append(("relation", f"url:{base}/communities/{community['id']}"))
    out.append(("rights", f"info:eu-repo/semantics/{m.get('access_right') or 'open'}Access"))
    lic = c.license_id(record)
    if lic:
        out.append(("rights", c.license_url(lic) or lic))
    if m.get("language"):
        out.append(("language", str(m["language"])))
    for loc in m.get("locations") or []:
        if isinstance(loc, dict) and loc.get("place"):
            out.append(("coverage", str(loc["place"])))
    out += [("format", fmt) for fmt in sorted({c.media_type(f["key"]) for f in c.files(record)})]
    return [(k, v) for k, v in out if v]


def as_etree(record: dict[str, Any]) -> etree._Element:
    root = etree.Element(f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    for name, value in fields(record):
        etree.SubElement(root, f"{{{DC}}}{name}").text = c.xml_text(value)
    return root


def as_xml(record: dict[str, Any]) -> bytes:
    return bytes(etree.tostring(as_etree(record), xml_declaration=True, encoding="UTF-8", pretty_print=True))
