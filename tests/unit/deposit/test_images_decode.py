"""check_file on the real ICEDIG sheet and on flawed copies of it: decoded, not sniffed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from depot.deposit.images import BarcodeMode, ImageRules, check_file
from depot.deposit.inspect_files import inspect

KEY = "BR0000008525000"
RULES = ImageRules(min_bytes=1000, min_pixels=10_000)


@pytest.fixture
def sheet(corpus: Path) -> Path:
    return corpus / "icedig-benchmark-BR0000008525000" / "BR0000008525000.jpg"


def test_the_real_sheet_is_measured(sheet: Path) -> None:
    result = check_file(str(sheet), sheet.name, KEY, RULES)
    assert result.problems == () and result.warnings == ()
    assert (result.format, result.width, result.height, result.bands, result.colour_space) == \
        ("jpeg", 7319, 10319, 3, "srgb")
    assert result.size == sheet.stat().st_size and result.mtime_ns == sheet.stat().st_mtime_ns
    assert result.properties()["pixels"] == 7319 * 10319


def _only_problem(result_problems: tuple[str, ...], *words: str) -> str:
    assert len(result_problems) == 1, result_problems
    for word in words:
        assert word in result_problems[0], result_problems[0]
    return result_problems[0]


def test_a_jpeg_cut_to_200_kb_is_truncated(sheet: Path, tmp_path: Path) -> None:
    cut = tmp_path / "BR0000008525000.jpg"
    cut.write_bytes(sheet.read_bytes()[:200_000])
    assert inspect(str(cut), cut.name)[2][0].kind == "note"  # the quick look is fooled
    for mode in BarcodeMode:
        result = check_file(str(cut), cut.name, KEY, ImageRules(barcode=mode))
        _only_problem(result.problems, cut.name, "truncated", "premature end")
        assert result.width == 7319  # the header was fine


def test_eighteen_bytes_that_start_like_a_jpeg(sheet: Path, tmp_path: Path) -> None:
    stub = tmp_path / "stub.jpg"
    stub.write_bytes(sheet.read_bytes()[:18])
    result = check_file(str(stub), stub.name, KEY, ImageRules())
    _only_problem(result.problems, "stub.jpg", "cannot be decoded as JPEG")
    assert result.format == "jpeg" and result.width is None


def test_a_zero_byte_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.touch()
    _only_problem(check_file(str(empty), empty.name, KEY, RULES).problems, "empty.jpg", "empty")


def test_a_text_file_named_jpg(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("barcode BR0000008525000, scanned 2019\n" * 40)
    result = check_file(str(text), text.name, KEY, RULES)
    _only_problem(result.problems, "notes.jpg", "not a TIFF, PNG, JPEG 2000 or JPEG image")
    assert result.format is None


def test_a_one_pixel_png_is_below_min_pixels(tmp_path: Path) -> None:
    dot = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), "white").save(dot)
    result = check_file(str(dot), dot.name, KEY, ImageRules())
    _only_problem(result.problems, "dot.png", "1 x 1 pixels", "min_pixels")
    assert (result.format, result.width, result.height) == ("png", 1, 1)


def test_a_png_named_jpg(sheet: Path, tmp_path: Path) -> None:
    fake = tmp_path / "BR0000008525000.jpg"
    Image.new("RGB", (200, 300), "white").save(fake, format="PNG")
    result = check_file(str(fake), fake.name, KEY, ImageRules())
    _only_problem(result.problems, "BR0000008525000.jpg", "the name says JPEG but the file holds PNG")
    assert result.format == "png" and result.width == 200


def test_a_file_below_min_bytes(tmp_path: Path) -> None:
    small = tmp_path / "small.png"
    Image.new("L", (120, 120), 255).save(small)
    result = check_file(str(small), small.name, KEY, ImageRules(min_bytes=100_000))
    _only_problem(result.problems, "small.png", "below the profile's min_bytes (100,000)")
    assert check_file(str(small), small.name, KEY, ImageRules(min_bytes=10)).problems == ()


def test_missing_folder_and_json(tmp_path: Path) -> None:
    _only_problem(check_file(str(tmp_path / "gone.jpg"), "gone.jpg", KEY, RULES).problems, "gone.jpg", "no such file")
    _only_problem(check_file(str(tmp_path), "dir.jpg", KEY, RULES).problems, "dir.jpg", "not a regular file")
    sidecar = tmp_path / "BR0000008525000.json"
    sidecar.write_text('{"@context": {}}')
    result = check_file(str(sidecar), sidecar.name, KEY, RULES)
    assert result.problems == () and result.format is None


def test_an_image_without_an_image_extension_is_a_warning(tmp_path: Path) -> None:
    scan = tmp_path / "scan"
    Image.new("L", (120, 120), 255).save(scan, format="TIFF")
    result = check_file(str(scan), "scan", KEY, RULES)
    assert result.problems == () and result.format == "tiff"
    assert "no TIFF extension" in result.warnings[0]


def test_damage_inside_a_png(tmp_path: Path) -> None:
    png = tmp_path / "noisy.png"
    Image.effect_noise((400, 400), 64).save(png)
    data = bytearray(png.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(64)  # zeros in the middle of the compressed data
    png.write_bytes(bytes(data))
    result = check_file(str(png), png.name, KEY, RULES)
    assert result.problems and "noisy.png" in result.problems[0], result


def test_a_sixteen_bit_tiff_is_read(tmp_path: Path) -> None:
    tiff = tmp_path / "deep.tif"
    Image.new("I;16", (300, 200), 40000).save(tiff)
    result = check_file(str(tiff), tiff.name, KEY, ImageRules(barcode=BarcodeMode.CHECK))
    assert result.problems == () and (result.format, result.width, result.bands) == ("tiff", 300, 1)
    assert "no barcode could be read" in result.warnings[0]


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_png_or_tiff_cut_in_half_is_truncated(fmt: str, tmp_path: Path) -> None:
    # without barcodes, a format other than JPEG is decoded through the image its header was read from
    whole = tmp_path / f"whole.{fmt.lower()}"
    Image.effect_noise((400, 400), 64).save(whole, format=fmt)
    cut = tmp_path / f"cut.{fmt.lower()}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert check_file(str(whole), whole.name, KEY, RULES).problems == ()
    result = check_file(str(cut), cut.name, KEY, RULES)
    assert result.problems and "cut." in result.problems[0], result


def _plain_jpeg() -> bytes:
    import io

    out = io.BytesIO()
    Image.linear_gradient("L").resize((400, 400)).convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_random_bytes_in_the_middle_of_a_jpeg_are_damage(sheet: Path, tmp_path: Path) -> None:
    """libjpeg only warns on corrupt entropy-coded data and decodes on: each of these passed before. (JPEG
    has no checksum: 200 random bytes went unseen in 5 of 10 seeds; 4,000 were found in 10 of 10.)"""
    import random

    for seed in (0, 1, 2):
        data = bytearray(sheet.read_bytes())
        middle = len(data) // 2
        data[middle:middle + 4000] = random.Random(seed).randbytes(4000)
        damaged = tmp_path / f"damaged-{seed}.jpg"
        damaged.write_bytes(bytes(data))
        for mode in BarcodeMode:
            result = check_file(str(damaged), damaged.name, KEY, ImageRules(barcode=mode))
            _only_problem(result.problems, damaged.name, "damaged JPEG", "Corrupt JPEG data")


def test_a_jpeg_decoder_warning_that_is_not_damage_is_a_warning(tmp_path: Path) -> None:
    whole = _plain_jpeg()
    frame = whole.index(b"\xff\xc0")  # two stray bytes before the frame header: libjpeg warns, decodes all
    odd = tmp_path / "odd.jpg"
    odd.write_bytes(whole[:frame] + b"\x00\x00" + whole[frame:])
    result = check_file(str(odd), odd.name, KEY, RULES)
    assert result.problems == () and result.width == 400
    assert [w for w in result.warnings if "extraneous bytes" in w and "odd.jpg" in w], result.warnings
    clean = tmp_path / "clean.jpg"
    clean.write_bytes(whole)
    assert check_file(str(clean), clean.name, KEY, RULES).problems == ()
