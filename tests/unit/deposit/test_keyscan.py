"""The key-only first pass: the same keys and rows as the full read, and duplicates confirmed exactly."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from depot.deposit import keyscan
from depot.deposit.keyscan import scan_keys
from depot.deposit.sources import open_source

SAMPLES = "dwca-python-dwca-reader-samples"


@pytest.mark.parametrize(("archive", "key_term"), [
    ("dwca-trom-algae-herbarium-gbif-multimedia/dwca-trom_algae-v1.25.zip", None),
    ("dwca-trom-algae-herbarium-gbif-multimedia/dwca-trom_algae-v1.25.zip", "catalogNumber"),
    ("dwca-naturalis-tunicata-audubon-core/dwca-naturalis-ac-media.zip", None),
    (f"{SAMPLES}/dwca-simple-test-archive.zip", "id"),
    (f"{SAMPLES}/dwca-simple-test-archive.zip", "scientificName"),
])
def test_an_archives_keys_are_those_of_its_specimens(corpus: Path, archive: str, key_term: str | None) -> None:
    with open_source(corpus / archive, key_term=key_term) as source:
        assert list(source.keys()) == [(s.key, s.row) for s in source]


def test_a_tables_keys_are_those_of_its_specimens_blank_lines_and_spaces_included(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("catalogNumber,occurrenceID,country\nB1, urn:a ,NO\n\n,urn:b,NO\nB3,,NO\nB4,urn:a\n")
    with open_source(table) as source:
        keys = list(source.keys())
        assert keys == [(s.key, s.row) for s in source]
    assert keys == [("urn:a", 1), ("urn:b", 2), ("", 3), ("urn:a", 4)]


def test_duplicates_far_apart_are_found_with_every_row() -> None:
    rows = [(f"k{i}", i + 1) for i in range(10_000)] + [("k3", 10_001), ("k3", 10_002), ("k9999", 10_003)]
    scan = scan_keys(lambda: iter(rows))
    assert scan.count == 10_003
    assert scan.duplicates.duplicates == {"k3": [4, 10_001, 10_002], "k9999": [10_000, 10_003]}
    assert "k5" in scan and "k10000" not in scan
    scan.forget()
    assert "k5" not in scan


def test_a_hash_collision_is_not_a_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyscan, "hash", lambda key: 7, raising=False)  # every key collides
    passes = []

    def keys() -> list[tuple[str, int | None]]:
        passes.append(1)
        return [("a", 1), ("b", 2), ("c", 3), ("b", 4)]

    scan = scan_keys(keys)
    assert scan.duplicates.duplicates == {"b": [2, 4]} and len(passes) == 2  # confirmed on the exact keys


def test_no_repeated_hash_reads_the_keys_once() -> None:
    passes = []

    def keys() -> list[tuple[str, int | None]]:
        passes.append(1)
        return [("a", 1), ("b", 2)]

    assert scan_keys(keys).duplicates.duplicates == {} and len(passes) == 1


@pytest.mark.parametrize("n", [0, 7, 39, 40, 1000, 281_372])
def test_keys_spread_evenly_over_the_whole_source_are_kept(n: int) -> None:
    scan = scan_keys(lambda: ((f"k{i}", i) for i in range(n)))
    positions = [int(k[1:]) for k in scan.spread]
    assert len(positions) <= 2 * keyscan.SPREAD - 1
    if n < 2 * keyscan.SPREAD:
        assert positions == list(range(n))  # a small source: every key
        return
    stride = positions[1]
    assert len(positions) >= keyscan.SPREAD
    assert positions == list(range(0, n, stride))  # every stride-th row, from the first to the end


def test_a_new_ledger_looks_for_its_first_keys_and_keys_spread_over_the_source_in_one_request() -> None:
    from depot.deposit.job import with_spread
    from depot.deposit.probes import PROBE_BATCH

    scan = scan_keys(lambda: ((f"k{i}", i) for i in range(281_372)))
    first = [f"k{i}" for i in range(PROBE_BATCH)]
    keys = with_spread(first, scan.spread)
    assert len(keys) == PROBE_BATCH == len(set(keys))  # one listing request, as before
    assert keys[:PROBE_BATCH // 2] == first[:PROBE_BATCH // 2]
    spread = [int(k[1:]) for k in keys[PROBE_BATCH // 2:]]
    assert spread[-1] > 281_372 * 0.9 and min(b - a for a, b in itertools.pairwise(spread)) > 20_000
    assert with_spread(["a", "b"], ["a", "x"]) == ["a", "b", "x"] and with_spread(["a"], []) == ["a"]
