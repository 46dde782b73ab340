"""The depositor's legacy <-> InvenioRDM metadata mapping (depot.deposit.rdm_metadata), on its own and
against the repository's own mapping (one data model: what the depositor sends is what it reads back)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from depot.deposit.rdm_metadata import from_rdm, legacy_view, to_rdm
from depot.metadata.rdm import rdm_access, rdm_custom_fields, rdm_metadata
from depot.repository.services.rdm_metadata import to_legacy

KEY = "urn:catalog:TROM:A:8528"
RICH: dict[str, Any] = {
    "upload_type": "image",
    "image_type": "photo",
    "title": "Fucus vesiculosus L. (TROM A-8528)",
    "description": "Image of a natural-history specimen held by TROM.<br><br>Scientific name: Fucus",
    "creators": [{"name": "The Arctic University Museum of Norway"},
                 {"name": "Lid, Johannes", "affiliation": "Tromsø Museum; UiT", "orcid": "0000-0002-1825-0097"}],
    "contributors": [{"name": "Hansen, Kari", "type": "DataCollector"}],
    "access_right": "open",
    "license": "cc-by-4.0",
    "language": "nor",
    "keywords": ["biodiversity", "Fucaceae"],
    "related_identifiers": [
        {"identifier": "https://purl.org/trom/A-8528", "relation": "isAlternateIdentifier", "scheme": "url"},
        {"identifier": KEY, "relation": "isAlternateIdentifier", "scheme": "urn"},
        {"identifier": "10.1234/abc", "relation": "isDescribedBy", "scheme": "doi", "resource_type": "publication"},
    ],
    "dates": [{"start": "1931-07-02", "end": "1931-07-02", "type": "Collected", "description": "2 July 1931"},
              {"start": "1931", "end": "1932", "type": "Valid"}],
    "locations": [{"lat": 69.65, "lon": 18.96, "place": "Tromsø"}, {"place": "Somewhere", "description": "n/a"}],
    "references": ["Lid, J. (1932). Algae."],
    "notes": "A note.",
    "method": "Flatbed scan at 600 dpi.",
    "grants": [{"id": "10.13039/501100000780::283595"}],
    "version": "2",
    "imprint_publisher": "Zenodo",
    "journal_title": "Algae", "journal_volume": "3",
    "thesis_university": "UiT",
    "custom": {"dwc:catalogNumber": ["A-8528"], "dwc:family": ["Fucaceae"]},
    "publication_date": "2026-01-15",
}


def test_a_rich_record_survives_the_round_trip() -> None:
    body = to_rdm(copy.deepcopy(RICH))
    assert from_rdm(body["metadata"], body["access"], body["custom_fields"], body.get("pids")) == RICH


def test_the_specimen_key_is_an_alternate_identifier_and_other_relations_stay_related() -> None:
    meta = to_rdm(RICH)["metadata"]
    assert meta["identifiers"] == [{"identifier": "https://purl.org/trom/A-8528", "scheme": "url"},
                                   {"identifier": KEY, "scheme": "urn"}]
    assert meta["related_identifiers"] == [{"identifier": "10.1234/abc", "scheme": "doi",
                                            "relation_type": {"id": "isdescribedby"},
                                            "resource_type": {"id": "publication"}}]
    assert meta["resource_type"] == {"id": "image-photo"}


def test_people_organisations_dates_and_access() -> None:
    body = to_rdm(RICH)
    meta = body["metadata"]
    # Zenodo's legacy layer makes every person personal, a name without a comma all family name
    # (zenodo-rdm legacy/deserializers/metadata.py PersonSchema: type = Constant("personal")).
    museum = "The Arctic University Museum of Norway"
    assert meta["creators"][0] == {"person_or_org": {"type": "personal", "name": museum, "family_name": museum}}
    assert meta["creators"][1] == {"person_or_org": {"type": "personal", "name": "Lid, Johannes", "family_name": "Lid",
                                                     "given_name": "Johannes",
                                                     "identifiers": [{"scheme": "orcid",
                                                                      "identifier": "0000-0002-1825-0097"}]},
                                   "affiliations": [{"name": "Tromsø Museum"}, {"name": "UiT"}]}
    assert meta["contributors"][0]["role"] == {"id": "datacollector"}
    assert [d["date"] for d in meta["dates"]] == ["1931-07-02", "1931/1932"]
    assert meta["locations"]["features"][0]["geometry"] == {"type": "Point", "coordinates": [18.96, 69.65]}
    assert body["access"] == {"record": "public", "files": "public"} and body["files"] == {"enabled": True}
    embargoed = to_rdm({**RICH, "access_right": "embargoed", "embargo_date": "2030-01-01"})["access"]
    assert embargoed == {"record": "public", "files": "restricted", "embargo": {"active": True, "until": "2030-01-01"}}
    assert from_rdm({}, embargoed) == {"access_right": "embargoed", "embargo_date": "2030-01-01"}
    assert from_rdm({}, {"record": "public", "files": "restricted"}) == {"access_right": "restricted"}


@pytest.mark.parametrize("field", ["communities", "access_conditions", "thesis_supervisors"])
def test_what_rdm_does_not_carry_is_left_out(field: str) -> None:
    body = to_rdm({**RICH, field: [{"identifier": "x"}]})
    assert field not in str(body)


def test_the_repository_stores_what_the_depositor_sends() -> None:
    """Through the repository's RDM -> legacy mapping (a create) and back (a read): nothing lost."""
    stored, enabled = to_legacy(to_rdm(RICH))
    assert enabled is True
    assert stored["related_identifiers"][:2] == RICH["related_identifiers"][:2]  # the key is searchable
    read = from_rdm(rdm_metadata(stored, titled=True), rdm_access(stored), rdm_custom_fields(stored))
    assert read == RICH


