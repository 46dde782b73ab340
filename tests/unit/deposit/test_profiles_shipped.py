"""The three shipped profiles applied to real specimens from the shared corpus."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from depot.deposit.models import FileSpec, PlannedRecord, Specimen
from depot.deposit.profiles import list_profiles, load_profile
from depot.deposit.sources import open_source
from depot.metadata import check

ICEDIG = "icedig-benchmark-BR0000008525000"
TROM = "dwca-trom-algae-herbarium-gbif-multimedia/dwca-trom_algae-v1.25.zip"
NATURALIS = "dwca-naturalis-tunicata-audubon-core/dwca-naturalis-ac-media.zip"
MNHNL = "dwca-mnhnl-palaeo-associatedmedia/dwca-lux-associated-media.zip"


def icedig_specimen(corpus: Path) -> Specimen:
    """The pilot's label data as a source would give it: simple term names, string values, the sheet
    image plus the TIFF the deposit had (not in the corpus, so only named)."""
    document = json.loads((corpus / ICEDIG / "BR0000008525000.json").read_bytes().decode("cp1252"))
    node = document["@graph"][0]
    terms = {k.split(":", 1)[1]: str(v) for k, v in node.items() if ":" in k and not k.startswith("@")}
    image = corpus / ICEDIG / "BR0000008525000.jpg"
    return Specimen(key=terms["occurrenceID"], terms=terms, files=(
        FileSpec(path=str(image), name=image.name), FileSpec(path="/archive/BR0000008525000.tif",
                                                             name="BR0000008525000.tif")))


def records(corpus: Path, dataset: str, profile: str) -> Iterator[PlannedRecord]:
    applied = load_profile(profile)
    with open_source(corpus / dataset) as source:
        for specimen in source:
            yield applied.apply(specimen)


def test_list_profiles() -> None:
    assert list_profiles() == ["icedig-benchmark", "meise-belgium-herbarium", "minimal", "specimen"]


def test_icedig_profile_reproduces_the_pilot_deposit(corpus: Path) -> None:
    pilot = json.loads((corpus / ICEDIG / "metadata.json").read_text(encoding="utf-8"))
    record = load_profile("icedig-benchmark").apply(icedig_specimen(corpus))
    assert record.problems == ()
    ours = record.metadata
    for field in ("title", "upload_type", "image_type", "creators", "access_right", "language", "keywords",
                  "grants", "communities", "related_identifiers"):
        assert ours[field] == pilot[field], field
    assert ours["license"].lower() == pilot["license"].lower()
    assert re.sub(r"\s+", " ", ours["description"]) == re.sub(r"\s+", " ", pilot["description"])
    # the same 37 subjects in the same order; two carry the real term URI where the pilot used dc:
    quirks = {"http://purl.org/dc/elements/1.1/typeStatus": ("http://rs.tdwg.org/dwc/terms/typeStatus", "url"),
              "http://purl.org/dc/elements/1.1/type": ("http://purl.org/dc/terms/type", "purl")}
    expected = [{**s, "identifier": quirks[s["identifier"]][0], "scheme": quirks[s["identifier"]][1]}
                if s["identifier"] in quirks else s for s in pilot["subjects"]]
    assert len(ours["subjects"]) == 37 and ours["subjects"] == expected
    assert set(ours) == set(pilot) - {"doi", "prereserve_doi", "publication_date"}
    assert check(ours, today=date(2026, 1, 1), file_count=3) == []


def test_icedig_sidecar_is_the_specimens_json_ld(corpus: Path) -> None:
    record = load_profile("icedig-benchmark").apply(icedig_specimen(corpus))
    ((name, content),) = record.sidecars
    assert name == "BR0000008525000.json"
    document = json.loads(content.decode("utf-8"))
    occurrence = document["@graph"][0]
    assert occurrence["@id"] == "http://www.botanicalcollections.be/specimen/BR0000008525000"
    assert occurrence["@type"] == "dwc:Occurrence"
    assert occurrence["dwc:locationRemarks"].startswith("Description: Coroll[e] bleu violet; l[èvre]")
    assert occurrence["dcterms:language"] == "fra" and occurrence["dwc:year"] == "1985"
    assert document["@context"]["dwc"] == "http://rs.tdwg.org/dwc/terms/"


def test_icedig_description_drops_what_the_deposit_lacks(corpus: Path) -> None:
    specimen = icedig_specimen(corpus)
    jpeg_only = Specimen(key=specimen.key, terms=specimen.terms, files=specimen.files[:1])
    description = load_profile("icedig-benchmark").apply(jpeg_only).metadata["description"]
    assert "TIFF" not in description and "PNG" not in description
    with_png = Specimen(key=specimen.key, terms=specimen.terms,
                        files=(*specimen.files[:1], FileSpec(path="/a/x_all.png", name="x_all.png")))
    assert "Two PNG files" in load_profile("icedig-benchmark").apply(with_png).metadata["description"]


def test_meise_profile_on_a_barcode_only_specimen() -> None:
    specimen = Specimen(key="BR0000013087944", terms={
        "catalogNumber": "BR0000013087944", "scientificName": "Quercus robur L.", "family": "Fagaceae",
        "language": "nl"})
    record = load_profile("meise-belgium-herbarium").apply(specimen)
    assert record.problems == ()
    meta = record.metadata
    assert meta["title"] == "Quercus robur L. (BR0000013087944)"
    assert meta["keywords"] == ["Biodiversity", "Taxonomy", "Terrestrial", "Herbarium", "Fagaceae"]
    assert meta["creators"] == [{"name": "Meise Botanic Garden"}]
    assert meta["imprint_publisher"] == "Meise Botanic Garden Herbarium"
    assert meta["grants"] == [{"id": "10.13039/501100000780::777483"}]
    assert meta["communities"] == [{"identifier": "belgiumherbarium"}]
    assert meta["language"] == "nl"
    assert meta["license"] == "cc-by-sa-4.0"  # as the pilot's uploader set it
    assert meta["related_identifiers"] == [
        {"identifier": "http://www.botanicalcollections.be/specimen/BR0000013087944",
         "relation": "isAlternateIdentifier", "scheme": "url"},
        {"identifier": "BR0000013087944", "relation": "isAlternateIdentifier", "scheme": "other"}]
    assert record.sidecars == ()
    assert check(meta, today=date(2026, 1, 1), file_count=1) == []


def test_meise_vars_from_the_command_line() -> None:
    profile = load_profile("meise-belgium-herbarium", {"community": "", "license": "CC0"})
    record = profile.apply(Specimen(key="BR1", terms={"catalogNumber": "BR1", "scientificName": "Poa annua"}))
    assert "communities" not in record.metadata and record.metadata["license"] == "cc0-1.0"
    assert "keywords" in record.metadata and "Herbarium" in record.metadata["keywords"]
    missing_name = profile.apply(Specimen(key="BR2", terms={"catalogNumber": "BR2"}))
    assert missing_name.problems == ("title: needs term 'scientificName', which this specimen does not have",)
    assert "title" not in missing_name.metadata


def test_specimen_profile_on_trom(corpus: Path) -> None:
    first = next(records(corpus, TROM, "specimen"))
    meta = first.metadata
    assert first.problems == ()
    assert meta["title"] == "Scytosiphon lomentaria (TROM 8528)"
    # The data licence (eml.xml) is CC BY 4.0, the images CC BY-SA 4.0: the profile says the images win.
    assert meta["license"] == "cc-by-sa-4.0"
    assert meta["creators"] == [{"name": "TROM"}]
    assert meta["custom"]["dwc:decimalLatitude"] == [70.7141]
    assert meta["custom"]["dwc:scientificName"] == ["Scytosiphon lomentaria"]
    assert meta["custom"]["dwc:basisOfRecord"] == ["Preservedspecimen"]
    assert all(isinstance(v, list) and v for v in meta["custom"].values())
    assert meta["dates"] == [{"type": "Collected", "start": "1959-07-09", "end": "1959-07-09"}]  # year/month/day
    assert meta["locations"] == [{"lat": 70.7141, "lon": 29.3151,
                                  "place": "Finnmark: Berlevåg, Kongsfjord, Veinesstranda."}]
    assert meta["related_identifiers"] == [
        {"identifier": "urn:catalog:TROM:A:8528", "relation": "isAlternateIdentifier", "scheme": "urn"}]
    with open_source(corpus / TROM) as source:
        plain = load_profile("specimen", {"dwc_custom_fields": "false"}).apply(next(iter(source))).metadata
    assert "custom" not in plain and plain["title"] == meta["title"]


@pytest.mark.parametrize("profile", ["icedig-benchmark", "meise-belgium-herbarium", "minimal", "specimen"])
@pytest.mark.parametrize("dataset", [TROM, NATURALIS, MNHNL])
def test_every_shipped_profile_gives_valid_metadata_for_every_real_specimen(corpus: Path, dataset: str,
                                                                            profile: str) -> None:
    count = 0
    for record in records(corpus, dataset, profile):
        count += 1
        assert record.problems == (), (record.key, record.problems)
        assert check(record.metadata, today=date(2026, 1, 1), file_count=1) == [], record.key
        identifiers = {r["identifier"] for r in record.metadata["related_identifiers"]}
        assert record.key in identifiers  # the deposit can be found again by its key
        assert all(r["relation"] == "isAlternateIdentifier" for r in record.metadata["related_identifiers"])
    assert count in (2921, 14, 20)


def test_specimen_profile_on_naturalis_and_mnhnl(corpus: Path) -> None:
    naturalis = next(records(corpus, NATURALIS, "specimen")).metadata
    assert naturalis["license"] == "cc0-1.0"  # "CC0 1.0" in the licence column
    assert naturalis["related_identifiers"] == [  # the key is the CETAF URI: listed once
        {"identifier": "https://data.biodiversitydata.nl/naturalis/specimen/ZMA.UROCH.P.1563",
         "relation": "isAlternateIdentifier", "scheme": "url"}]
    assert "locations" not in naturalis and "dates" not in naturalis  # no coordinates, no date
    mnhnl = next(records(corpus, MNHNL, "specimen")).metadata
    assert mnhnl["custom"]["dwc:eventDate"] == ["2002-01-01"]  # written 2002-1-1
    assert mnhnl["dates"] == [{"type": "Collected", "start": "2002-01-01", "end": "2002-01-01"}]
    assert mnhnl["custom"]["dwc:typeStatus"] == ["figured in publication"]
    assert mnhnl["related_identifiers"][0] == {"identifier": "DSS0043900000004",
                                               "relation": "isAlternateIdentifier", "scheme": "other"}
