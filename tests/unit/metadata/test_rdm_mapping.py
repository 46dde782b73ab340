"""The one legacy <-> InvenioRDM mapping (depot.metadata.rdm): a full record survives the round trip, and
the repository's serializer and the depositor's body say the same thing of the same legacy metadata. The
pins at the end are the fields on which the two former copies disagreed: each follows current Zenodo's
legacy layer (zenodo-rdm ``site/zenodo_rdm/legacy/``) or InvenioRDM."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from depot.deposit.rdm_metadata import from_rdm, to_rdm
from depot.metadata.rdm import legacy_of, rdm_access, rdm_custom_fields, rdm_metadata
from depot.repository.serializers.rdm import rdm
from depot.repository.serializers.zenodo import Links
from depot.repository.services.views import Deposit

# Every field either half maps.
FULL: dict[str, Any] = {
    "upload_type": "publication", "publication_type": "article",
    "title": "Fucus vesiculosus L. (TROM A-8528)",
    "description": "<p>Herbarium sheet</p>",
    "publication_date": "2026-01-15",
    "version": "2",
    "imprint_publisher": "Zenodo",
    "creators": [{"name": "The Arctic University Museum of Norway"},
                 {"name": "Lid, Johannes", "affiliation": "Tromsø Museum; UiT", "orcid": "0000-0002-1825-0097",
                  "gnd": "170118215"}],
    "contributors": [{"name": "Hansen, Kari", "type": "DataCollector"}],
    "keywords": ["biodiversity", "Fucaceae"],
    "subjects": [{"term": "Astronomy", "identifier": "http://id.loc.gov/authorities/subjects/sh85009003",
                  "scheme": "url"}],
    "license": "cc-by-4.0",
    "language": "nor",
    "related_identifiers": [
        {"identifier": "urn:catalog:TROM:A:8528", "relation": "isAlternateIdentifier", "scheme": "urn"},
        {"identifier": "10.1234/abc", "relation": "isDescribedBy", "scheme": "doi", "resource_type": "publication"},
    ],
    "dates": [{"start": "1931-07-02", "end": "1931-07-02", "type": "Collected", "description": "2 July 1931"},
              {"start": "1931-01-01", "end": "1932-01-01", "type": "Valid"}],
    "locations": [{"lat": 69.65, "lon": 18.96, "place": "Tromsø", "description": "Herbarium"}, {"place": "Arctic"}],
    "references": ["Lid, J. (1932). Algae."],
    "notes": "A note.",
    "method": "Flatbed scan at 600 dpi.",
    "grants": [{"id": "10.13039/501100000780::283595"}],
    "access_right": "embargoed", "embargo_date": "2030-01-01",
    "journal_title": "Blyttia", "journal_volume": "3", "journal_issue": "2", "journal_pages": "1-9",
    "conference_title": "Algae 1931", "conference_acronym": "A31", "conference_dates": "1-2 July 1931",
    "conference_place": "Tromsø", "conference_url": "https://a31.example", "conference_session": "II",
    "conference_session_part": "1",
    "imprint_isbn": "978-3-16-148410-0", "imprint_place": "Oslo", "partof_title": "Flora", "partof_pages": "12",
    "thesis_university": "UiT",
    "custom": {"dwc:catalogNumber": ["A-8528"], "dwc:family": ["Fucaceae"]},
    "doi": "10.9999/own.1",
}
PHOTO = {k: v for k, v in FULL.items() if k != "publication_type"} | {"upload_type": "image", "image_type": "photo"}


def parts(meta: dict[str, Any], *, titled: bool = False) -> dict[str, Any]:
    return {"metadata": rdm_metadata(meta, titled=titled), "access": rdm_access(meta),
            "custom_fields": rdm_custom_fields(meta), "pids": {"doi": {"identifier": meta["doi"],
                                                                       "provider": "external"}}}


@pytest.mark.parametrize("meta", [FULL, PHOTO], ids=["publication", "image"])
@pytest.mark.parametrize("titled", [False, True], ids=["request", "answer"])
def test_a_full_record_survives_the_round_trip(meta: dict[str, Any], titled: bool) -> None:
    assert legacy_of(parts(copy.deepcopy(meta), titled=titled)) == (meta, [])


def test_the_depositor_reads_back_what_it_sends() -> None:
    body = to_rdm(copy.deepcopy(FULL))
    assert from_rdm(body["metadata"], body["access"], body["custom_fields"], body["pids"]) == FULL


def _untitled(value: Any) -> Any:
    """``value`` without the English titles of vocabulary terms, which only answers carry."""
    if isinstance(value, list):
        return [_untitled(v) for v in value]
    if isinstance(value, dict):
        return {k: _untitled(v) for k, v in value.items() if not (k == "title" and "id" in value)}
    return value


def _served(meta: dict[str, Any]) -> dict[str, Any]:
    deposit = Deposit(id=7, concept_id=6, owner_id=1, bucket_id="b", draft=meta, record=None, doi=None,
                      concept_doi=None, version_index=1, created="c", modified="m", published=None, files=())
    return rdm(Links("https://repo.example"), deposit, draft=True, version_index=1, is_latest=True, communities=[])


@pytest.mark.parametrize("meta", [FULL, PHOTO, {"title": "Bare"}], ids=["publication", "image", "bare"])
def test_the_serializer_and_the_depositor_say_the_same(meta: dict[str, Any]) -> None:
    served, sent = _served(meta), to_rdm(meta)
    assert _untitled(served["metadata"]) == sent["metadata"]
    assert served["custom_fields"] == sent.get("custom_fields", {})
    embargo = served["access"]["embargo"]
    assert {"record": served["access"]["record"], "files": served["access"]["files"],
            **({"embargo": {"active": True, "until": embargo["until"]}} if embargo["active"] else {})} == sent["access"]
    assert served["pids"]["doi"] == sent["pids"]["doi"] if meta.get("doi") else "pids" not in sent


def test_answers_title_their_vocabulary_terms() -> None:
    served = _served(FULL)["metadata"]
    assert served["resource_type"] == {"id": "publication-article", "title": {"en": "Article"}}
    assert served["contributors"][0]["role"] == {"id": "datacollector", "title": {"en": "DataCollector"}}
    assert served["related_identifiers"][0]["relation_type"] == {"id": "isdescribedby",
                                                                 "title": {"en": "isDescribedBy"}}
    assert served["additional_descriptions"][1]["type"] == {"id": "methods", "title": {"en": "Methods"}}
    assert _served(FULL)["access"]["embargo"] == {"active": True, "until": "2030-01-01", "reason": None}
    assert _served({"title": "T"})["access"] == {"record": "public", "files": "public", "status": "open",
                                                "embargo": {"active": False, "until": None, "reason": None}}


# -- where the two former copies disagreed ---------------------------------------------------------------
def test_every_legacy_person_is_personal() -> None:
    """zenodo-rdm legacy/deserializers/metadata.py PersonSchema: ``type = Constant("personal")``; a name
    without a comma is all family name (spec §3.3). The depositor used to send an organisation."""
    creators = rdm_metadata({"creators": [{"name": "TROM"}]})["creators"]
    assert creators == [{"person_or_org": {"type": "personal", "name": "TROM", "family_name": "TROM"}}]


def test_a_persons_name_is_family_comma_given() -> None:
    """InvenioRDM derives a personal name from family and given names; the repository used to read
    ``name`` first."""
    who = {"type": "personal", "name": "stale", "family_name": "Lid", "given_name": "Johannes"}
    meta, _ = legacy_of({"metadata": {"creators": [{"person_or_org": who}]}})
    assert meta["creators"] == [{"name": "Lid, Johannes"}]


def test_a_contributor_without_a_role_has_no_type() -> None:
    """zenodo-rdm legacy serializer ``dump_role``: no role, no type (InvenioRDM requires one, and the
    legacy save refuses the contributor); the repository used to make it ``Other``."""
    meta, errors = legacy_of({"metadata": {"contributors": [{"person_or_org": {"name": "X"}}]}})
    assert meta["contributors"] == [{"name": "X"}] and errors == []


def test_an_other_description_is_the_notes() -> None:
    """zenodo-rdm writes ``notes`` as additional description type ``other`` and reads it back; the
    depositor used to drop it."""
    meta, _ = legacy_of({"metadata": {"additional_descriptions": [{"description": "n", "type": {"id": "other"}}]}})
    assert meta == {"notes": "n"}


def test_empty_strings_are_kept() -> None:
    """zenodo-rdm's legacy deserializer keeps an empty string (``clear_none`` drops only None); the
    serializer used to drop an empty description, version or title."""
    meta = {"title": "T", "description": "", "version": ""}
    assert rdm_metadata(meta, titled=True) == meta
    assert legacy_of({"metadata": meta})[0] == meta


def test_absent_is_left_out_not_null() -> None:
    """InvenioRDM answers leave an absent field out; the serializer used to answer ``publisher: null``,
    ``creators: []``, a subject's ``scheme: null`` and a location's ``place: null``."""
    meta = rdm_metadata({"subjects": [{"term": "A", "identifier": "x"}], "locations": [{"lat": 1, "lon": 2}]},
                        titled=True)
    assert meta == {"subjects": [{"id": "x", "subject": "A"}],
                    "locations": {"features": [{"geometry": {"type": "Point", "coordinates": [2, 1]}}]}}
    back, _ = legacy_of({"metadata": {"subjects": [{"id": "x"}], "locations": {"features": [{"description": "d"}]},
                                      "related_identifiers": [{"identifier": "10.1/x"}]}})
    assert back == {"subjects": [{"term": "x", "identifier": "x"}], "locations": [{"description": "d"}],
                    "related_identifiers": [{"identifier": "10.1/x"}]}


def test_access_without_record_or_files_is_open() -> None:
    """InvenioRDM defaults ``record`` and ``files`` to public; the depositor used to read ``{}`` as nothing."""
    assert legacy_of({"access": {}})[0] == {"access_right": "open"}


def test_a_managed_doi_is_legacy_doi_but_not_the_depositors_metadata() -> None:
    """zenodo-rdm's legacy serializer dumps ``pids.doi`` of any provider as ``doi``; the depositor keeps
    only an external DOI as its metadata (a minted one is the record's, ``legacy_view``'s ``doi``)."""
    pids = {"doi": {"identifier": "10.5072/depot.7", "provider": "datacite"}}
    assert legacy_of({"pids": pids})[0] == {"doi": "10.5072/depot.7"}
    assert from_rdm({}, None, None, pids) == {}
