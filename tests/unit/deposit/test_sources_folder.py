"""Folder sources, media helpers and open_source's detection and option checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from depot.deposit.sources import FolderSource, SourceError, detect_kind, open_source, split_associated_media
from depot.deposit.sources.media import url_file_candidates

# Real RBGE herbarium images from the corpus, shipped with the demo (see its PROVENANCE.md).
RBGE = Path(__file__).resolve().parents[3] / "src" / "depot" / "demo" / "data" / "images"


def test_one_specimen_per_image() -> None:
    with open_source(RBGE) as source:
        assert isinstance(source, FolderSource)
        specimens = list(source)
    assert [s.key for s in specimens] == ["RBGE_fragile_specimen", "RBGE_small_specimen",
                                          "RBGE_specimen_with_sellotape"]
    assert specimens[0].terms == {"catalogNumber": "RBGE_fragile_specimen"}
    assert specimens[0].files[0].size == 561_707 and specimens[0].problems == ()


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")


def test_grouping_by_stem_pattern(tmp_path: Path) -> None:
    _touch(tmp_path, "BR0000008525000_all.png", "BR0000008525000_sel.png", "BR0000008525000.jpg",
           "BR0000008525000.tif", "BR0000013087944.JPG", "notes.txt", ".hidden.jpg")
    with open_source(tmp_path, group_pattern=r"^(?P<key>BR\d+)") as source:
        first, second = list(source)
    assert first.key == "BR0000008525000"
    assert [f.name for f in first.files] == ["BR0000008525000.jpg", "BR0000008525000.tif",
                                             "BR0000008525000_all.png", "BR0000008525000_sel.png"]
    assert second.key == "BR0000013087944" and [f.name for f in second.files] == ["BR0000013087944.JPG"]
    _touch(tmp_path, "scan-7.jpg")
    with open_source(tmp_path, group_pattern=r"^(BR\d+)", key_term="barcode") as source:
        stray = [s for s in source if s.key == "scan-7"]
    assert stray[0].terms == {"barcode": "scan-7"}
    assert stray[0].problems == ("scan-7.jpg: file name does not match --group-pattern '^(BR\\\\d+)'",)


def test_recursive_and_bad_patterns(tmp_path: Path) -> None:
    _touch(tmp_path / "BR0000" / "deeper", "BR1.jpg")
    _touch(tmp_path / "BR0001", "BR2.jpg")
    with pytest.raises(SourceError, match=r"sub-folders\? pass --kind folder --recursive"):
        open_source(tmp_path)
    with open_source(tmp_path, kind="folder", recursive=True) as source:
        assert [(s.key, Path(s.files[0].path).parent.name) for s in source] == [("BR1", "deeper"), ("BR2", "BR0001")]
    with pytest.raises(SourceError, match=r"not a regular expression"):
        open_source(tmp_path, kind="folder", group_pattern="(")
    with pytest.raises(SourceError, match=r"needs a group for the key"):
        open_source(tmp_path, kind="folder", group_pattern="BR")


def test_detection_and_option_checks(corpus: Path, tmp_path: Path) -> None:
    assert detect_kind(corpus / "dwca-python-dwca-reader-samples" / "dwca-simple-dir") == "dwca"
    assert detect_kind(corpus / "dwca-mnhnl-palaeo-associatedmedia" / "dwca-lux-associated-media.zip") == "dwca"
    assert detect_kind(RBGE) == "folder"
    table = tmp_path / "t.csv"
    table.write_text("catalogNumber\nB1\n", encoding="utf-8")
    assert detect_kind(table) == "table"
    with pytest.raises(SourceError, match=r"BR0000008525000.jpg: not a Darwin Core Archive"):
        open_source(corpus / "icedig-benchmark-BR0000008525000" / "BR0000008525000.jpg")
    with pytest.raises(SourceError, match=r"nowhere.csv: no such file or folder"):
        open_source(tmp_path / "nowhere.csv")
    with pytest.raises(SourceError, match=r"scans: the image folder \(--images\) does not exist"):
        open_source(table, images=tmp_path / "scans")
    with pytest.raises(SourceError, match=r"--column, --delimiter cannot be used with a dwca source \(--kind dwca\)"):
        open_source(corpus / "dwca-mnhnl-palaeo-associatedmedia" / "dwca-lux-associated-media.zip",
                    columns={"a": "catalogNumber"}, delimiter=",")
    with pytest.raises(SourceError, match=r"--group-pattern cannot be used with a table source"):
        open_source(table, group_pattern="x")
    with pytest.raises(SourceError, match=r"unknown source kind 'excel'"):
        open_source(table, kind="excel")


@pytest.mark.parametrize(("value", "items"), [
    ("a.jpg|b.jpg", ["a.jpg", "b.jpg"]),
    (" a.jpg ; b.jpg , c.jpg ", ["a.jpg", "b.jpg", "c.jpg"]),
    ("https://x/a.jpg, https://x/b.jpg", ["https://x/a.jpg", "https://x/b.jpg"]),
    ("https://iiif.x/img/full/1000,/0/default.jpg", ["https://iiif.x/img/full/1000,/0/default.jpg"]),
    ("https://iiif.x/i/full/!800,800/0/default.jpg | https://x/b.jpg",
     ["https://iiif.x/i/full/!800,800/0/default.jpg", "https://x/b.jpg"]),
    ("", []),
])
def test_split_associated_media(value: str, items: list[str]) -> None:
    assert split_associated_media(value) == items


@pytest.mark.parametrize(("uri", "names"), [
    ("https://www.unimus.no/felles/bilder/web_hent_bilde.php?id=15400824&type=jpeg",
     ["15400824", "web_hent_bilde.php"]),
    ("https://medialib.naturalis.nl/file/id/ZMA.UROCH.P.1563/format/large", ["ZMA.UROCH.P.1563", "large"]),
    ("https://archimg.mnhn.lu/Collections/Collections/ZS536.JPG", ["ZS536.JPG"]),
    ("https://h/x/My%20Scan.tif", ["My Scan.tif"]),
    ("https://h/x/..%2Fetc", []),
])
def test_url_file_candidates(uri: str, names: list[str]) -> None:
    assert url_file_candidates(uri) == names