def test_an_external_doi_is_a_pid() -> None:
    body = to_rdm({**RICH, "doi": "10.9999/own.1"})
    assert body["pids"] == {"doi": {"identifier": "10.9999/own.1", "provider": "external"}}
    assert from_rdm(body["metadata"], body["access"], body["custom_fields"], body["pids"])["doi"] == "10.9999/own.1"


def _rdm(*, draft: bool, published: bool) -> dict[str, Any]:
    return {"id": "41", "is_draft": draft, "is_published": published, "created": "c", "updated": "u",
            "pids": {"doi": {"identifier": "10.5072/depot.41", "provider": "datacite"}} if published else {},
            "parent": {"id": "40", "pids": {"doi": {"identifier": "10.5072/depot.40", "provider": "datacite"}}},
            "metadata": to_rdm(RICH)["metadata"], "access": to_rdm(RICH)["access"],
            "files": {"enabled": True, "entries": {"a.png": {"key": "a.png", "checksum": "md5:0f", "size": 3,
                                                             "id": "f1"}}},
            "links": {"self_html": "https://repo.example/records/41"}}


@pytest.mark.parametrize(("draft", "published", "state"), [(True, False, "unsubmitted"), (True, True, "inprogress"),
                                                          (False, True, "done")])
def test_an_rdm_answer_in_the_legacy_shape(draft: bool, published: bool, state: str) -> None:
    view = legacy_view(_rdm(draft=draft, published=published), "https://repo.example/api")
    assert (view["id"], view["state"], view["submitted"], view["conceptrecid"]) == (41, state, published, "40")
    assert view["doi"] == "10.5072/depot.41" if published else "doi" not in view
    assert view["conceptdoi"] == "10.5072/depot.40"
    assert view["links"]["bucket"] == "https://repo.example/api/records/41/draft/files"
    assert view["links"]["html"] == "https://repo.example/records/41"
    assert view["files"] == [{"id": "f1", "filename": "a.png", "filesize": 3, "checksum": "md5:0f"}]
    assert view["metadata"]["related_identifiers"][1] == {"identifier": KEY, "relation": "isAlternateIdentifier",
                                                          "scheme": "urn"}
