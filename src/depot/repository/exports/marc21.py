"""MARC21 slim XML of a record (``application/marcxml+xml``), in the fields Zenodo's serializer uses.

The leader has real blanks where Zenodo's prints ``#``; type of record ``k`` (two-dimensional graphic) for
images, ``m`` (computer file) for datasets and software, ``a`` (language material) otherwise.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from depot.repository.exports import common as c

NS = "http://www.loc.gov/MARC21/slim"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{NS} http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"
RECORD_TYPE = {"image": "k", "dataset": "m", "software": "m", "video": "g", "physicalobject": "r"}


def leader(record: dict[str, Any]) -> str:
    kind, _ = c.resource_type(record)
    return f"00000n{RECORD_TYPE.get(kind, 'a')}m a2200000uu 4500"


Field = tuple[str, str, str, list[tuple[str, str]]]  # tag, ind1, ind2, [(code, value)]


def _person(tag: str, p: dict[str, Any], role: str | None = None) -> Field:
    subs = [("a", str(p["name"]))]
    if p.get("affiliation"):
        subs.append(("u", str(p["affiliation"])))
    if p.get("orcid"):
        subs.append(("0", f"(orcid){p['orcid']}"))
    if role:
        subs.append(("4", role))
    return tag, "1" if c.is_person(p) else "2", " ", subs


def datafields(record: dict[str, Any]) -> list[Field]:
    m = c.meta(record)
    out: list[Field] = []
    if c.doi(record):
        out.append(("024", "7", " ", [("a", str(c.doi(record))), ("2", "doi")]))
    for rel in c.related(record):
        if rel.get("relation") == "isAlternateIdentifier":
            out.append(("024", "8", " ", [("a", str(rel["identifier"]))]))
    if m.get("language"):
        out.append(("041", " ", " ", [("a", str(m["language"]))]))
    people = c.people(record)
    if people:
        out.append(_person("100", people[0]))
    out.append(("245", "0", "0", [("a", str(m.get("title") or record.get("title") or ""))]))
    if m.get("version"):
        out.append(("250", " ", " ", [("a", str(m["version"]))]))
    out.append(("260", " ", " ", [("b", c.publisher(record)), ("c", c.publication_date(record))]))
    for d in m.get("dates") or []:
        if isinstance(d, dict) and (d.get("start") or d.get("end")):
            out.append(("518", " ", " ", [("d", f"{d.get('start') or ''}/{d.get('end') or ''}"),
                                          ("o", str(d.get("type") or ""))]))
    if m.get("description"):
        out.append(("520", " ", " ", [("a", c.plain_text(str(m["description"])))]))
    if m.get("notes"):
        out.append(("500", " ", " ", [("a", c.plain_text(str(m["notes"])))]))
    lic = c.license_id(record)
    if lic:
        subs = [("a", c.spdx_id(lic) or lic)]
        if c.license_url(lic):
            subs.append(("u", str(c.license_url(lic))))
        out.append(("540", " ", " ", subs))
    out.append(("542", " ", " ", [("l", str(m.get("access_right") or "open"))]))
    for s in m.get("subjects") or []:
        if isinstance(s, dict) and s.get("term"):
            out.append(("650", " ", "7", [("a", str(s["term"])), ("0", str(s.get("identifier") or "")),
                                          ("2", str(s.get("scheme") or "url"))]))
    for loc in m.get("locations") or []:
        if isinstance(loc, dict) and loc.get("place"):
            out.append(("651", " ", "4", [("a", str(loc["place"]))]))
    out += [("653", " ", " ", [("a", k)]) for k in c.keywords(record)]
    out += [_person("700", p) for p in people[1:]]
    out += [_person("700", p, str(p.get("type") or "oth")) for p in c.people(record, "contributors")]
    for rel in c.related(record):
        if rel.get("relation") != "isAlternateIdentifier":
            out.append(("773", " ", " ", [("a", str(rel["identifier"])), ("i", str(rel.get("relation") or "")),
                                          ("n", str(rel.get("scheme") or ""))]))
    if c.is_open(record):
        for f in c.files(record):
            if c.file_url(f):
                out.append(("856", "4", " ", [("u", str(c.file_url(f))), ("s", str(f.get("size", 0))),
                                              ("z", str(f.get("checksum") or ""))]))
    if c.landing_url(record):
        out.append(("856", "4", "0", [("u", str(c.landing_url(record)))]))
    oai = [("o", c.oai_identifier(record))]
    oai += [("p", f"user-{x['id']}") for x in m.get("communities") or [] if isinstance(x, dict) and x.get("id")]
    out.append(("909", "C", "O", oai))
    kind, sub = c.resource_type(record)
    out.append(("980", " ", " ", [("a", kind)] + ([("b", sub)] if sub else [])))
    return [(tag, i1, i2, [(code, value) for code, value in subs if value]) for tag, i1, i2, subs in out]


def as_etree(record: dict[str, Any]) -> etree._Element:
    root = etree.Element(f"{{{NS}}}record", nsmap={None: NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    etree.SubElement(root, f"{{{NS}}}leader").text = leader(record)
    etree.SubElement(root, f"{{{NS}}}controlfield", tag="001").text = c.recid(record)
    for tag, ind1, ind2, subs in datafields(record):
        if not subs:
            continue
        field = etree.SubElement(root, f"{{{NS}}}datafield", tag=tag, ind1=ind1, ind2=ind2)
        for code, value in subs:
            etree.SubElement(field, f"{{{NS}}}subfield", code=code).text = c.xml_text(value)
    return root


def as_xml(record: dict[str, Any]) -> bytes:
    return bytes(etree.tostring(as_etree(record), xml_declaration=True, encoding="UTF-8", pretty_print=True))
