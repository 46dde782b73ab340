"""Table sources (CSV/TSV) with small files made in tmp_path."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from depot.deposit.sources import SourceError, TableSource, open_source


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_with_header_bom_and_term_spellings(tmp_path: Path) -> None:
    table = _write(tmp_path / "sheets.csv", "\ufeffCatalogNumber,dwc:scientificName,http://rs.tdwg.org/dwc/terms/family,"
                   "Notes\nBR0001,Barleria velutina,Acanthaceae,\"on loan, box 3\"\nBR0002,,Poaceae,\n")
    with open_source(table) as source:
        assert isinstance(source, TableSource)
        assert source.key_term == "catalogNumber"
        first, second = list(source)
    assert first.key == "BR0001" and first.row == 1
    assert first.terms == {"catalogNumber": "BR0001", "scientificName": "Barleria velutina",
                           "family": "Acanthaceae", "Notes": "on loan, box 3"}
    assert second.terms == {"catalogNumber": "BR0002", "family": "Poaceae"} and second.row == 2


def test_no_header_needs_positions(tmp_path: Path) -> None:
    table = _write(tmp_path / "plain.csv", "BR0001;Barleria velutina;x\nBR0002;Poa annua;y\n")
    with open_source(table, columns={1: "catalogNumber", 2: "scientificName"}) as source:
        rows = list(source)
    assert [(s.key, s.terms) for s in rows] == [
        ("BR0001", {"catalogNumber": "BR0001", "scientificName": "Barleria velutina"}),
        ("BR0002", {"catalogNumber": "BR0002", "scientificName": "Poa annua"})]
    with open_source(table, columns={"1": "catalogNumber"}) as source:  # as given on a command line
        assert [s.key for s in source] == ["BR0001", "BR0002"]
    with pytest.raises(SourceError,
                       match=r"--column barcode=\.\.\. names a column, but the table has no header line \(--no-"):
        open_source(table, header=False, columns={"barcode": "catalogNumber"})
    with pytest.raises(SourceError, match=r"--column 4=\.\.\.: position 4 is outside 1..3"):
        open_source(table, columns={4: "catalogNumber"})


def test_tsv_keeps_quotes_as_data(tmp_path: Path) -> None:
    table = _write(tmp_path / "export.tsv", 'occurrenceID\tlocality\nurn:x:1\t"Big" rock, north side\n')
    with open_source(table) as source:
        (only,) = list(source)
    assert only.terms["locality"] == '"Big" rock, north side'


def test_column_mapping_by_header_name(tmp_path: Path) -> None:
    table = _write(tmp_path / "m.csv", "Barcode|Taxon|Lat\nB1|Poa annua|50.1\n")
    with open_source(table, columns={"barcode": "catalogNumber", "Taxon": "dwc:scientificName",
                                     "LAT": "decimalLatitude"}) as source:
        (only,) = list(source)
    assert only.terms == {"catalogNumber": "B1", "scientificName": "Poa annua", "decimalLatitude": "50.1"}
    with pytest.raises(SourceError,
                       match=r"--column Herbarium=\.\.\.: no column 'Herbarium' in the header \(Barcode, Taxon, Lat\)"):
        open_source(table, columns={"Herbarium": "institutionCode"})
    with pytest.raises(SourceError, match=r"more than one --column maps to catalogNumber"):
        open_source(table, columns={"Barcode": "catalogNumber", "Taxon": "catalogNumber"})


def test_keys(tmp_path: Path) -> None:
    table = _write(tmp_path / "k.csv", "occurrenceID,catalogNumber,barcode\nhttp://x/1,C1,B1\n,C2,B2\n")
    with open_source(table) as source:
        first, second = list(source)
    assert first.key == "http://x/1"
    assert second.key == "" and second.problems == (
        # no fallback to catalogNumber per row
        "row 2: no key: occurrenceID is empty (fill it in, or choose another column with --key-term)",)
    with open_source(table, key_term="barcode") as source:
        assert [s.key for s in source] == ["B1", "B2"]
    with pytest.raises(SourceError, match=r"--key-term collector is not in the data"):
        open_source(table, key_term="collector")
    nokey = _write(tmp_path / "n.csv", "scientificName\nPoa annua\n")
    with pytest.raises(SourceError, match=r"no key term"):
        open_source(nokey)


def test_images_by_catalog_number_template_and_associated_media(tmp_path: Path) -> None:
    images = tmp_path / "scans"
    images.mkdir()
    for name in ("B1.JPG", "B2.tif", "extra one.png"):
        (images / name).write_bytes(b"12345")
    table = _write(tmp_path / "t.csv", "catalogNumber,associatedMedia\nB1,\nB2,\nB3,\nB4,B2.tif | extra one.png\n")
    with open_source(table, images=images) as source:
        b1, b2, b3, b4 = list(source)
    assert [f.name for f in b1.files] == ["B1.JPG"] and b1.files[0].size == 5
    assert [f.name for f in b2.files] == ["B2.tif"]
    assert b3.files == () and b3.problems == (f"row 3: no image named B3.* in --images {images}",)
    assert [f.name for f in b4.files] == ["B2.tif", "extra one.png"]  # local names in associatedMedia
    with open_source(table, images=images, path_template="{images}/{catalogNumber}.jpg") as source:
        b1, b2 = list(source)[:2]
    assert [f.name for f in b1.files] == ["B1.JPG"]  # extension case does not matter
    assert b2.problems == (f"row 2: image not found: {images / 'B2.jpg'} (--path-template)",)


def test_unsafe_values_never_leave_the_image_folder(tmp_path: Path) -> None:
    (tmp_path / "secret.jpg").write_bytes(b"x")
    images = tmp_path / "images"
    images.mkdir()
    table = _write(tmp_path / "t.csv", "catalogNumber,associatedMedia\n../secret,\nX,https://h/a/..%2Fsecret.jpg\n")
    with open_source(table, images=images, path_template="{images}/{catalogNumber}.jpg") as source:
        first = next(iter(source))
    assert first.files == ()
    assert first.problems == ("row 1: catalogNumber '../secret' cannot be used in a file name (--path-template)",)
    with open_source(table, images=images) as source:
        second = list(source)[1]
    assert second.files == () and "image https://h/a/..%2Fsecret.jpg: no local file for it" in second.problems[0]


def test_bad_tables(tmp_path: Path) -> None:
    latin = _write(tmp_path / "latin.csv", "catalogNumber,locality\nB1,Berlevåg\n", encoding="cp1252")
    with pytest.raises(SourceError, match=r"latin.csv: line 2: not utf-8 text \(byte 32: invalid continuation "
                                          r"byte\); pass the file's real encoding with --encoding"):
        open_source(latin, encoding="utf-8")
    with open_source(latin) as source:  # detected
        assert next(iter(source)).terms["locality"] == "Berlevåg"
    with pytest.raises(SourceError, match=r"the table is empty"):
        open_source(_write(tmp_path / "empty.csv", "\n\n"))
    ragged = _write(tmp_path / "ragged.csv", "catalogNumber,family\nB1,Poaceae,extra\n")
    with open_source(ragged) as source:
        assert next(iter(source)).problems == ("row 1: 3 cells, but the first row has 2 (is --delimiter ',' right?)",)


def test_data_licence_is_kept_as_the_license_term(tmp_path: Path) -> None:
    table = _write(tmp_path / "l.csv", "catalogNumber,license\nB1,\nB2,CC0 1.0\n")
    with open_source(table, data_license="CC-BY-4.0") as source:
        assert [s.terms["license"] for s in source] == ["CC-BY-4.0", "CC0 1.0"]


def test_table_streams(tmp_path: Path) -> None:
    table = tmp_path / "big.csv"
    with table.open("w", encoding="utf-8") as out:
        out.write("catalogNumber,scientificName,locality\n")
        for n in range(50_000):
            out.write(f"B{n:07d},Poa annua,A rather long locality description for row {n}\n")
    with open_source(table) as source:
        tracemalloc.start()
        try:
            count = sum(1 for _ in source)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == 50_000
    assert peak < 1024 * 1024, f"peak {peak} bytes for 50,000 rows: rows are being held"
