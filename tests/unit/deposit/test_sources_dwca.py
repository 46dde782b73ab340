"""Darwin Core Archive sources, read from the real archives in the shared corpus."""

from __future__ import annotations

import inspect
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

from depot.deposit.sources import DwcaSource, SourceError, open_source

TROM = "dwca-trom-algae-herbarium-gbif-multimedia/dwca-trom_algae-v1.25.zip"
NATURALIS = "dwca-naturalis-tunicata-audubon-core/dwca-naturalis-ac-media.zip"
MNHNL = "dwca-mnhnl-palaeo-associatedmedia/dwca-lux-associated-media.zip"
SAMPLES = "dwca-python-dwca-reader-samples"


def test_trom_gbif_multimedia_counts(corpus: Path) -> None:
    with open_source(corpus / TROM) as source:
        assert isinstance(source, DwcaSource)
        assert source.key_term == "occurrenceID"
        media_per_specimen = [len(s.media) for s in source]
    assert len(media_per_specimen) == 2921
    assert sum(media_per_specimen) == 2951
    assert sum(1 for n in media_per_specimen if n > 1) == 92
    assert Counter(media_per_specimen) == {0: 77, 1: 2752, 2: 78, 3: 13, 4: 1}


def test_trom_terms_are_simple_names_and_data_licence_stays_apart_from_media_licence(corpus: Path) -> None:
    with open_source(corpus / TROM) as source:
        first = next(iter(source))
        assert source.dataset.title == "Algae herbarium TROM, The Arctic University Museum of Norway"
    assert first.key == "urn:catalog:TROM:A:8528"
    assert first.row == 1
    assert first.terms["catalogNumber"] == "8528"
    assert first.terms["basisOfRecord"] == "Preservedspecimen"  # as written, typo included
    assert first.terms["county"] == "Berlevåg"
    assert not any(name.startswith("http") for name in first.terms)
    assert "sex" not in first.terms  # empty cells are left out
    assert first.terms["license"] == "http://creativecommons.org/licenses/by/4.0/legalcode"  # from eml.xml
    assert {m.license for m in first.media} == {"http://creativecommons.org/licenses/by-sa/4.0/"}
    assert first.media[0].format == "image/jpeg"
    assert first.files == () and first.problems == ()  # no image folder: media left for later


