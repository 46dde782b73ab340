"""DCAT-AP (CiteDCAT-AP) of a record as RDF/XML, the OAI-PMH ``dcat`` format and ``application/dcat+xml``.

InvenioRDM derives it from the DataCite XML with the JRC's datacite-to-dcat-ap XSLT and then adds one
``dcat:Distribution`` per file. Depot builds the same graph straight from its DataCite JSON, so the two
formats say the same thing: one ``dcat:Dataset`` named by its DOI URL (the landing page when there is
none), creators and contributors as ``foaf`` agents, keywords as ``dcat:keyword``, subjects as
``skos:Concept``, the licence and access right as ``dct`` resources, the concept DOI as ``dct:isVersionOf``.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from depot.repository.exports import common as c
from depot.repository.exports import datacite

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
ADMS = "http://www.w3.org/ns/adms#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OWL = "http://www.w3.org/2002/07/owl#"
LOCN = "http://www.w3.org/ns/locn#"
ORG = "http://www.w3.org/ns/org#"
XSD = "http://www.w3.org/2001/XMLSchema#"
NSMAP = {"rdf": RDF, "dcat": DCAT, "dct": DCT, "foaf": FOAF, "adms": ADMS, "skos": SKOS, "owl": OWL,
         "locn": LOCN, "org": ORG}
# DataCite resourceTypeGeneral -> DCMI type, as CiteDCAT-AP maps it (anything else stays dcat:Dataset only).
# DataCite 4.4 split Text into kinds of text (JournalArticle, Preprint, ...): each is still a dcmitype:Text.
DCMI_TYPE = {"Dataset": "Dataset", "Image": "Image", "Software": "Software", "Text": "Text",
             "Audiovisual": "MovingImage", "PhysicalObject": "PhysicalObject", "Collection": "Collection",
             **dict.fromkeys(datacite.PUBLICATION_GENERAL.values(), "Text")}
ACCESS = "http://publications.europa.eu/resource/authority/access-right/"
ACCESS_RIGHT = {"open": "PUBLIC", "embargoed": "NON_PUBLIC", "restricted": "RESTRICTED", "closed": "NON_PUBLIC"}


def _el(parent: etree._Element, ns: str, tag: str, text: object = None, *, resource: str | None = None,
        datatype: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if resource is not None:
        el.set(f"{{{RDF}}}resource", c.xml_text(resource))
    if datatype is not None:
        el.set(f"{{{RDF}}}datatype", datatype)
    if text is not None:
        el.text = c.xml_text(str(text))
    return el


def _agent(parent: etree._Element, tag: str, person: dict[str, Any]) -> None:
    """A creator or contributor: a foaf:Person or foaf:Organization, named by its ORCID when it has one."""
    holder = _el(parent, DCT, tag)
    kind = "Person" if person.get("nameType") == "Personal" else "Organization"
    agent = etree.SubElement(holder, f"{{{FOAF}}}{kind}")
    orcids = [i["nameIdentifier"] for i in person.get("nameIdentifiers") or []
              if i.get("nameIdentifierScheme") == "ORCID"]
    if orcids:
        agent.set(f"{{{RDF}}}about", f"https://orcid.org/{orcids[0]}")
    _el(agent, FOAF, "name", person["name"])
    if person.get("givenName"):
        _el(agent, FOAF, "givenName", person["givenName"])
        _el(agent, FOAF, "familyName", person["familyName"])
    for aff in person.get("affiliation") or []:
        org = etree.SubElement(_el(agent, ORG, "memberOf"), f"{{{FOAF}}}Organization")
        _el(org, FOAF, "name", aff["name"])


def as_etree(record: dict[str, Any]) -> etree._Element:
    doc = datacite.as_json(record)
    root = etree.Element(f"{{{RDF}}}RDF", nsmap=NSMAP)
    dataset = etree.SubElement(root, f"{{{RDF}}}Description")
    subject = c.doi_url(record) or c.landing_url(record)
    if subject:
        dataset.set(f"{{{RDF}}}about", subject)
    _el(dataset, RDF, "type", resource=f"{DCAT}Dataset")
    general = doc["types"]["resourceTypeGeneral"]
    if general in DCMI_TYPE:
        _el(dataset, DCT, "type", resource=f"http://purl.org/dc/dcmitype/{DCMI_TYPE[general]}")
    if c.doi_url(record):
        _el(dataset, DCT, "identifier", c.doi_url(record), datatype=f"{XSD}anyURI")
    for person in doc["creators"]:
        _agent(dataset, "creator", person)
    for t in doc["titles"]:
        _el(dataset, DCT, "title", t["title"])
    publisher = etree.SubElement(_el(dataset, DCT, "publisher"), f"{{{FOAF}}}Agent")
    _el(publisher, FOAF, "name", doc["publisher"]["name"])
    _el(dataset, DCT, "issued", c.publication_date(record), datatype=f"{XSD}date")
    for s in doc.get("subjects") or []:
        if "subjectScheme" not in s and "valueUri" not in s:
            _el(dataset, DCAT, "keyword", s["subject"])
            continue
        concept = etree.SubElement(_el(dataset, DCT, "subject"), f"{{{SKOS}}}Concept")
        if s.get("valueUri"):
            concept.set(f"{{{RDF}}}about", s["valueUri"])
        _el(concept, SKOS, "prefLabel", s["subject"])
        if s.get("subjectScheme"):
            scheme = etree.SubElement(_el(concept, SKOS, "inScheme"), f"{{{SKOS}}}ConceptScheme")
            _el(scheme, DCT, "title", s["subjectScheme"])
    for person in doc.get("contributors") or []:
        _agent(dataset, "contributor", person)
    if doc.get("language"):
        _el(dataset, DCT, "language", doc["language"])
    for alt in doc.get("alternateIdentifiers") or []:
        ident = etree.SubElement(_el(dataset, ADMS, "identifier"), f"{{{ADMS}}}Identifier")
        _el(ident, SKOS, "notation", alt["alternateIdentifier"])
        _el(ident, DCT, "type", alt["alternateIdentifierType"])
    for rel in doc.get("relatedIdentifiers") or []:
        if rel["relationType"] == "IsVersionOf" and rel["relatedIdentifierType"] == "DOI":
            _el(dataset, DCT, "isVersionOf", resource=f"https://doi.org/{rel['relatedIdentifier']}")
        elif rel["relatedIdentifierType"] in ("DOI", "URL"):
            target = rel["relatedIdentifier"]
            _el(dataset, DCT, "relation", resource=target if rel["relatedIdentifierType"] == "URL"
                else f"https://doi.org/{target}")
    if doc.get("version"):
        _el(dataset, OWL, "versionInfo", doc["version"])
    for d in doc.get("descriptions") or []:
        _el(dataset, DCT, "description", d["description"])
    for g in doc.get("geoLocations") or []:
        place = etree.SubElement(_el(dataset, DCT, "spatial"), f"{{{DCT}}}Location")
        _el(place, LOCN, "geographicName", g["geoLocationPlace"])
    access = str(c.meta(record).get("access_right") or "open")
    _el(dataset, DCT, "accessRights", resource=ACCESS + ACCESS_RIGHT.get(access, "NON_PUBLIC"))
    lic = c.license_id(record)
    license_url = c.license_url(lic) if lic else None
    if license_url:
        _el(dataset, DCT, "license", resource=license_url)
    if c.landing_url(record):
        _el(dataset, DCAT, "landingPage", resource=c.landing_url(record))
    if c.is_open(record):
        for f in c.files(record):
            dist = etree.SubElement(_el(dataset, DCAT, "distribution"), f"{{{DCAT}}}Distribution")
            if c.file_url(f):
                _el(dist, DCAT, "downloadURL", resource=c.file_url(f))
            if c.landing_url(record):
                _el(dist, DCAT, "accessURL", resource=c.landing_url(record))
            _el(dist, DCAT, "mediaType", c.media_type(f["key"]))
            _el(dist, DCAT, "byteSize", f.get("size", 0), datatype=f"{XSD}nonNegativeInteger")
            if license_url:
                _el(dist, DCT, "license", resource=license_url)
    return root


def as_xml(record: dict[str, Any]) -> bytes:
    return bytes(etree.tostring(as_etree(record), xml_declaration=True, encoding="UTF-8", pretty_print=True))
