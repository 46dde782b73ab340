"""The verdict shared by depot check and depot run, media licences, and --file-name."""

from __future__ import annotations

import shutil
from datetime import date
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import pytest

from depot.deposit.file_names import FileNameTemplateError, name_files, parse, unsafe
from depot.deposit.licences import more_restrictive, most_restrictive
from depot.deposit.models import FileSpec, MediaRef, PlannedRecord, Specimen
from depot.deposit.profiles import load_profile
from depot.deposit.verdict import KeyRows, judge

TODAY = date(2026, 1, 1)


def real_png(folder: Path, name: str = "sheet.png") -> Path:
    with as_file(files("depot.demo") / "data" / "images" / "RBGE_small_specimen.png") as src:
        shutil.copyfile(src, folder / name)
    return folder / name


def metadata(**extra: Any) -> dict[str, Any]:
    return {"title": "Quercus robur L. (BR1)", "upload_type": "image", "image_type": "photo",
            "description": "A herbarium sheet.", "creators": [{"name": "Meise Botanic Garden"}],
            "access_right": "open", "license": "cc-by-4.0", **extra}


def record(path: Path | None, **extra: Any) -> PlannedRecord:
    specs = (FileSpec(str(path), path.name),) if path else ()
    return PlannedRecord("BR1", metadata(), specs, row=7, **extra)


def test_a_good_record_passes_with_its_file_reported(tmp_path: Path) -> None:
    verdict = judge(record(real_png(tmp_path)), today=TODAY)
    assert verdict.problems == () and not verdict.blocked
    (report,) = verdict.files
    assert report.format == "png" and report.size and report.size > 1000
    assert verdict.row == 7


@pytest.mark.parametrize(("content", "kind"), [(b"", "empty"), (b"just some text, not an image\n", "unknown-format")])
def test_a_zero_byte_image_or_a_text_file_named_jpg_blocks_the_specimen(tmp_path: Path, content: bytes,
                                                                       kind: str) -> None:
    path = tmp_path / "BR1.jpg"
    path.write_bytes(content)
    verdict = judge(record(path), today=TODAY)
    assert verdict.blocked and [p.kind for p in verdict.problems] == [kind]
    assert verdict.first_file() == str(path) and "BR1.jpg" in verdict.reason()


def test_a_missing_file_blocks_the_specimen(tmp_path: Path) -> None:
    verdict = judge(record(tmp_path / "gone.png"), today=TODAY)
    assert [p.kind for p in verdict.problems] == ["missing"]


def test_media_that_are_only_web_links_block_the_specimen_with_advice() -> None:
    links = (MediaRef("https://images.example.org/BR1.jpg"), MediaRef("https://images.example.org/BR1b.jpg"))
    verdict = judge(PlannedRecord("BR1", metadata(), sidecars=(("BR1.json", b"{}"),), media=links), today=TODAY)
    (problem,) = [p for p in verdict.problems if p.kind == "no-file"]
    assert "https://images.example.org/BR1.jpg and 1 more" in problem.message
    assert "--fetch-media" in problem.message and "--images" in problem.message


def test_no_file_after_a_path_template_that_found_nothing_points_at_the_template_not_at_images() -> None:
    """--images was given and right; the template had the wrong extension: "give the folder with --images"
    sent a data manager to fix what was not wrong (found on a walk)."""
    missed = PlannedRecord("BR1", metadata(), row=7, problems=(
        "image not found: /scans/BR1.tif (--path-template)",))
    (problem,) = [p for p in judge(missed, today=TODAY).problems if p.kind == "no-file"]
    assert "--path-template" in problem.message and "--images" not in problem.message
    (plain,) = [p for p in judge(PlannedRecord("BR1", metadata(), row=7), today=TODAY).problems
                if p.kind == "no-file"]
    assert "--images" in plain.message


def test_metadata_the_repository_would_refuse_and_the_records_own_problems_block(tmp_path: Path) -> None:
    bad = PlannedRecord("BR1", metadata(title="Qu"), (FileSpec(str(real_png(tmp_path)), "sheet.png"),),
                        problems=("image not found: BR1b.png",))
    kinds = [p.kind for p in judge(bad, today=TODAY).problems]
    assert kinds == ["record", "metadata"]


def test_jpeg_note_is_a_warning_not_a_problem(tmp_path: Path) -> None:
    jpeg = tmp_path / "BR1.jpg"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 2000)
    seen: list[str] = []

    def inspector(path: str, name: str) -> tuple[int | None, str | None, list[Any]]:
        from depot.deposit.inspect_files import FileFinding

        seen.append(name)
        return 2004, "jpeg", [FileFinding("note", f"{name}: JPEG is lossy")]

    verdict = judge(record(jpeg), today=TODAY, inspector=inspector)
    assert seen == ["BR1.jpg"] and not verdict.blocked and [w.kind for w in verdict.warnings] == ["note"]


def test_media_licence_more_restrictive_than_the_records_is_a_problem(tmp_path: Path) -> None:
    sa = (MediaRef("https://img/BR1.jpg", license="http://creativecommons.org/licenses/by-sa/4.0/"),)
    verdict = judge(record(real_png(tmp_path), media=sa), today=TODAY)
    (problem,) = verdict.problems
    assert problem.kind == "licence" and "cc-by-sa-4.0" in problem.message and "cc-by-4.0" in problem.message
    assert '[licence] prefer = "media" or "record"' in problem.message
    # A profile that says which one wins makes it a choice, not a problem.
    chosen = judge(record(real_png(tmp_path), media=sa, licence_prefer="record"), today=TODAY)
    assert not chosen.blocked and "prefer = \"record\"" in chosen.warnings[0].message
    # A less restrictive media licence (CC0 images, CC BY data) is no problem.
    cc0 = (MediaRef("https://img/BR1.jpg", license="CC0"),)
    assert not judge(record(real_png(tmp_path), media=cc0), today=TODAY).blocked