def test_trom_query_string_urls_resolve_to_files_named_by_id(corpus: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    with open_source(corpus / TROM) as source:
        two = next(s for s in source if len(s.media) == 2)
    ids = [m.uri.split("id=")[1].split("&")[0] for m in two.media]
    (images / f"{ids[0]}.JPG").write_bytes(b"jpeg bytes")  # extension case differs from nothing in the URL
    with open_source(corpus / TROM, images=images) as source:
        again = next(s for s in source if s.key == two.key)
    assert [f.name for f in again.files] == [f"{ids[0]}.JPG"]
    assert again.files[0].size == 10
    assert Path(again.files[0].path).is_absolute()
    assert len(again.problems) == 1
    assert f"looked for {ids[1]}.*" in again.problems[0] and two.media[1].uri in again.problems[0]


def test_audubon_core_access_uri_and_rest_style_id(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "ZMA.UROCH.P.1563.jpg").write_bytes(b"x")
    with open_source(corpus / NATURALIS, images=tmp_path) as source:
        specimens = list(source)
    assert len(specimens) == 14
    assert sum(len(s.media) for s in specimens) == 14
    first = specimens[0]
    assert first.key == "https://data.biodiversitydata.nl/naturalis/specimen/ZMA.UROCH.P.1563"
    assert first.media[0].uri == "https://medialib.naturalis.nl/file/id/ZMA.UROCH.P.1563/format/large"
    assert first.media[0].license == "CC0 1.0"
    assert first.media[0].rights_holder == "Naturalis Biodiversity Center"
    assert [f.name for f in first.files] == ["ZMA.UROCH.P.1563.jpg"] and first.problems == ()
    assert all(s.problems for s in specimens[1:])  # their images are not in the folder


def test_associated_media_column(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "ZS536.jpg").write_bytes(b"x")  # the URL says ZS536.JPG
    with open_source(corpus / MNHNL, images=tmp_path) as source:
        specimens = list(source)
        assert source.dataset.license == "http://creativecommons.org/publicdomain/zero/1.0/legalcode"
    assert len(specimens) == 20
    assert sum(1 for s in specimens if s.media) == 18
    assert sum(len(s.media) for s in specimens) == 21
    assert [m.uri.rsplit("/", 1)[1] for m in specimens[3].media] == ["BQ133.JPG", "BQ133-1.JPG", "BQ129.JPG"]
    assert [f.name for f in specimens[0].files] == ["ZS536.jpg"]
    without_media = [s for s in specimens if not s.media]
    assert len(without_media) == 2 and all(s.files == () and s.problems for s in without_media)


def test_path_template_with_terms_and_glob(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "8528.jpg").write_bytes(b"x")
    (tmp_path / "8512_a.png").write_bytes(b"x")
    (tmp_path / "8512_b.png").write_bytes(b"x")
    with open_source(corpus / TROM, images=tmp_path, path_template="{images}/{catalogNumber}.jpg") as source:
        first, second = list(source)[:2]
    assert [f.name for f in first.files] == ["8528.jpg"] and first.problems == ()
    assert second.files == ()
    assert second.problems == (f"row 2: image not found: {tmp_path / '8512.jpg'} (--path-template)",)
    with open_source(corpus / TROM, images=tmp_path, path_template="{catalogNumber}_*.png") as source:
        first, second = list(source)[:2]
    assert [f.name for f in second.files] == ["8512_a.png", "8512_b.png"]
    assert first.problems == (f"row 1: no image matches {tmp_path / '8528_*.png'} (--path-template)",)


def test_path_template_errors(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"plain term name"):
        open_source(corpus / TROM, images=tmp_path, path_template="{images}/{catalogNumber.upper}.jpg")
    with open_source(corpus / TROM, images=tmp_path, path_template="{images}/{recordNumber}.jpg") as source:
        first = next(iter(source))
    assert first.problems == (
        "row 1: --path-template '{images}/{recordNumber}.jpg' needs recordNumber, which this row has no value for",)
    with open_source(corpus / TROM, images=tmp_path, path_template="{images}/{catalogNumbr}.jpg") as source:
        first = next(iter(source))
    assert first.problems == ("row 1: --path-template '{images}/{catalogNumbr}.jpg' needs catalogNumbr, which this row "
                              "has no value for (a misspelling of {catalogNumber}?)",)


def test_reader_sample_shapes(corpus: Path) -> None:
    samples = corpus / SAMPLES
    with open_source(samples / "dwca-noheaders-1.zip", key_term="id") as source:
        rows = list(source)
    assert [s.terms["scientificName"] for s in rows] == ["tetraodon fluviatilis", "betta splendens"]
    with open_source(samples / "dwca-test-default.zip", key_term="id") as source:
        assert {s.terms["country"] for s in source} == {"Belgium"}  # a default= value in meta.xml
    with open_source(samples / "dwca-metadata-windows1252-encoding", key_term="id") as source:
        assert len(list(source)) == 4
    with open_source(samples / "dwca-simple-test-archive.tgz", key_term="id") as source:
        assert len(list(source)) == 2
    # GBIF download: lower-case headers, no meta.xml; names come back canonical, key_term matches any case
    with open_source(samples / "dwca-simple-csv.zip", key_term="gbifID") as source:
        first = next(iter(source))
    assert first.key == "699220990" and first.terms["scientificName"].startswith("Lactoria cornuta")
    with open_source(samples / "dwca-simple-csv.zip") as source:
        keyed = [(s.key, s.problems) for s in source]
    assert keyed == [("", ("row 1: no key: occurrenceID is empty (fill it in, or choose another column with "
                           "--key-term)",)), ("0f0452b9-970e-40f4-9f22-087817943ce2", ()),
                     ("FJ583620", ())]


@pytest.mark.parametrize(("sample", "message"), [
    ("dwca-malformed-descriptor", r"row 1: meta.xml does not fit occurrence.txt.*index=234"),
    ("dwca-invalid-lacks-metadata", r"eml.xml is named in meta.xml as the metadata but is not in the archive"),
    ("dwca-missing-extension-details", r"not a readable Darwin Core Archive: An extension file"),
    ("dwca-invalid-simple-two.zip", r"not a readable Darwin Core Archive: No Metafile"),
    ("dwca-orphaned-rows.zip", r"the core is Taxon, not Occurrence"),
    ("dwca-simple-test-archive.zip", r"no key term: the data has neither occurrenceID nor catalogNumber"),
])
def test_bad_archives_raise_source_error_naming_the_file(corpus: Path, sample: str, message: str) -> None:
    with pytest.raises(SourceError, match=message) as caught:
        open_source(corpus / SAMPLES / sample)
    assert caught.value.path == str(corpus / SAMPLES / sample)
    assert str(caught.value).startswith(str(corpus / SAMPLES / sample))


def test_failed_and_closed_archives_leave_no_unpacked_copy(corpus: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    for bad in ("dwca-invalid-simple-two.zip", "dwca-orphaned-rows.zip"):
        with pytest.raises(SourceError):
            open_source(corpus / SAMPLES / bad)
    with open_source(corpus / MNHNL):
        assert any(scratch.iterdir())
    assert list(scratch.iterdir()) == []


def _archive(folder: Path, core: str) -> Path:
    folder.mkdir()
    (folder / "meta.xml").write_text(
        '<archive xmlns="http://rs.tdwg.org/dwc/text/"><core encoding="UTF-8" fieldsTerminatedBy="\\t" '
        'linesTerminatedBy="\\n" ignoreHeaderLines="1" rowType="http://rs.tdwg.org/dwc/terms/Occurrence">'
        "<files><location>occurrence.txt</location></files><id index=\"0\"/>"
        '<field index="1" term="http://rs.tdwg.org/dwc/terms/catalogNumber"/>'
        '<field index="2" term="http://rs.tdwg.org/dwc/terms/locality"/></core></archive>', encoding="utf-8")
    (folder / "occurrence.txt").write_bytes(core.encode("utf-8") if isinstance(core, str) else core)
    return folder


def test_short_row_mid_file_stops_with_its_row_number(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "a", "id\tcatalogNumber\tlocality\n1\tA1\tX\n2\tA2\tY\n3\tA3\n")
    with open_source(archive) as source:
        seen = []
        with pytest.raises(SourceError, match=r"row 3: The descriptor references a non-existent field"):
            seen.extend(s.key for s in source)
    assert seen == ["A1", "A2"]


def test_undecodable_bytes_become_a_problem(tmp_path: Path) -> None:
    archive = tmp_path / "b"
    _archive(archive, "")
    (archive / "occurrence.txt").write_bytes("id\tcatalogNumber\tlocality\n1\tB1\tBerlevåg\n".encode("cp1252"))
    with open_source(archive) as source:
        (only,) = list(source)
    assert only.problems == ("row 1: locality has bytes that are not valid in the file's declared encoding",)


def test_source_streams(corpus: Path) -> None:
    with open_source(corpus / TROM) as source:
        assert inspect.isgenerator(iter(source))
        tracemalloc.start()
        try:
            counts: Counter[str] = Counter()
            for n, specimen in enumerate(source, start=1):
                counts["media"] += len(specimen.media)
                if n == 100:  # the media index is built on the first specimen; from here on, flat
                    early, _ = tracemalloc.get_traced_memory()
            late, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert counts["media"] == 2951
    assert late - early < 256 * 1024, f"memory grew by {late - early} bytes over 2,821 specimens"
    # holding every Specimen of TROM takes about 8 MB; streaming peaks near 2 MB (the media index)
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes: rows are being held"
