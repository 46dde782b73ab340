"""Record exports on a realistic herbarium-sheet record (ICEDIG/Meise-like), built by the records API's own
serializer so the input is exactly what ``GET /api/records/{id}`` returns."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from depot.metadata import normalize
from depot.repository.exports import schemaorg
from depot.repository.resources.serialize import Links, record
from depot.repository.services.views import Deposit, StoredFile

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
