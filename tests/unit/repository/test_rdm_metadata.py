"""RDM JSON <-> legacy metadata (pure): a round trip keeps every field both carry, and any JSON body
either translates or raises RdmBodyError (never another exception, which would be a 500)."""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from depot.metadata import normalize
from depot.metadata.rdm import rdm_access, rdm_custom_fields, rdm_metadata
from depot.repository.services.legacy import apply_legacy_defaults
from depot.repository.services.rdm_metadata import RdmBodyError, to_legacy

TODAY = date(2026, 1, 15)

FULL: dict[str, Any] = {
    "title": "Fucus vesiculosus L. (TROM-A-8528)",
    "upload_type": "image", "image_type": "photo",
    "publication_date": "2025-12-01",
    "description": "<p>Herbarium sheet</p>",
    "creators": [{"name": "Lid, Johannes", "affiliation": "Tromsø Museum", "orcid": "0000-0002-1825-0097"}],
    "contributors": [{"name": "Arctic University Museum", "type": "HostingInstitution"}],
    "access_right": "open", "license": "cc-by-4.0",
    "keywords": ["Biodiversity", "Herbarium"],
    "related_identifiers": [{"identifier": "urn:catalog:TROM:A:8528", "relation": "isAlternateIdentifier",
                             "scheme": "urn"}],
    "language": "eng", "version": "1.0", "notes": "Label transcribed", "method": "Scanned at 600 dpi",
    "dates": [{"start": "1931-07-01", "end": "1931-07-31", "type": "Collected"}],
    "locations": [{"place": "Tromsø", "lat": 69.65, "lon": 18.96}],
    "references": ["Lid 1931"],
    "imprint_publisher": "Depot",
    "journal_title": "Blyttia", "journal_volume": "3",
    "custom": {"dwc:basisOfRecord": ["PreservedSpecimen"]},
}


def as_rdm_body(legacy: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": rdm_metadata(legacy, titled=True), "access": rdm_access(legacy),
            "custom_fields": rdm_custom_fields(legacy)}


def test_round_trip_keeps_every_field() -> None:
    stored = apply_legacy_defaults(normalize(FULL, today=TODAY))
    back, enabled = to_legacy(as_rdm_body(stored))
    again = apply_legacy_defaults(normalize(back, today=TODAY))
    assert again == stored and enabled is None


@pytest.mark.parametrize("access,right", [
    ({"record": "public", "files": "public"}, "open"),
    ({"record": "public", "files": "restricted"}, "restricted"),
    ({"record": "public", "files": "restricted", "embargo": {"active": True, "until": "2030-01-01"}}, "embargoed"),
])
def test_access_maps_to_access_right(access: dict[str, Any], right: str) -> None:
    legacy, _ = to_legacy({"access": access})
    assert legacy["access_right"] == right
    assert rdm_access(legacy)["files"] == access["files"]


def test_wrong_shapes_name_every_field() -> None:
    with pytest.raises(RdmBodyError) as caught:
        to_legacy({"metadata": {"creators": "x", "subjects": 3}, "access": "open", "files": {"enabled": "yes"}})
    assert {e.field for e in caught.value.errors} == {"metadata.creators", "metadata.subjects", "access",
                                                      "files.enabled"}


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=12)
KEYS = st.sampled_from(["metadata", "access", "files", "custom_fields", "pids"])
META_KEYS = st.sampled_from(["title", "resource_type", "creators", "contributors", "subjects", "rights",
                             "languages", "related_identifiers", "dates", "locations", "references",
                             "additional_descriptions", "funding", "publisher"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a loaded machine is slow
@given(body=st.dictionaries(KEYS, JSON, max_size=4), meta=st.dictionaries(META_KEYS, JSON, max_size=6))
def test_any_body_translates_or_is_a_400(body: dict[str, Any], meta: dict[str, Any]) -> None:
    for candidate in (body, {**body, "metadata": meta}):
        with contextlib.suppress(RdmBodyError):
            to_legacy(candidate)


@pytest.mark.parametrize("creator", [
    {"person_or_org": {"name": "A", "identifiers": 3}, "affiliations": 7},
    {"person_or_org": {"name": "A", "identifiers": ["x", {"scheme": ["orcid"]}]}, "affiliations": ["x", None]},
    {"person_or_org": "A"},
])
def test_nested_junk_is_ignored_or_refused(creator: dict[str, Any]) -> None:
    try:
        legacy, _ = to_legacy({"metadata": {"creators": [creator], "references": [{"reference": 3}]}})
    except RdmBodyError as exc:
        assert exc.errors[0].field.startswith("metadata.creators.0")
    else:
        assert legacy["creators"][0]["name"] == "A" and "references" not in legacy
