"""The pure parts of the record page: sanitised descriptions, readable licences and dates, the locality,
citation styles and the IIIF Presentation 3 manifest (validated with iiif-prezi3's models)."""

from __future__ import annotations

from typing import Any

import pytest

from depot.repository.iiif.manifest import Image, manifest, rights_uri
from depot.repository.pages import citations
from depot.repository.pages.locality import locality
from depot.repository.pages.readable import date_range, interval, license_name, timestamp
from depot.repository.services.richtext import sanitize, sanitize_stored, snippet, to_html, to_text


def test_sanitize_keeps_zenodo_markup_and_drops_scripts() -> None:
    dirty = ('<p onclick="x()">Sheet of <em>Carex</em> <a href="javascript:alert(1)">bad</a> '
             '<a href="https://gbif.org/x">GBIF</a></p><script>alert(1)</script><style>p{}</style>'
             '<img src=x onerror=alert(1)><iframe src="https://evil"></iframe>')
    clean = sanitize(dirty)
    assert "<em>Carex</em>" in clean and 'href="https://gbif.org/x"' in clean
    for bad in ("script", "onclick", "javascript:", "onerror", "<img", "iframe", "alert(1)</", "<style"):
        assert bad not in clean, bad
    assert to_html(dirty) == clean  # the way out cleans too


def test_a_harmless_description_is_stored_as_sent() -> None:
    """So that `depot reconcile` finds the metadata it sent: nh3 would rewrite &#39; and the like."""
    sent = "Collected by O&#39;Brien &amp; Co<br>Det. &#34;Carex&#34; <a href=\"https://www.plantentuinmeise.be\">Meise</a>"
    assert sanitize(sent) != sent and sanitize_stored(sent) == sent
    assert sanitize_stored('<p onclick="x()">hi</p><script>x</script>') == "<p>hi</p>"
    assert sanitize_stored('<a href="javascript:x()">M</a>') == "<a>M</a>"


def test_plain_text_keeps_paragraphs_and_line_breaks() -> None:
    text = "Held by TROM.\nScientific name: Scytosiphon lomentaria\n\nCatalogue number: 8528 & more"
    assert to_html(text) == ("<p>Held by TROM.<br>Scientific name: Scytosiphon lomentaria</p>"
                             "<p>Catalogue number: 8528 &amp; more</p>")
    assert to_html(sanitize(text)) == to_html(text)  # the stored (escaped) form reads the same


def test_hit_text_never_runs_words_together() -> None:
    html = ("<p>held by TROM.</p><p>Scientific name: <em>Scytosiphon</em> lomentaria</p>"
            "<ul><li>a</li><li>b</li></ul>x<br>y")
    assert to_text(html) == "held by TROM. Scientific name: Scytosiphon lomentaria a b x y"
    assert snippet("word " * 100, 20) == "word word word word…"


@pytest.mark.parametrize(("lic", "name"), [
    ("cc-by-4.0", "Creative Commons Attribution 4.0 International"),
    ("cc-by-nc-sa-4.0", "Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International"),
    ("cc-by-3.0", "Creative Commons Attribution 3.0"),
    ("cc-zero", "Creative Commons Zero v1.0 Universal"),
    ("mit-license", "MIT License"),
    ("my-own", "my-own"),
])
def test_licence_names(lic: str, name: str) -> None:
    assert license_name(lic) == name


def test_readable_dates() -> None:
    assert timestamp("2026-12-02T13:50:09.123456+00:00") == "2026-12-02 13:50 UTC"
    assert timestamp("2026-12-02T13:50:09") == "2026-12-02 13:50 UTC"
    assert date_range("1959-07-09", "1959-07-09") == "1959-07-09"
    assert date_range("1959-07-09", "1959-07-12") == "1959-07-09 – 1959-07-12"
    assert date_range(None, "1960") == "1960"
    assert interval("1959-07-09/1959-07-09") == "1959-07-09"
    assert interval("1959-07/1959-08") == "1959-07 – 1959-08"
    assert interval("summer 1959") == "summer 1959"


