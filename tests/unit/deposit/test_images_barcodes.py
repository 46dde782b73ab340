"""Barcodes read on herbarium sheets against the specimen's key: the real ICEDIG sheet, and sheets made at
test time by drawing Code 128, DataMatrix and QR codes onto a copy of it whose own barcode is painted out."""

from __future__ import annotations

from pathlib import Path

import pytest
import pyvips
import zxingcpp

from depot.deposit.images import BarcodeMode, ImageRules, check_file

CHECK = ImageRules(barcode=BarcodeMode.CHECK)
REQUIRE = ImageRules(barcode=BarcodeMode.REQUIRE)
FORMATS = {"code128": zxingcpp.BarcodeFormat.Code128, "datamatrix": zxingcpp.BarcodeFormat.DataMatrix,
           "qr": zxingcpp.BarcodeFormat.QRCode}
SPOTS = ((950, 1760), (950, 1960), (120, 1900))  # inside the painted-out label, and on the collector's label


@pytest.fixture(scope="module")
def blank_sheet() -> pyvips.Image:
    """The ICEDIG sheet at 1800 px wide (4.6 MP) with its barcode label painted white."""
    corpus = Path(__file__).resolve().parents[2] / "data" / "corpus" / "icedig-benchmark-BR0000008525000"
    sheet = pyvips.Image.thumbnail(str(corpus / "BR0000008525000.jpg"), 1800, height=100_000).copy_memory()
    return sheet.draw_rect([255, 255, 255], 900, 1725, 630, 355, fill=True)


def _code(text: str, kind: str, rotate: bool = False, invert: bool = False) -> pyvips.Image:
    scale = 3 if kind == "code128" else 6
    drawn = zxingcpp.create_barcode(text, FORMATS[kind]).to_image(scale=scale, add_quiet_zones=True)
    view = memoryview(drawn)
    height, width = view.shape
    code = pyvips.Image.new_from_memory(view.tobytes(), width, height, 1, "uchar")
    code = code.rot90() if rotate else code
    return (code.invert() if invert else code).colourspace("srgb")


def make_sheet(base: pyvips.Image, folder: Path, name: str, *codes: tuple[str, str], rotate: bool = False,
               invert: bool = False) -> str:
    sheet = base
    for (text, kind), (left, top) in zip(codes, SPOTS, strict=False):
        sheet = sheet.insert(_code(text, kind, rotate, invert), left, top)
    path = folder / name
    sheet.write_to_file(str(path), Q=90)
    return str(path)


def test_the_icedig_sheet_proves_its_key(corpus: Path) -> None:
    sheet = corpus / "icedig-benchmark-BR0000008525000" / "BR0000008525000.jpg"
    for rules in (CHECK, REQUIRE):
        result = check_file(str(sheet), sheet.name, "BR0000008525000", rules)
        assert result.problems == () and result.warnings == ()
        assert result.barcodes == ("0000008525000",)  # the label's EAN-13 lacks the BR prefix
    other = check_file(str(sheet), sheet.name, "BR0000008525001", CHECK)
    assert len(other.problems) == 1
    assert "(0000008525000) do not match the specimen's key BR0000008525001" in other.problems[0]
    assert check_file(str(sheet), sheet.name, "BR0000008525001", ImageRules()).problems == ()  # off


def test_swapped_sheets_are_problems(blank_sheet: pyvips.Image, tmp_path: Path) -> None:
    first = make_sheet(blank_sheet, tmp_path, "BR0000000000001.jpg", ("BR0000000000002", "code128"))
    second = make_sheet(blank_sheet, tmp_path, "BR0000000000002.jpg", ("BR0000000000001", "code128"))
    as_named = check_file(first, "BR0000000000001.jpg", "BR0000000000001", CHECK)
    assert as_named.barcodes == ("BR0000000000002",)
    assert len(as_named.problems) == 1
    assert "BR0000000000001.jpg: the barcodes on the image (BR0000000000002) do not match the specimen's key " \
           "BR0000000000001" in as_named.problems[0]
    assert "BR0000000000001" in check_file(second, "BR0000000000002.jpg", "BR0000000000002", CHECK).problems[0]
    # each sheet where it belongs
    assert check_file(first, "BR0000000000002.jpg", "BR0000000000002", CHECK).problems == ()
    assert check_file(second, "BR0000000000001.jpg", "BR0000000000001", REQUIRE).problems == ()


def test_a_sheet_with_several_specimens(blank_sheet: pyvips.Image, tmp_path: Path) -> None:
    sheet = make_sheet(blank_sheet, tmp_path, "shared.jpg", ("BR0000000000003", "code128"),
                       ("BR0000000000004", "datamatrix"),
                       ("http://www.botanicalcollections.be/specimen/BR0000000000005", "qr"))
    for key in ("BR0000000000003", "BR0000000000004", "BR0000000000005"):
        result = check_file(sheet, "shared.jpg", key, REQUIRE)
        assert result.problems == (), (key, result)
    stranger = check_file(sheet, "shared.jpg", "BR0000000000006", CHECK)
    assert sorted(stranger.barcodes) == sorted(["BR0000000000003", "BR0000000000004",
                                                "http://www.botanicalcollections.be/specimen/BR0000000000005"])
    for value in stranger.barcodes:
        assert value in stranger.problems[0]


def test_a_sheet_without_a_barcode(blank_sheet: pyvips.Image, tmp_path: Path) -> None:
    sheet = make_sheet(blank_sheet, tmp_path, "bare.jpg")
    checked = check_file(sheet, "bare.jpg", "BR0000000000007", CHECK)
    assert checked.problems == () and checked.barcodes == ()
    assert "bare.jpg: no barcode could be read" in checked.warnings[0]
    required = check_file(sheet, "bare.jpg", "BR0000000000007", REQUIRE)
    assert "no barcode could be read" in required.problems[0] and required.warnings == ()
    assert check_file(sheet, "bare.jpg", "BR0000000000007", ImageRules()).warnings == ()


def test_a_barcode_turned_sideways_and_without_prefix(blank_sheet: pyvips.Image, tmp_path: Path) -> None:
    sheet = make_sheet(blank_sheet, tmp_path, "turned.jpg", ("0000000000008", "code128"), rotate=True)
    result = check_file(sheet, "turned.jpg", "BR0000000000008", REQUIRE)
    assert result.problems == () and result.barcodes == ("0000000000008",)


def test_a_light_on_dark_datamatrix(blank_sheet: pyvips.Image, tmp_path: Path) -> None:
    sheet = make_sheet(blank_sheet, tmp_path, "dark.jpg", ("BR0000000000009", "datamatrix"), invert=True)
    result = check_file(sheet, "dark.jpg", "BR0000000000009", REQUIRE)
    assert result.problems == () and result.barcodes == ("BR0000000000009",)
