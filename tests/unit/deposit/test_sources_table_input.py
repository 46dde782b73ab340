"""Tables as museums export them: encodings, delimiters, no header, broken quotes; and messages that name
the file, the row and the command-line flag to fix it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from depot.cli import main
from depot.deposit.sources import SourceError, open_source

ROWS = "catalogNumber;locality\nB1;Berlevåg\nB2;Tromsø\n"


@pytest.mark.parametrize(("data", "expected"), [
    (ROWS.encode("utf-8"), "utf-8-sig"),
    (b"\xef\xbb\xbf" + ROWS.encode("utf-8"), "utf-8-sig"),
    (ROWS.encode("cp1252"), "cp1252"),
    (ROWS.encode("utf-16"), "utf-16"),
])
def test_encodings_are_detected(tmp_path: Path, data: bytes, expected: str) -> None:
    table = tmp_path / "t.csv"
    table.write_bytes(data)
    with open_source(table) as source:
        rows = list(source)
        assert source._encoding == expected  # type: ignore[attr-defined]
    assert [(s.key, s.terms["locality"]) for s in rows] == [("B1", "Berlevåg"), ("B2", "Tromsø")]


def test_a_late_cp1252_byte_is_found_before_any_row_is_read(tmp_path: Path) -> None:
    table = tmp_path / "late.csv"
    table.write_bytes(("catalogNumber,locality\n" + "".join(f"B{n},Oslo\n" for n in range(30_000))).encode()
                      + "B-last,Berlevåg\n".encode("cp1252"))
    with open_source(table) as source:
        assert list(source)[-1].terms["locality"] == "Berlevåg"


def test_undecodable_text_names_the_file_the_line_and_the_flag(tmp_path: Path) -> None:
    table = tmp_path / "weird.csv"
    table.write_bytes(b"catalogNumber,locality\nB1,ok\nB2,\x81\x8d\x9d\xff\xfe\n")  # neither UTF-8 nor cp1252
    with pytest.raises(SourceError, match=r"weird.csv: line 3: the text is neither UTF-8 \(byte 32: .*\) nor cp1252; "
                                          r"pass the file's encoding with --encoding, e.g. --encoding latin-1"):
        open_source(table)
    with open_source(table, encoding="latin-1") as source:
        assert [s.key for s in source] == ["B1", "B2"]
    with pytest.raises(SourceError, match=r"--encoding 'klingon' is not an encoding name"):
        open_source(table, encoding="klingon")


@pytest.mark.parametrize("given", ["tab", "TAB", "\\t", "\t"])
def test_tab_delimiter_spellings(tmp_path: Path, given: str) -> None:
    table = tmp_path / "t.txt"
    table.write_text("catalogNumber\tlocality\nB1\tA, B; C | D\n", encoding="utf-8")
    with open_source(table, delimiter=given) as source:
        (only,) = list(source)
    assert only.terms == {"catalogNumber": "B1", "locality": "A, B; C | D"}


@pytest.mark.parametrize("delimiter", [",", ";", "|"])
def test_other_delimiters(tmp_path: Path, delimiter: str) -> None:
    table = tmp_path / "t.csv"
    table.write_text(f"catalogNumber{delimiter}recordedBy\nB1{delimiter}Lebrun\n", encoding="utf-8")
    with open_source(table, delimiter=delimiter) as source:
        assert next(iter(source)).terms == {"catalogNumber": "B1", "recordedBy": "Lebrun"}


def test_a_bad_delimiter_is_a_clear_error(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("catalogNumber\nB1\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"t.csv: --delimiter ';;' must be one character"):
        open_source(table, delimiter=";;")


def test_an_unclosed_quote_is_reported_with_its_row(tmp_path: Path) -> None:
    table = tmp_path / "q.csv"
    table.write_text('catalogNumber,locality,recordedBy\nB1,"Oslo,Lebrun\nB2,Bergen,Smith\nB3,"Tromsø",Hansen\n',
                     encoding="utf-8")
    with open_source(table) as source, pytest.raises(SourceError) as caught:
        list(source)
    assert str(caught.value).startswith(f"{table}, row 1: lines 2-4: a quoted field is not closed properly")
    assert "--no-quotes" in str(caught.value)
    to_the_end = tmp_path / "end.csv"
    to_the_end.write_text('catalogNumber,locality\nB1,x\nB2,"Oslo\nB3,Bergen\n', encoding="utf-8")
    with open_source(to_the_end) as source, pytest.raises(SourceError, match=r"end.csv, row 2: lines 3-4: a quoted"):
        list(source)
    with open_source(to_the_end, quoted=False) as source:  # --no-quotes: quotes are data
        assert [s.terms["locality"] for s in source] == ["x", '"Oslo', "Bergen"]


def test_a_quote_that_swallows_rows_and_closes_later_is_a_problem_of_its_row(tmp_path: Path) -> None:
    table = tmp_path / "s.csv"
    table.write_text('catalogNumber,locality,recordedBy\nB1,"Oslo,Lebrun\nB2,Bergen,Smith\nB3,Tromsø,Hansen",x\n'
                     'B4,"Two lines,\nof notes",y\n', encoding="utf-8")
    with open_source(table) as source:
        first, notes = list(source)
    assert first.problems == ("row 1: locality holds 3 lines, 2 of which look like whole rows: a closing quote is "
                              "missing, and those rows would be lost; fix the quotes in the file, or pass --no-quotes "
                              "if double quotes in this table are data",)
    assert notes.problems == ()  # a note over two lines is fine


def test_a_row_without_a_key_has_its_row_number(tmp_path: Path) -> None:
    table = tmp_path / "k.csv"
    table.write_text("catalogNumber,locality\nB1,x\n,y\n", encoding="utf-8")
    with open_source(table) as source:
        assert list(source)[1].problems[0].startswith("row 2: no key: catalogNumber is empty")


def _check(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", *args, "--problems-file", str(tmp_path / "problems.tsv")])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_headerless_table_from_the_command_line(tmp_path: Path) -> None:
    table = tmp_path / "meise.csv"
    table.write_text("BR0000008525000;Barleria velutina;Lebrun J.\nBR0000008525017;Poa annua;Lebrun J.\n",
                     encoding="utf-8")
    _code, output = _check(tmp_path, str(table), "--no-header", "--column", "1=catalogNumber",
                          "--column", "2=scientificName", "--column", "3=recordedBy", "--delimiter", ";")
    assert "2 rows read" in output and "2 specimens" in output, output
    listing = (tmp_path / "problems.tsv").read_text(encoding="utf-8")
    assert "BR0000008525000\t" in listing and "Barleria" not in listing.split("\n")[0]


@pytest.mark.parametrize(("args", "message"), [
    (["--limit", "-1"], "Invalid value for '--limit': -1 is not in the range x>=0"),
    (["--delimiter", "ab"], "Invalid value for '--delimiter': 'ab' must be one character"),
])
def test_bad_numbers_and_delimiters_are_refused_by_the_command_line(tmp_path: Path, args: list[str],
                                                                     message: str) -> None:
    table = tmp_path / "t.csv"
    table.write_text("catalogNumber\nB1\n", encoding="utf-8")
    code, output = _check(tmp_path, str(table), *args)
    # click names the option's DEPOT_* variable too: "'--limit' (env var: 'DEPOT_LIMIT'):"
    assert code == 2 and message in re.sub(r" \(env var: '[A-Z_]+'\)", "", output)


def test_messages_speak_command_line_flags(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("barcode,taxon\nB1,Poa\n", encoding="utf-8")
    folder = tmp_path / "nested"
    (folder / "deeper").mkdir(parents=True)
    (folder / "deeper" / "a.jpg").write_bytes(b"x")
    for args, flag in ((["--key-term", "collector"], "--key-term collector is not in the data"),
                       ([], "with --key-term (e.g. --key-term barcode)"),
                       (["--column", "Herbarium=institutionCode"], "--column Herbarium=...: no column"),
                       (["--key-term", "barcode", "--group-pattern", "x"], "--group-pattern cannot be used with a "
                                                                           "table source (--kind table)")):
        code, output = _check(tmp_path, str(table), *args)
        assert code == 2 and flag in output, output
        assert "key_term=" not in output and "kind=" not in output
    code, output = _check(tmp_path, str(folder))
    assert code == 2 and "pass --kind folder --recursive" in output
    code, output = _check(tmp_path, str(folder), "--kind", "folder", "--recursive")
    assert "1 rows read" in output and "1 specimens" in output, output