def test_locality() -> None:
    point = locality({"custom": {"dwc:decimalLatitude": ["69.6496"], "dwc:decimalLongitude": ["-18.956"]}})
    assert point is not None and point.label == "69.6496° N, 18.9560° W"
    assert "mlat=69.64960&mlon=-18.95600" in point.osm_url
    assert locality({"locations": [{"place": "Tromsø", "lat": 69.6, "lon": 18.9}]}) is not None
    assert locality({"custom": {"dwc:decimalLatitude": ["91"], "dwc:decimalLongitude": ["0"]}}) is None
    assert locality({"custom": {"dwc:decimalLatitude": ["nan"], "dwc:decimalLongitude": ["0"]}}) is None
    assert locality({}) is None


RECORD: dict[str, Any] = {
    "id": 7, "doi": "10.5072/depot.7", "created": "2025-06-01T10:00:00+00:00",
    "links": {"self_html": "http://testserver/records/7"},
    "metadata": {"title": "Eriophorum angustifolium (E00001234)", "publication_date": "2025-06-01",
                 "upload_type": "image", "image_type": "photo", "version": "2",
                 "creators": [{"name": "Royal Botanic Garden Edinburgh"}, {"name": "Smith, Jane"}],
                 "description": "<p>Herbarium sheet of <em>Eriophorum</em>.</p>", "license": {"id": "cc-by-4.0"},
                 "custom": {"dwc:catalogNumber": ["E00001234"], "dwc:eventDate": ["1959-07-09"]}},
}


@pytest.mark.parametrize("style", sorted(citations.STYLES))
def test_citation_styles(style: str) -> None:
    from depot.repository.exports import csl

    html = citations.render(csl.item(RECORD), style)
    assert "eriophorum angustifolium" in html.lower() and "2025" in html and "10.5072/depot.7" in html
    assert "Smith" in html and not html.startswith(("[1]", "1."))


def test_unknown_citation_style() -> None:
    with pytest.raises(citations.UnknownStyle):
        citations.render({"id": "1"}, "mla")


def test_manifest_is_valid_presentation_3() -> None:
    from iiif_prezi3 import Manifest

    doc = manifest(RECORD, [Image("sheet.png", 355, 568), Image("label.jpg", 2000, 1000)], "http://testserver/api",
                   export_url="http://testserver/records/7/export/json-ld")
    Manifest(**doc)  # raises pydantic's ValidationError on anything the Presentation 3 schema refuses
    assert doc["id"] == "http://testserver/api/iiif/record:7/manifest"
    assert [c["label"]["none"][0] for c in doc["items"]] == ["sheet.png", "label.jpg"]
    canvas = doc["items"][1]
    assert (canvas["width"], canvas["height"]) == (2000, 1000)
    body = canvas["items"][0]["items"][0]["body"]
    assert body["service"][0]["id"] == "http://testserver/api/iiif/record:7:label.jpg"
    assert canvas["items"][0]["items"][0]["target"] == canvas["id"]
    assert doc["rights"] == "http://creativecommons.org/licenses/by/4.0/"
    labels = {m["label"]["en"][0]: m["value"]["none"][0] for m in doc["metadata"]}
    assert labels["dwc:catalogNumber"] == "E00001234" and "Royal Botanic Garden Edinburgh" in labels["Creators"]
    assert doc["summary"]["none"] == ["Herbarium sheet of Eriophorum."]


def test_manifest_validation_catches_a_broken_one() -> None:
    """The validation the test above relies on does refuse what Presentation 3 forbids."""
    from iiif_prezi3 import Manifest
    from pydantic import ValidationError

    doc = manifest(RECORD, [Image("sheet.png", 355, 568)], "http://testserver/api")
    doc["items"][0]["width"] = "wide"
    with pytest.raises(ValidationError):
        Manifest(**doc)


def test_rights_only_for_creative_commons() -> None:
    assert rights_uri("cc-zero") == "http://creativecommons.org/publicdomain/zero/1.0/"
    assert rights_uri("mit-license") is None and rights_uri(None) is None