@pytest.mark.parametrize(("media", "record_licence", "stricter"), [
    ("cc-by-sa-4.0", "cc-by-4.0", True), ("cc-by-nc-4.0", "cc-by-4.0", True), ("cc-by-4.0", "cc-by-sa-4.0", False),
    ("cc0-1.0", "cc-by-4.0", False), ("cc-by-4.0", "cc0-1.0", True), ("cc-by-4.0", "cc-by-4.0", False),
    ("mit", "cc-by-4.0", True)])
def test_more_restrictive(media: str, record_licence: str, stricter: bool) -> None:
    assert more_restrictive(media, record_licence) is stricter


def test_profile_preferring_media_takes_the_images_licence(tmp_path: Path) -> None:
    profile_file = tmp_path / "p.toml"
    profile_file.write_text('[licence]\nprefer = "media"\n[metadata]\ntitle = "{{ key }}"\nupload_type = "image"\n'
                            'license = "cc-by-4.0"\ncreators = [{ name = "M" }]\n', encoding="utf-8")
    specimen = Specimen("BR1", {"catalogNumber": "BR1"}, media=(
        MediaRef("a.jpg", license="CC BY-SA 4.0"), MediaRef("b.jpg", license="CC BY 4.0")), row=4)
    planned = load_profile(str(profile_file)).apply(specimen)
    assert planned.metadata["license"] == "cc-by-sa-4.0" and planned.licence_prefer == "media"
    assert not judge(planned, today=TODAY).problems or "licence" not in {p.kind for p in judge(planned,
                                                                                                today=TODAY).problems}
    cc0 = Specimen("BR2", {"catalogNumber": "BR2"}, media=(MediaRef("c.jpg", license="CC0"),))
    assert load_profile(str(profile_file)).apply(cc0).metadata["license"] == "cc-by-4.0"  # the data's stays
    assert planned.row == 4 and planned.terms["catalogNumber"] == "BR1"
    assert most_restrictive(["cc-by-4.0", "cc-by-nc-sa-4.0", "cc0-1.0"]) == "cc-by-nc-sa-4.0"


def test_communities_are_part_of_the_verdict(tmp_path: Path) -> None:
    rec = PlannedRecord("BR1", metadata(communities=[{"identifier": "belgiumherbarium"}]),
                        (FileSpec(str(real_png(tmp_path)), "sheet.png"),))
    assert judge(rec, today=TODAY).communities == ("belgiumherbarium",)


def test_key_rows_finds_duplicates_however_far_apart() -> None:
    keys = KeyRows()
    added = [keys.add(f"K{i}", i) for i in range(1, 1001)] + [keys.add("K3", 1001), keys.add("K3", 1500)]
    assert added.count(True) == 2 and list(keys.duplicates) == ["K3"]
    assert keys.duplicates["K3"] == [3, 1001, 1500]
    assert "rows 3, 1001, 1500" in keys.message("K3")


def named(*names: str, terms: dict[str, str] | None = None) -> PlannedRecord:
    return PlannedRecord("BR1", {}, tuple(FileSpec(f"/img/{n}", n) for n in names),
                         terms=terms if terms is not None else {"catalogNumber": "BR0000013087944"})


def test_file_name_template_names_files_after_the_specimen() -> None:
    out = name_files(named("barcode.jpg"), "{catalogNumber}.jpg")
    assert [f.name for f in out.files] == ["BR0000013087944.jpg"] and out.problems == ()
    assert out.files[0].path == "/img/barcode.jpg"
    two = name_files(named("a.jpg", "b.tif"), "{catalogNumber}_{n}{ext}")
    assert [f.name for f in two.files] == ["BR0000013087944_1.jpg", "BR0000013087944_2.tif"]


@pytest.mark.parametrize(("template", "terms", "expected"), [
    ("{catalogNumber}.jpg", {"catalogNumber": "BR1"}, "two files the name 'BR1.jpg'"),
    ("{catalogNumber}.jpg", {"catalogNumber": "../BR1"}, "holds a slash"),
    ("{catalogNumber}.jpg", {"catalogNumber": "BR\x071"}, "control character"),
    ("{catalogNumber}.jpg", {}, "the specimen has no catalogNumber"),
    ("{catalogNumber}.jpg", {"catalogNumber": ""}, "the specimen has no catalogNumber"),
])
def test_file_name_clashes_and_unsafe_names_are_problems(template: str, terms: dict[str, str],
                                                         expected: str) -> None:
    names = ("a.jpg", "b.jpg") if "two" in expected else ("a.jpg",)
    out = name_files(named(*names, terms=terms), template)
    assert any(expected in p for p in out.problems), out.problems


def test_file_name_template_errors_and_unsafe() -> None:
    assert parse("{catalogNumber}_{n}{ext}") == ["catalogNumber", "n", "ext"]
    with pytest.raises(FileNameTemplateError):
        parse("{catalogNumber")
    with pytest.raises(FileNameTemplateError):
        parse("{}.jpg")
    assert unsafe("BR1.jpg") is None and unsafe("..") and unsafe(" ") and unsafe("a\\b")
