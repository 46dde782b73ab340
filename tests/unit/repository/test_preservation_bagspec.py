"""Pure parts of the bag layout: manifests, bag-info, names and the state digest."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from depot.repository.preservation import bagspec


def _aip(**record: Any) -> dict[str, Any]:
    rec = {"id": 3, "concept_id": 2, "doi": "10.5072/depot.3", "concept_doi": "10.5072/depot.2", "version_index": 1,
           "published": "2026-01-02T03:04:05.678901+00:00", "modified": "2026-01-02T03:04:05.678901+00:00",
           "metadata": {"title": "Sheet\nwith a line break", "version": "1", "publication_date": "2026-01-02"}}
    rec.update(record)
    files = [{"key": "b%20c.jpg", "size": 3, "md5": "m1", "sha256": "s1"}, {"key": "a.txt", "size": 4, "md5": "m2",
                                                                           "sha256": "s2"}]
    return bagspec.aip_snapshot(record_row=rec, files=files, communities=[{"slug": "trom", "status": "accepted"}])


def test_payload_manifest_is_sorted_and_percent_encodes() -> None:
    files = bagspec.payload_files(_aip())
    assert bagspec.payload_manifest("md5", files) == "m2  data/a.txt\nm1  data/b%2520c.jpg\n"
    assert bagspec.encode_path("a\rb\nc%") == "a%0Db%0Ac%25"


def test_tag_manifest_covers_tag_files_but_not_tag_manifests() -> None:
    tags = {"bagit.txt": b"x", "metadata/record.json": b"{}", "tagmanifest-md5.txt": b"zzz"}
    text = bagspec.tag_manifest("sha256", tags)
    assert text == (f"{hashlib.sha256(b'x').hexdigest()}  bagit.txt\n"
                    f"{hashlib.sha256(b'{}').hexdigest()}  metadata/record.json\n")


def test_bag_info_has_identifiers_and_oxum_and_no_line_breaks_or_empty_values() -> None:
    aip = _aip(concept_doi=None)
    info = bagspec.bag_info(aip=aip, source_organization="Museum", bagging_date="2026-01-03",
                            bagging_time="2026-01-03T00:00:00+00:00", files=bagspec.payload_files(aip))
    labels = dict(info)
    assert labels["External-Identifier"] == "doi:10.5072/depot.3" and labels["Payload-Oxum"] == "7.2"
    assert "Bag-Group-Identifier" not in labels and "Depot-Concept-DOI" not in labels
    text = bagspec.bag_info_text(info)
    assert "External-Description: Sheet with a line break\n" in text
    assert all(": " in line for line in text.splitlines())


def test_state_digest_follows_metadata_files_and_communities_but_not_timestamps() -> None:
    base = _aip()
    assert bagspec.state_digest(base) == bagspec.state_digest(_aip(modified="2027-01-01T00:00:00+00:00"))
    edited = _aip(metadata={"title": "Other"})
    assert bagspec.state_digest(edited) != bagspec.state_digest(base)
    other_file = copy.deepcopy(base)
    other_file["files"][0]["sha256"] = "s9"
    assert bagspec.state_digest(other_file) != bagspec.state_digest(base)
    left = copy.deepcopy(base)
    left["communities"] = []
    assert bagspec.state_digest(left) != bagspec.state_digest(base)


def test_bag_names_sort_by_publish_time_and_carry_the_digest() -> None:
    early = bagspec.bag_name("2026-01-02T03:04:05.000001+00:00", "aaaaaaaaaaaa")
    late = bagspec.bag_name("2026-01-02T03:04:06.000000+00:00", "000000000000")
    assert early < late and early == "20260102T030405000001_aaaaaaaaaaaa"
    assert bagspec.digest_of_name(late) == "000000000000"
    assert bagspec.digest_of_name(".tmp-" + late + "-x") is None
