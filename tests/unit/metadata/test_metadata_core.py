"""depot.metadata: the rules the repository enforces and the depositor checks locally (spec §2.3, §2.6, §3)."""

from __future__ import annotations

from datetime import date

import pytest

from depot.metadata import MetadataError, check, normalize, publish_errors, record_metadata

TODAY = date(2026, 11, 24)
GOOD = {"title": "Fucus vesiculosus L.", "upload_type": "image", "image_type": "photo",
        "creators": [{"name": "Jaasund, Erik", "orcid": "https://orcid.org/0000-0002-1694-233X"}]}


def fields(exc: MetadataError) -> set[str]:
    return {e.field for e in exc.errors}


def test_defaults_and_canonical_values() -> None:
    out = normalize({**GOOD, "license": "CC-BY", "unknown": 1, "keywords": ["a", " ", "b"],
                     "related_identifiers": [{"identifier": "urn:x", "relation": "IsAlternateIdentifier"}]},
                    today=TODAY)
    assert out["publication_date"] == "2026-11-24" and out["access_right"] == "open"
    assert out["license"] == "cc-by-4.0" and "unknown" not in out and out["keywords"] == ["a", "b"]
    assert out["related_identifiers"][0]["relation"] == "isAlternateIdentifier"
    assert out["creators"][0]["orcid"] == "0000-0002-1694-233X"
    assert normalize(out, today=TODAY) == out  # idempotent
    assert normalize({"upload_type": "dataset"}, today=TODAY)["license"] == "cc-zero"
    assert normalize({"access_right": "closed"}, today=TODAY)["access_right"] == "restricted"


def test_custom_darwin_core_round_trips_as_arrays() -> None:
    custom = {"dwc:scientificName": ["Fucus vesiculosus"], "dwc:decimalLatitude": [70.71]}
    assert normalize({**GOOD, "custom": custom}, today=TODAY)["custom"] == custom
    with pytest.raises(MetadataError) as exc:
        normalize({"custom": {"dwc:family": "Fucaceae", "foo:bar": ["x"]}}, today=TODAY)
    assert fields(exc.value) == {"metadata.custom.dwc:family", "metadata.custom.foo:bar"}


@pytest.mark.parametrize("metadata, field", [
    ({"license": "made-up-licence"}, "metadata.license"),
    ({"license": 5}, "metadata.license"),
    ({"communities": ["belgiumherbarium"]}, "communities"),
    ({"related_identifiers": {"identifier": "x"}}, "metadata.related_identifiers"),
    ({"related_identifiers": [{"identifier": "x", "relation": "isFriendOf"}]},
     "metadata.related_identifiers.0.relation"),
    ({"language": "english"}, "metadata.language"),
    ({"upload_type": "sculpture"}, "metadata.upload_type"),
    ({"publication_date": "2026-11-24T10:00:00"}, "metadata.publication_date"),
    ({"creators": [{"name": "X", "orcid": "0000-0002-1694-2330"}]}, "metadata.creators.0.orcid"),
    ({"creators": [{"affiliation": "Meise"}]}, "metadata.creators.0.name"),
    ({"contributors": [{"name": "X", "type": "Boss"}]}, "metadata.contributors.0.type"),
    ({"dates": [{"type": "Collected"}]}, "metadata.dates.0"),
    ({"dates": [{"start": "2020-02-01", "end": "2020-01-01", "type": "Collected"}]}, "metadata.dates.0"),
    ({"locations": [{"lat": 95, "lon": 10, "place": "North"}]}, "metadata.locations.0.lat"),
    ({"locations": [{"lat": 70.7}]}, "metadata.locations.0.place"),
    ({"grants": [{"code": "777483"}]}, "metadata.grants.0.id"),
    ({"keywords": "herbarium"}, "metadata.keywords"),
    ({"access_right": "embargoed", "embargo_date": "2020-01-01"}, "metadata.embargo_date"),
])
def test_save_time_errors(metadata: dict[str, object], field: str) -> None:
    with pytest.raises(MetadataError) as exc:
        normalize(metadata, today=TODAY)
    assert field in fields(exc.value)
    assert all(e.messages for e in exc.value.errors)


def test_publish_collects_every_error_with_rdm_paths() -> None:
    errors = publish_errors({"upload_type": "image", "title": "ab"}, file_count=0)
    assert {e.field for e in errors} == {"metadata.title", "metadata.creators", "metadata.resource_type",
                                         "metadata.publication_date", "files.enabled"}
    assert publish_errors(normalize(GOOD, today=TODAY), file_count=1) == []


def test_check_is_normalize_plus_publish() -> None:
    assert check(GOOD, today=TODAY, file_count=1) == []
    assert [e.field for e in check({**GOOD, "license": "nope"}, today=TODAY, file_count=1)] == ["metadata.license"]
    assert [e.field for e in check(GOOD, today=TODAY, file_count=0)] == ["files.enabled"]


def test_record_metadata_shape() -> None:
    meta = record_metadata(normalize(GOOD, today=TODAY), doi="10.5072/depot.2", concept_recid="1",
                           version_index=0, is_last=True)
    assert meta["license"] == {"id": "cc-by-4.0"} and meta["doi"] == "10.5072/depot.2"
    assert meta["resource_type"] == {"type": "image", "subtype": "photo", "title": "Photo"}
    assert meta["relations"]["version"][0] == {"index": 0, "is_last": True,
                                               "parent": {"pid_type": "recid", "pid_value": "1"}}
