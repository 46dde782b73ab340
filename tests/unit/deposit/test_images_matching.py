"""Barcode values against specimen keys, and the [images] rules (pure)."""

from __future__ import annotations

import pytest

from depot.deposit.images import BarcodeMode, ImageRules, RulesError, barcode_matches, rules_from_table
from depot.deposit.images.matching import first_match


@pytest.mark.parametrize(("key", "value", "prefixes"), [
    ("BR0000008525000", "BR0000008525000", ()),
    ("BR0000008525000", "0000008525000", ()),  # the ICEDIG sheet's EAN-13 lacks the prefix
    ("BR0000008525000", "br 0000008525000", ()),
    ("BR0000008525000", "*BR0000008525000*", ()),  # Code 39 start/stop characters
    ("BR0000008525000", "http://www.botanicalcollections.be/specimen/BR0000008525000", ()),  # a CETAF URI in a QR
    ("http://www.botanicalcollections.be/specimen/BR0000008525000", "0000008525000", ()),
    ("BR0000008525000", "8525000", ()),  # padding zeros, 7 significant digits
    ("urn:catalog:MEISE:BR0000008525000", "0000008525000", ("urn:catalog:MEISE:",)),
    ("E00123456", "00123456", ()),
    ("L.1234567", "1234567", ()),
])
def test_matches(key: str, value: str, prefixes: tuple[str, ...]) -> None:
    assert barcode_matches(key, value, prefixes)


@pytest.mark.parametrize(("key", "value"), [
    ("BR0000008525000", "BR0000008525001"),
    ("BR0000008525000", "K0000008525000"),  # another institution's code: not the same specimen
    ("BR0000008525000", "525000"),  # too few significant digits to trust without zeros
    ("BR0000008525000", ""),
    ("ABC", "AB"),
    ("BR", "BR0001"),
])
def test_does_not_match(key: str, value: str) -> None:
    assert not barcode_matches(key, value)


def test_first_match_takes_any_of_several() -> None:
    # a sheet with two specimens' barcodes and one misread
    assert first_match("BR0000000000002", ["BR0000000000001", "8R000000000002", "BR0000000000002"]) \
        == "BR0000000000002"
    assert first_match("BR0000000000003", ["BR0000000000001", "BR0000000000002"]) is None


def test_rules_from_table() -> None:
    rules = rules_from_table({"min_bytes": 100, "min_pixels": 4_000_000, "barcode": "Require",
                              "key_prefixes": ["BR"]})
    assert rules == ImageRules(min_bytes=100, min_pixels=4_000_000, barcode=BarcodeMode.REQUIRE, key_prefixes=("BR",))
    assert rules.digest() != ImageRules().digest()
    assert rules_from_table({}) == ImageRules()


@pytest.mark.parametrize(("table", "key"), [
    ({"min_byte": 1}, "min_byte"),
    ({"min_bytes": -1}, "min_bytes"),
    ({"min_bytes": "100"}, "min_bytes"),
    ({"min_pixels": True}, "min_pixels"),
    ({"barcode": "yes"}, "barcode"),
    ({"barcode": 1}, "barcode"),
    ({"key_prefixes": "BR"}, "key_prefixes"),
    ({"key_prefixes": [""]}, "key_prefixes"),
])
def test_bad_rules_name_the_key(table: dict[str, object], key: str) -> None:
    with pytest.raises(RulesError) as caught:
        rules_from_table(table)
    assert caught.value.key == key
    assert f"images.{key}" in str(caught.value)


def test_the_package_exports_its_api() -> None:
    import depot.deposit.images as images

    assert sorted(images.__all__) == sorted(name for name in dir(images) if not name.startswith("_")
                                            and name not in {"annotations", "barcodes", "cache", "decode",
                                                             "formats", "matching", "pool", "results", "rules"})
    for name in ("FileCheck", "ImageRules", "check_file", "FileChecker", "FileCheckCache"):
        assert name in images.__all__
