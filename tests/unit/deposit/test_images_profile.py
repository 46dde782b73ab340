"""The [images] table of a profile, and what a template sees of a checked image."""

from __future__ import annotations

from pathlib import Path

import pytest

from depot.deposit.images import BarcodeMode, ImageRules, check_file
from depot.deposit.models import FileSpec, Specimen
from depot.deposit.profiles import ProfileError, load_profile

HEAD = '[profile]\nrequired = ["title"]\n[metadata]\ntitle = "{{ key }}"\n'
PIXELS = '''
notes = "{{ image.width }} x {{ image.height }} px, {{ image.colour_space }} {{ image.format }}"
[[metadata.subjects]]
term = "{{ image.width }}"
identifier = "http://ns.adobe.com/exif/1.0/PixelXDimension"
scheme = "url"
[[metadata.subjects]]
for_each = "files"
term = "{{ item.name }}: {{ item.pixels }} px"
identifier = "http://rs.tdwg.org/ac/terms/variantLiteral"
scheme = "url"
'''


def test_the_images_table_sets_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(HEAD + '[images]\nmin_bytes = 5000\nbarcode = "require"\nkey_prefixes = ["E"]\n')
    assert load_profile(path).images == ImageRules(min_bytes=5000, barcode=BarcodeMode.REQUIRE, key_prefixes=("E",))
    path.write_text(HEAD)
    assert load_profile(path).images == ImageRules()


@pytest.mark.parametrize(("table", "key", "line"), [
    ('[images]\nmin_byte = 5\n', "images.min_byte", 6),
    ('[images]\nbarcode = "sometimes"\n', "images.barcode", 6),
    ('images = 3\n', "images", None),
])
def test_a_bad_images_table_names_key_and_line(tmp_path: Path, table: str, key: str, line: int | None) -> None:
    path = tmp_path / "p.toml"
    path.write_text(table + HEAD if table.startswith("images =") else HEAD + table)
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert caught.value.key == key
    if line is not None:
        assert caught.value.line == line


@pytest.mark.parametrize("name", ["meise-belgium-herbarium", "icedig-benchmark"])
def test_herbarium_profiles_check_barcodes(name: str) -> None:
    rules = load_profile(name).images
    assert rules.barcode is BarcodeMode.CHECK and rules.min_pixels >= 1_000_000 and rules.key_prefixes == ("BR",)


def test_templates_see_the_checked_image(tmp_path: Path, corpus: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(HEAD + PIXELS)
    profile = load_profile(path)
    sheet = corpus / "icedig-benchmark-BR0000008525000" / "BR0000008525000.jpg"
    specimen = Specimen(key="BR0000008525000", terms={},
                        files=(FileSpec(path=str(sheet), name="BR0000008525000.jpg"),))
    checks = {str(sheet): check_file(str(sheet), "BR0000008525000.jpg", specimen.key, profile.images)}
    record = profile.apply(specimen, images=checks)
    assert record.problems == ()
    assert record.metadata["notes"] == "7319 x 10319 px, srgb jpeg"
    assert record.metadata["subjects"] == [
        {"term": "7319", "identifier": "http://ns.adobe.com/exif/1.0/PixelXDimension", "scheme": "url"},
        {"term": f"BR0000008525000.jpg: {7319 * 10319} px", "identifier": "http://rs.tdwg.org/ac/terms/variantLiteral",
         "scheme": "url"}]
    unchecked = profile.apply(specimen)  # without checks the image's values are missing: left out
    assert unchecked.problems == () and "notes" not in unchecked.metadata and "subjects" not in unchecked.metadata
