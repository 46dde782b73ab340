"""Darwin Core Archives as they come: zipped in a folder on a Mac, legacy row types, the old GBIF Image
extension, a licence written as prose."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from depot.deposit.sources import open_source
from depot.deposit.sources.licences import licence_from_text

TROM = "dwca-trom-algae-herbarium-gbif-multimedia/dwca-trom_algae-v1.25.zip"
CORE = ('<core encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" ignoreHeaderLines="1" '
        'rowType="{row_type}"><files><location>occurrence.txt</location></files><id index="0"/>'
        '<field index="1" term="http://rs.tdwg.org/dwc/terms/catalogNumber"/></core>')
IMAGE_EXTENSION = ('<extension encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" ignoreHeaderLines="1" '
                   'rowType="http://rs.gbif.org/terms/1.0/Image"><files><location>image.txt</location></files>'
                   '<coreid index="0"/><field index="1" term="http://purl.org/dc/terms/identifier"/>'
                   '<field index="2" term="http://purl.org/dc/terms/license"/></extension>')
EML = ('<eml:eml xmlns:eml="eml://ecoinformatics.org/eml-2.1.1"><dataset><title>Algae</title>'
       "<intellectualRights><para>{rights}</para></intellectualRights></dataset></eml:eml>")
LEGACY = ["http://rs.tdwg.org/dwc/terms/DarwinCore", "http://rs.tdwg.org/dwc/xsd/simpledarwincore/SimpleDarwinRecord"]


def _archive(folder: Path, *, row_type: str = "http://rs.tdwg.org/dwc/terms/Occurrence", extension: str = "",
             rights: str | None = None) -> Path:
    folder.mkdir(parents=True)
    metadata = ' metadata="eml.xml"' if rights is not None else ""
    (folder / "meta.xml").write_text(f'<archive xmlns="http://rs.tdwg.org/dwc/text/"{metadata}>'
                                     f"{CORE.format(row_type=row_type)}{extension}</archive>", encoding="utf-8")
    (folder / "occurrence.txt").write_text("id\tcatalogNumber\n1\tA1\n2\tA2\n", encoding="utf-8")
    if rights is not None:
        (folder / "eml.xml").write_text(EML.format(rights=rights), encoding="utf-8")
    return folder


def test_a_zip_with_its_content_in_one_folder_and_macosx_beside_it(corpus: Path, tmp_path: Path) -> None:
    mac = tmp_path / "trom-mac.zip"
    with zipfile.ZipFile(corpus / TROM) as original, zipfile.ZipFile(mac, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("dwca-trom/", b"")
        for info in original.infolist():
            data = original.read(info)
            zipped.writestr(f"dwca-trom/{info.filename}", data)
            zipped.writestr(f"__MACOSX/dwca-trom/._{info.filename}", b"\x00\x05\x16\x07 resource fork")
        zipped.writestr("dwca-trom/.DS_Store", b"\x00\x00\x00\x01Bud1")
    with open_source(mac) as source:
        assert source.key_term == "occurrenceID"
        assert sum(1 for _ in source) == 2921


@pytest.mark.parametrize("row_type", LEGACY)
def test_legacy_darwin_core_row_types_are_occurrences(tmp_path: Path, row_type: str) -> None:
    with open_source(_archive(tmp_path / "a", row_type=row_type)) as source:
        assert [s.key for s in source] == ["A1", "A2"]


def test_the_deprecated_gbif_image_extension_gives_media(tmp_path: Path) -> None:
    folder = _archive(tmp_path / "a", extension=IMAGE_EXTENSION)
    (folder / "image.txt").write_text("id\tidentifier\tlicense\n1\thttp://img.example.org/A1.jpg\tCC BY-SA 4.0\n",
                                      encoding="utf-8")
    with open_source(folder) as source:
        first, second = list(source)
    assert [(m.uri, m.license) for m in first.media] == [("http://img.example.org/A1.jpg", "CC BY-SA 4.0")]
    assert second.media == ()


@pytest.mark.parametrize(("rights", "licence"), [
    ("This work is licensed under a Creative Commons Attribution (CC-BY) 4.0 License.",
     "http://creativecommons.org/licenses/by/4.0/legalcode"),
    ("Creative Commons Attribution 4.0 International", "http://creativecommons.org/licenses/by/4.0/legalcode"),
    ("Use under CC-BY 4.0, please cite the dataset.", "http://creativecommons.org/licenses/by/4.0/legalcode"),
    ("Licensed under Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International; ask us for other uses.",
     "http://creativecommons.org/licenses/by-nc-sa/4.0/legalcode"),
    ("See https://creativecommons.org/licenses/by/4.0/ for the terms.",
     "http://creativecommons.org/licenses/by/4.0/legalcode"),
    ("To the extent possible under law, the publisher has waived all rights to these data and has dedicated them "
     "to the Public Domain (CC0 1.0).", "http://creativecommons.org/publicdomain/zero/1.0/legalcode"),
])
def test_a_licence_written_as_prose_is_recognised(tmp_path: Path, rights: str, licence: str) -> None:
    with open_source(_archive(tmp_path / "a", rights=rights)) as source:
        assert source.dataset.license == licence
        assert [(s.terms["license"], s.problems) for s in source] == [(licence, ()), (licence, ())]


def test_prose_that_names_no_licence_is_a_problem_not_an_empty_licence(tmp_path: Path) -> None:
    rights = "The data may be used freely for research, provided the museum is acknowledged in every publication."
    folder = _archive(tmp_path / "a", rights=rights)
    with open_source(folder) as source:
        first = next(iter(source))
    assert "license" not in first.terms
    assert first.problems == (f"row 1: the data licence in eml.xml (intellectualRights: {rights!r}) names no licence "
                              "Depot recognises; state it with --license, e.g. --license cc-by-4.0",)
    with open_source(folder, data_license="cc-by-4.0") as source:  # --license
        first = next(iter(source))
    assert first.terms["license"] == "cc-by-4.0" and first.problems == ()


def test_a_short_licence_id_that_is_not_creative_commons_is_kept_for_the_profile(tmp_path: Path) -> None:
    with open_source(_archive(tmp_path / "a", rights="ODC-By 1.0")) as source:
        assert source.dataset.license == "ODC-By 1.0" and next(iter(source)).problems == ()


@pytest.mark.parametrize("text", ["All rights reserved", "CC BY 3.0 or CC BY 4.0, at your choice", "CC-BY or CC0"])
def test_ambiguous_or_absent_licences_are_not_guessed(text: str) -> None:
    assert licence_from_text(text) is None
