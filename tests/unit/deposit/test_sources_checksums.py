"""Checksum files a dataset comes with (--checksums): read in every form checksum tools write, and each image
checked against its line before anything is sent (depot.deposit.sources.checksums, check_file)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from depot.deposit.images import FileChecker, ImageRules, check_file
from depot.deposit.models import Expected, FileSpec, Specimen
from depot.deposit.sources.checksums import algorithm_name, load, parse
from depot.deposit.sources.errors import SourceError

MD5_A = hashlib.md5(b"a").hexdigest()
SHA256_A = hashlib.sha256(b"a").hexdigest()
RULES = ImageRules(min_bytes=1, min_pixels=1)


def test_md5sum_and_sha256sum_output_with_and_without_tag_and_escapes() -> None:
    text = ("\ufeff# made by the imaging station\r\n"
            f"{MD5_A}  B1.tif\r\n"
            f"{MD5_A.upper()} *sub/B2.tif\n"
            "\n"
            f"SHA256 (B 3.tif) = {SHA256_A}\n"
            f"\\{MD5_A}  odd\\nname\\\\.tif\n")
    got = parse(text, "sums.txt")
    assert got.get("B1.tif") == (Expected("md5", MD5_A, "sums.txt line 2"),)
    assert got.get(os.path.join("sub", "B2.tif")) == (Expected("md5", MD5_A, "sums.txt line 3"),)  # upper case
    assert got.get("B 3.tif") == (Expected("sha256", SHA256_A, "sums.txt line 5"),)
    assert got.get("odd\nname\\.tif")[0].origin == "sums.txt line 6"
    assert len(got) == 4 and got.get("B9.tif") == ()


def test_a_bagit_manifest_takes_its_algorithm_from_its_name_and_decodes_its_paths() -> None:
    got = parse(f"{SHA256_A}  data/100%25 B%0A1.tif\n", "bag/manifest-sha256.txt")
    assert [e.algorithm for e in got.get("data/100% B\n1.tif")] == ["sha256"]
    with pytest.raises(SourceError, match=r"line 1: .* is not a sha256 checksum"):
        parse(f"{MD5_A}  data/B1.tif\n", "bag/manifest-sha256.txt")
    with pytest.raises(SourceError, match="a BagIt manifest of 'crc32'"):
        parse("1234  data/x\n", "manifest-crc32.txt")


@pytest.mark.parametrize(("text", "words"), [
    ("garbage\n", "line 1: 'garbage' is not '<checksum>  <path>'"),
    ("abc123  B1.tif\n", "line 1: a checksum of 6 hex digits is none of md5"),
    (f"SHA256 (B1.tif) = {MD5_A}\n", f"line 1: {MD5_A} is not a sha256 checksum"),
    (f"{MD5_A}  B1.tif\n{SHA256_A[:32]}  B1.tif\n", f"line 2: B1.tif is given {SHA256_A[:32]}, but line 1 gave"),
])
def test_a_line_that_is_not_a_checksum_is_named_by_its_number(text: str, words: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse(text, "sums.md5")
    assert words in str(caught.value) and "sums.md5" in str(caught.value)


def test_many_bad_lines_are_counted_not_all_listed() -> None:
    with pytest.raises(SourceError, match=r"line 3: .*\(and 2 more\)"):
        parse("x\ny\nz\nw\nv\n", "sums.md5")


def test_the_same_line_twice_is_no_conflict_and_two_algorithms_of_one_path_are_both_kept() -> None:
    once = parse(f"{MD5_A}  B1.tif\n{MD5_A}  ./B1.tif\n", "s.md5")
    assert len(once) == 1 and once.get("B1.tif") == (Expected("md5", MD5_A, "s.md5 line 1"),)
    both = parse(f"MD5 (B1.tif) = {MD5_A}\nSHA256 (B1.tif) = {SHA256_A}\n", "CHECKSUMS")
    assert both.get("B1.tif") == (Expected("md5", MD5_A, "CHECKSUMS line 1"),
                                  Expected("sha256", SHA256_A, "CHECKSUMS line 2"))


@pytest.mark.parametrize(("name", "algorithm"), [("SHA-256", "sha256"), ("sha2-512", "sha512"), ("MD5", "md5"),
                                                ("SHA224", "sha224"), ("SHA-1", "sha1"), ("crc32", None), ("", None)])
def test_algorithm_names_as_tools_and_audubon_core_write_them(name: str, algorithm: str | None) -> None:
    assert algorithm_name(name) == algorithm


def test_a_misspelt_checksum_file_is_named_with_the_close_one(tmp_path: Path) -> None:
    (tmp_path / "SHA256SUMS.txt").write_text(f"{SHA256_A}  B1.tif\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"no such checksum file \(--checksums\); did you mean .*SHA256SUMS.txt\?"):
        load([tmp_path / "SHA256SUM.txt"])


def test_paths_are_looked_up_from_the_files_folder_and_the_images_folder(tmp_path: Path) -> None:
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    (tmp_path / "delivery.md5").write_text(f"{MD5_A}  images/B1.tif\n{MD5_A}  ../etc/passwd\n", encoding="utf-8")
    (tmp_path / "flat.sha256").write_text(f"{SHA256_A}  B1.tif\n{SHA256_A}  sub/B2.tif\n", encoding="utf-8")
    sums = load([tmp_path / "delivery.md5", tmp_path / "flat.sha256"], images)
    b1 = sums.expected(str(images / "B1.tif"))
    assert {e.algorithm for e in b1} == {"md5", "sha256"}
    assert [e.algorithm for e in sums.expected(str(images / "sub" / "B2.tif"))] == ["sha256"]
    assert sums.expected(str(tmp_path / "B9.tif")) == ()

    specimen = Specimen("K1", {}, files=(FileSpec(str(images / "B1.tif"), "B1.tif"),
                                         FileSpec(str(images / "B9.tif"), "B9.tif")), problems=("earlier",))
    attached = sums.attach(specimen)
    assert attached.files[0].expected == b1 and attached.files[1].expected == ()
    assert (attached.files[0].md5, attached.files[0].sha256) == (MD5_A, SHA256_A)  # compared with the bytes sent
    assert attached.problems[0] == "earlier"
    assert attached.problems[1].startswith(f"{images / 'B9.tif'} is not listed in the checksum file (--checksums "
                                           f"{tmp_path / 'delivery.md5'} --checksums {tmp_path / 'flat.sha256'})")


@pytest.mark.parametrize(("make", "words"), [
    (lambda p: None, "no such checksum file"),
    (lambda p: p.mkdir(), "a folder, not a checksum file"),
    (lambda p: p.write_bytes(b"\xff\xfe\x00binary"), "not UTF-8 text (--checksums; byte 0"),
    (lambda p: p.write_text("# only a comment\n", encoding="utf-8"), "holds no checksum line"),
])
def test_a_checksum_file_that_cannot_be_used_is_named(tmp_path: Path, make: object, words: str) -> None:
    path = tmp_path / "sums.md5"
    make(path)  # type: ignore[operator]
    with pytest.raises(SourceError) as caught:
        load([path])
    assert words in str(caught.value) and str(path) in str(caught.value)


@pytest.fixture
def png(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "B1.png"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(path)
    return path


def test_check_file_compares_every_expected_digest_in_one_read(png: Path) -> None:
    body = png.read_bytes()
    right = (Expected("md5", hashlib.md5(body).hexdigest(), "s.md5 line 1"),
             Expected("sha512", hashlib.sha512(body).hexdigest(), "s.sha512 line 4"))
    assert check_file(str(png), png.name, "K1", RULES, right).problems == ()
    wrong = (right[0], Expected("sha512", "0" * 128, "s.sha512 line 4"))
    (problem,) = check_file(str(png), png.name, "K1", RULES, wrong).problems
    assert problem.startswith(f"B1.png: its sha512 is {hashlib.sha512(body).hexdigest()}, but s.sha512 line 4 "
                              f"says {'0' * 128}: the file changed or was damaged since its checksum was made")


def test_a_swapped_image_that_decodes_is_caught_only_by_its_checksum(png: Path, tmp_path: Path) -> None:
    from PIL import Image

    expected = (Expected("md5", hashlib.md5(png.read_bytes()).hexdigest(), "s.md5 line 1"),)
    Image.new("RGB", (40, 30), (10, 200, 10)).save(png)  # another sound image under the same name
    assert check_file(str(png), png.name, "K1", RULES).problems == ()
    for processes in (0, 2):  # in this process and in the checkers' workers
        with FileChecker(RULES, processes=processes) as checker:
            (result,) = checker.check([("K1", str(png), png.name, expected)])
        assert len(result.problems) == 1 and "its md5 is" in result.problems[0]


def test_a_result_cached_before_a_checksum_file_was_given_is_not_taken_for_one_against_it(
        png: Path, tmp_path: Path) -> None:
    from depot.deposit.images import FileCheckCache
    from depot.deposit.ledger import Ledger

    ledger = Ledger.open(str(tmp_path / "ledger.sqlite3"))
    try:
        cache = FileCheckCache(ledger.engine)
        with FileChecker(RULES, processes=0, cache=cache) as checker:
            assert next(iter(checker.check([("K1", str(png), png.name)]))).problems == ()
        wrong = (Expected("md5", "0" * 32, "s.md5 line 1"),)
        with FileChecker(RULES, processes=0, cache=cache) as checker:
            (result,) = checker.check([("K1", str(png), png.name, wrong)])
            assert (checker.checked, checker.cached) == (1, 0)
        assert "its md5 is" in result.problems[0]
        with FileChecker(RULES, processes=0, cache=cache) as checker:  # the same checksum again: cached
            (again,) = checker.check([("K1", str(png), png.name, wrong)])
            assert (checker.checked, checker.cached, again) == (0, 1, result)
    finally:
        ledger.close()


def test_files_named_as_checksum_files_are_found_for_a_hint(tmp_path: Path) -> None:
    from depot.deposit.sources.checksums import likely_checksum_files

    images = tmp_path / "scans"
    images.mkdir()
    for name in ("B1.tif", "notes.txt", "SHA256SUMS.txt", "batch7.md5", "manifest-sha512.txt"):
        (images / name).touch()
    (tmp_path / "checksums.md5").touch()
    (images / "MD5SUMS").mkdir()  # a folder is no checksum file
    assert likely_checksum_files([images, tmp_path], limit=10) == [
        images / "SHA256SUMS.txt", images / "batch7.md5", images / "manifest-sha512.txt", tmp_path / "checksums.md5"]
    assert len(likely_checksum_files([images, tmp_path])) == 3
    assert likely_checksum_files([tmp_path / "gone"]) == []


def test_check_names_a_checksum_file_beside_the_images_that_was_not_given(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from depot.cli import main

    images = tmp_path / "scans"
    images.mkdir()
    (tmp_path / "sheets.csv").write_text("catalogNumber,scientificName\nB1,Fucus L.\n", encoding="utf-8")
    (tmp_path / "SHA256SUMS").write_text(f"{SHA256_A}  B1.tif\n", encoding="utf-8")
    args = ["check", str(tmp_path / "sheets.csv"), "--images", str(images), "--problems-file", str(tmp_path / "p.tsv")]
    said = CliRunner().invoke(main, args).output
    assert (f"note: {tmp_path / 'SHA256SUMS'} looks like a checksum file; pass --checksums {tmp_path / 'SHA256SUMS'} "
            "to check every image against it") in said, said
    given = CliRunner().invoke(main, [*args, "--checksums", str(tmp_path / "SHA256SUMS")]).output
    assert "looks like a checksum file" not in given, given
