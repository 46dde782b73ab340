"""Record exports on a realistic herbarium-sheet record (ICEDIG/Meise-like), built by the records API's own
serializer so the input is exactly what ``GET /api/records/{id}`` returns."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import rdflib
from datacite import schema45
from lxml import etree
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, SKOS
from rdflib.namespace import XSD as XS

from depot.metadata import normalize
from depot.repository.exports import bibtex, csl, datacite, dcat, dublincore, marc21, registry, schemaorg
from depot.repository.serializers.zenodo import Links, record
from depot.repository.services.views import Deposit, StoredFile

from conftest import REPO_ROOT

SPECIMEN = {
    "title": "Quercus robur L. (BR0000008525000)", "upload_type": "image", "image_type": "photo",
    "publication_date": "2024-03-01",
    "description": "<p>Herbarium sheet of <i>Quercus robur</i> L. from Meise Botanic Garden, digitised for "
                   "ICEDIG &amp; DiSSCo.</p>",
    "creators": [{"name": "Meise Botanic Garden", "affiliation": "Meise"},
                 {"name": "Dillen, Mathias", "orcid": "0000-0002-1825-0097", "affiliation": "Meise Botanic Garden"}],
    "contributors": [{"name": "Groom, Quentin", "type": "DataCurator"}],
    "access_right": "open", "license": "cc-by-4.0", "keywords": ["Biodiversity", "Herbarium", "Fagaceae"],
    "dates": [{"start": "1890-05-01", "end": "1890-05-31", "type": "Collected"}],
    "locations": [{"place": "Belgium, Brabant", "lat": 50.9, "lon": 4.3}],
    "subjects": [{"term": "Quercus robur", "identifier": "https://www.gbif.org/species/2878688", "scheme": "url"}],
    "related_identifiers": [
        {"identifier": "https://www.botanicalcollections.be/specimen/BR0000008525000", "relation": "isDerivedFrom",
         "scheme": "url", "resource_type": "physicalobject"},
        {"identifier": "BR0000008525000", "relation": "isAlternateIdentifier", "scheme": "other"},
        {"identifier": "10.5281/zenodo.123", "relation": "isPartOf", "scheme": "doi"}],
    "custom": {"dwc:catalogNumber": ["BR0000008525000"], "dwc:scientificName": ["Quercus robur L."],
               "dwc:family": ["Fagaceae"], "dwc:recordedBy": ["Bommer, J.E."]},
    "communities": [{"identifier": "icedig"}], "version": "1.0", "language": "eng",
    "notes": "Digitised for ICEDIG.",
}
JPEG = StoredFile(file_id="7eadc47d-c8a9-4976-9f7a-c4bef7568b16", key="BR0000008525000.jpg", size=4_718_592,
                  md5="c5ae32fb74e4e990c3213f25ba9ad265", sha256="0" * 64, mimetype="image/jpeg",
                  version_id="v1", uri="x", created="2024-03-01T10:00:00+00:00", updated="2024-03-01T10:00:00+00:00")


def specimen_record(**overrides: Any) -> dict[str, Any]:
    """The records-API JSON of the specimen record; ``overrides`` replace (or with None remove) metadata."""
    meta = {**SPECIMEN, **overrides}
    meta = normalize({k: v for k, v in meta.items() if v is not None}, today=date(2024, 3, 1))
    deposit = Deposit(id=8525, concept_id=8524, owner_id=1, bucket_id="b", draft=None, record=meta,
                      doi="10.5072/depot.8525", concept_doi="10.5072/depot.8524", version_index=1,
                      created="2024-03-01T10:00:00+00:00", modified="2024-03-02T11:12:13.456789+00:00",
                      published="2024-03-01T10:05:00+00:00", files=(JPEG,))
    return record(Links("https://depot.example.org"), deposit, is_last=True, communities=["icedig"])


def test_schemaorg_is_a_dataset_google_can_index() -> None:
    doc = schemaorg.jsonld(specimen_record())
    assert doc["@context"] == "https://schema.org" and doc["@type"] == ["Dataset", "Photograph"]
    assert doc["@id"] == "https://doi.org/10.5072/depot.8525"
    assert doc["identifier"][0] == doc["@id"]
    assert {"@type": "PropertyValue", "propertyID": "other", "value": "BR0000008525000"} in doc["identifier"]
    assert doc["name"] == "Quercus robur L. (BR0000008525000)"
    assert doc["description"].startswith("Herbarium sheet of Quercus robur L.") and "&" in doc["description"]
    assert doc["url"] == "https://depot.example.org/records/8525"
    assert doc["license"] == "https://creativecommons.org/licenses/by/4.0/legalcode"
    assert doc["creator"][0] == {"@type": "Organization", "name": "Meise Botanic Garden",
                                 "affiliation": {"@type": "Organization", "name": "Meise"}}
    assert doc["creator"][1]["@id"] == "https://orcid.org/0000-0002-1825-0097"
    assert doc["creator"][1]["givenName"] == "Mathias" and doc["creator"][1]["familyName"] == "Dillen"
    assert doc["datePublished"] == "2024-03-01" and "Herbarium" in doc["keywords"]
    url = "https://depot.example.org/api/records/8525/files/BR0000008525000.jpg/content"
    assert doc["distribution"] == [{"@type": "DataDownload", "name": "BR0000008525000.jpg", "contentUrl": url,
                                    "encodingFormat": "image/jpeg", "contentSize": "4718592 B"}]
    assert doc["image"] == [url] and doc["contentUrl"] == url
    assert doc["spatialCoverage"][0]["geo"] == {"@type": "GeoCoordinates", "latitude": 50.9, "longitude": 4.3}
    assert doc["temporalCoverage"] == "1890-05-01/1890-05-31"
    assert doc["isBasedOn"] == ["https://www.botanicalcollections.be/specimen/BR0000008525000"]


@pytest.mark.parametrize(("upload_type", "expected"), [("dataset", ["Dataset"]),
                                                         ("software", ["Dataset", "SoftwareSourceCode"])])
def test_schemaorg_types(upload_type: str, expected: list[str]) -> None:
    assert schemaorg.jsonld(specimen_record(upload_type=upload_type, image_type=None))["@type"] == expected


def test_schemaorg_restricted_record_announces_no_content() -> None:
    doc = schemaorg.jsonld(specimen_record(access_right="restricted", license=None, access_conditions="Ask."))
    assert doc["isAccessibleForFree"] is False
    assert "distribution" not in doc and "image" not in doc and "license" not in doc


# --- DataCite -------------------------------------------------------------------------------------------

XSD = REPO_ROOT / "tests" / "data" / "schemas" / "datacite-4.5" / "metadata.xsd"  # copied from shared/schemas
VARIANTS = {
    "full": {},
    "minimal": {k: None for k in ("contributors", "dates", "locations", "subjects", "related_identifiers", "custom",
                                  "communities", "version", "language", "notes", "keywords", "description")},
    "dataset-cc0-no-doi-links": {"upload_type": "dataset", "image_type": None, "license": "cc-zero",
                                 "related_identifiers": [{"identifier": "weird id", "relation": "cites"}]},
    "restricted-article": {"upload_type": "publication", "publication_type": "article", "image_type": None,
                           "access_right": "restricted", "license": None, "access_conditions": "On request."},
    "place-without-point": {"locations": [{"place": "Herbarium, Meise"}], "dates": [{"start": "1890-05-01",
                                                                                    "type": "Valid"}]},
}


@pytest.fixture(scope="module")
def datacite_xsd() -> etree.XMLSchema:
    assert XSD.exists(), f"DataCite XSD not found at {XSD} (it ships in tests/data/schemas)"
    return etree.XMLSchema(file=str(XSD))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_datacite_xml_validates_against_kernel_45_xsd(variant: str, datacite_xsd: etree.XMLSchema) -> None:
    xml = datacite.as_xml(specimen_record(**VARIANTS[variant]))
    doc = etree.fromstring(xml)
    assert datacite_xsd.validate(doc), datacite_xsd.error_log
    assert doc.findtext("{http://datacite.org/schema/kernel-4}identifier") == "10.5072/depot.8525"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_datacite_json_validates_with_the_datacite_package(variant: str) -> None:
    doc = datacite.as_json(specimen_record(**VARIANTS[variant]))
    schema = json.loads((Path(schema45.__file__).parent / "schemas" / "datacite-v4.5.json").read_text())
    errors = [e.message for e in jsonschema.validators.validator_for(schema)(schema).iter_errors(doc)]
    assert errors == [] and schema45.validate(doc)


def test_datacite_says_what_a_specimen_image_is() -> None:
    doc = datacite.as_json(specimen_record())
    assert doc["types"] == {"resourceTypeGeneral": "Image", "resourceType": "Photo"}
    assert doc["creators"][0] == {"name": "Meise Botanic Garden", "nameType": "Organizational",
                                  "affiliation": [{"name": "Meise"}]}
    assert doc["creators"][1]["nameIdentifiers"][0]["nameIdentifier"] == "0000-0002-1825-0097"
    assert {"date": "1890-05-01/1890-05-31", "dateType": "Collected"} in doc["dates"]
    assert {"relatedIdentifier": "https://www.botanicalcollections.be/specimen/BR0000008525000",
            "relatedIdentifierType": "URL", "relationType": "IsDerivedFrom",
            "resourceTypeGeneral": "PhysicalObject"} in doc["relatedIdentifiers"]
    assert {"relatedIdentifier": "10.5072/depot.8524", "relatedIdentifierType": "DOI",
            "relationType": "IsVersionOf"} in doc["relatedIdentifiers"]
    assert {"alternateIdentifier": "BR0000008525000", "alternateIdentifierType": "other"} in \
        doc["alternateIdentifiers"]
    assert {"subject": "Fagaceae", "subjectScheme": "Darwin Core family",
            "schemeUri": "http://rs.tdwg.org/dwc/terms/"} in doc["subjects"]
    assert doc["geoLocations"] == [{"geoLocationPlace": "Belgium, Brabant",
                                    "geoLocationPoint": {"pointLatitude": 50.9, "pointLongitude": 4.3}}]
    assert doc["rightsList"][1]["rightsUri"] == "https://creativecommons.org/licenses/by/4.0/legalcode"
    assert doc["descriptions"][0]["description"].startswith("Herbarium sheet of Quercus robur L. from Meise")
    assert doc["sizes"] == ["4718592 Bytes"] and doc["formats"] == ["image/jpeg"]


def test_datacite_xml_survives_control_characters(datacite_xsd: etree.XMLSchema) -> None:
    doc = etree.fromstring(datacite.as_xml(specimen_record(title="Sheet\x0b with a vertical tab")))
    assert datacite_xsd.validate(doc)
    assert doc.findtext(".//{http://datacite.org/schema/kernel-4}title") == "Sheet with a vertical tab"


def test_oai_datacite_wraps_the_resource() -> None:
    root = datacite.oai_datacite_etree(specimen_record(), "DEPOT.TEST")
    ns = {"o": datacite.OAI_DATACITE_NS, "d": datacite.NS}
    assert root.findtext("o:schemaVersion", namespaces=ns) == "4.5"
    assert root.findtext("o:datacentreSymbol", namespaces=ns) == "DEPOT.TEST"
    assert root.find("o:payload/d:resource", namespaces=ns) is not None


# --- DCAT-AP (the OAI-PMH dcat format) ----------------------------------------------------------------------

def dcat_graph(record: dict[str, Any]) -> rdflib.Graph:
    return rdflib.Graph().parse(data=dcat.as_xml(record), format="xml")


def test_dcat_says_what_datacite_says() -> None:
    g = dcat_graph(specimen_record())
    ds = rdflib.URIRef("https://doi.org/10.5072/depot.8525")
    assert list(g.subjects(RDF.type, DCAT.Dataset)) == [ds]
    assert g.value(ds, DCTERMS.type) == rdflib.URIRef("http://purl.org/dc/dcmitype/Image")
    assert g.value(ds, DCTERMS.issued) == rdflib.Literal("2024-03-01", datatype=XS.date)
    creators = {(g.value(a, RDF.type), str(g.value(a, FOAF.name))) for a in g.objects(ds, DCTERMS.creator)}
    assert creators == {(FOAF.Organization, "Meise Botanic Garden"), (FOAF.Person, "Dillen, Mathias")}
    orcid = rdflib.URIRef("https://orcid.org/0000-0002-1825-0097")
    assert (ds, DCTERMS.creator, orcid) in g and g.value(orcid, FOAF.familyName) == rdflib.Literal("Dillen")
    assert {str(g.value(a, FOAF.name)) for a in g.objects(ds, DCTERMS.contributor)} == {"Groom, Quentin"}
    assert set(map(str, g.objects(ds, DCAT.keyword))) == {"Biodiversity", "Herbarium", "Fagaceae"}
    gbif = rdflib.URIRef("https://www.gbif.org/species/2878688")
    assert (ds, DCTERMS.subject, gbif) in g and g.value(gbif, SKOS.prefLabel) == rdflib.Literal("Quercus robur")
    taxa = {str(g.value(c, SKOS.prefLabel)) for c in g.objects(ds, DCTERMS.subject)}
    assert {"Quercus robur L.", "Fagaceae"} <= taxa  # the Darwin Core taxon, as in DataCite's subjects
    notations = {str(g.value(i, SKOS.notation)) for i in g.objects(ds, rdflib.URIRef("http://www.w3.org/ns/adms#identifier"))}
    assert notations == {"BR0000008525000"}
    assert g.value(ds, DCTERMS.isVersionOf) == rdflib.URIRef("https://doi.org/10.5072/depot.8524")
    assert (ds, DCTERMS.relation, rdflib.URIRef("https://doi.org/10.5281/zenodo.123")) in g
    assert g.value(ds, OWL.versionInfo) == rdflib.Literal("1.0")
    lic = rdflib.URIRef("https://creativecommons.org/licenses/by/4.0/legalcode")
    assert g.value(ds, DCTERMS.license) == lic
    assert g.value(ds, DCTERMS.accessRights) == rdflib.URIRef(
        "http://publications.europa.eu/resource/authority/access-right/PUBLIC")
    assert g.value(ds, DCAT.landingPage) == rdflib.URIRef("https://depot.example.org/records/8525")
    (dist,) = g.objects(ds, DCAT.distribution)
    assert g.value(dist, DCAT.downloadURL) == rdflib.URIRef(
        "https://depot.example.org/api/records/8525/files/BR0000008525000.jpg/content")
    assert g.value(dist, DCAT.mediaType) == rdflib.Literal("image/jpeg")
    assert g.value(dist, DCAT.byteSize).toPython() == 4_718_592  # type: ignore[union-attr]
    assert g.value(dist, DCTERMS.license) == lic
    assert "Quercus robur" in str(g.value(ds, DCTERMS.description))


def test_dcat_restricted_record_offers_no_download() -> None:
    g = dcat_graph(specimen_record(**VARIANTS["restricted-article"]))
    ds = rdflib.URIRef("https://doi.org/10.5072/depot.8525")
    assert list(g.objects(ds, DCAT.distribution)) == [] and g.value(ds, DCTERMS.license) is None
    assert g.value(ds, DCTERMS.accessRights) == rdflib.URIRef(
        "http://publications.europa.eu/resource/authority/access-right/RESTRICTED")
    assert g.value(ds, DCTERMS.type) == rdflib.URIRef("http://purl.org/dc/dcmitype/Text")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_dcat_parses_for_every_variant(variant: str) -> None:
    g = dcat_graph(specimen_record(**VARIANTS[variant]))
    assert len(list(g.subjects(RDF.type, DCAT.Dataset))) == 1 and len(g) > 8


# --- Dublin Core, MARC21, CSL, BibTeX ---------------------------------------------------------------------

def test_dublin_core() -> None:
    root = etree.fromstring(dublincore.as_xml(specimen_record()))
    values = [(el.tag.split("}")[1], el.text) for el in root]
    assert root.tag == "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc"
    assert ("title", "Quercus robur L. (BR0000008525000)") in values
    assert [v for k, v in values if k == "creator"] == ["Meise Botanic Garden", "Dillen, Mathias"]
    assert ("identifier", "https://doi.org/10.5072/depot.8525") in values
    assert ("identifier", "oai:depot.example.org:8525") in values
    assert ("type", "info:eu-repo/semantics/other") in values and ("type", "Image") in values
    assert ("rights", "https://creativecommons.org/licenses/by/4.0/legalcode") in values
    assert ("relation", "url:https://depot.example.org/communities/icedig") in values
    assert ("format", "image/jpeg") in values and ("coverage", "Belgium, Brabant") in values


def test_marc21() -> None:
    root = etree.fromstring(marc21.as_xml(specimen_record()))
    ns = {"m": marc21.NS}
    assert root.findtext("m:leader", namespaces=ns) == "00000nkm a2200000uu 4500"
    assert root.findtext("m:controlfield[@tag='001']", namespaces=ns) == "8525"

    def sub(tag: str, code: str) -> list[str | None]:
        return [el.text for el in root.findall(f"m:datafield[@tag='{tag}']/m:subfield[@code='{code}']",
                                                namespaces=ns)]
    assert sub("024", "a") == ["10.5072/depot.8525", "BR0000008525000"]
    assert sub("245", "a") == ["Quercus robur L. (BR0000008525000)"]
    assert sub("100", "a") == ["Meise Botanic Garden"] and sub("700", "a") == ["Dillen, Mathias", "Groom, Quentin"]
    assert sub("700", "0") == ["(orcid)0000-0002-1825-0097"]
    assert sub("909", "o") == ["oai:depot.example.org:8525"] and sub("909", "p") == ["user-icedig"]
    assert sub("980", "a") == ["image"] and sub("980", "b") == ["photo"]
    assert "https://depot.example.org/api/records/8525/files/BR0000008525000.jpg/content" in sub("856", "u")


def test_csl() -> None:
    item = csl.item(specimen_record())
    assert item["type"] == "graphic" and item["id"] == "8525" and item["DOI"] == "10.5072/depot.8525"
    assert item["issued"] == {"date-parts": [[2024, 3, 1]]}
    assert item["author"] == [{"literal": "Meise Botanic Garden"}, {"family": "Dillen", "given": "Mathias"}]
    assert csl.item(specimen_record(image_type="figure"))["type"] == "figure"


def test_bibtex() -> None:
    text = bibtex.as_bibtex(specimen_record(title="Quercus robur {L.} & 100% _oak_"))
    assert text.startswith("@misc{meise_2024_8525,\n")
    assert "author = {{Meise Botanic Garden} and Dillen, Mathias}" in text
    assert r"title = {{Quercus robur \{L.\} \& 100\% \_oak\_}}" in text
    assert "doi = {10.5072/depot.8525}" in text and "month = mar" in text
    assert text.count("{") == text.count("}") + text.count(r"\{") - text.count(r"\}")


def test_every_export_renders_the_minimal_record() -> None:
    minimal = specimen_record(**VARIANTS["minimal"])
    for fmt in registry.FORMATS:
        assert fmt.render(minimal), fmt.name


@pytest.mark.parametrize(("accept", "expected"), [
    (None, "json"), ("*/*", "json"), ("text/html,application/xhtml+xml,*/*;q=0.8", "json"),
    ("application/x-bibtex;q=0.5, application/ld+json", "json-ld"), ("application/x-datacite+xml", "datacite-xml"),
    ("application/vnd.zenodo.v1+json", "json"), ("application/marcxml+xml", "marcxml"),
    ("application/dcat+xml", "dcat-ap"), ("text/plain", None), ("application/x-bibtex;q=0", None)])
def test_negotiation(accept: str | None, expected: str | None) -> None:
    chosen = registry.negotiate(accept)
    assert (chosen[1].name if chosen else None) == expected
