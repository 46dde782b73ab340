"""`depot check` on flawed copies of the real archives and tables: a clear message, never a traceback."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from depot.cli import main

TROM = "dwca-trom-algae-herbarium-gbif-multimedia/dwca-trom_algae-v1.25.zip"
MNHNL = "dwca-mnhnl-palaeo-associatedmedia/dwca-lux-associated-media.zip"
NATURALIS = "dwca-naturalis-tunicata-audubon-core/dwca-naturalis-ac-media.zip"


def _rezip(source: Path, target: Path, change: Callable[[str, bytes], dict[str, bytes]]) -> Path:
    """A copy of the zip ``source`` in which every entry goes through ``change`` (name, data) -> new entries."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zipped:
        for info in original.infolist():
            for name, data in change(info.filename, original.read(info)).items():
                zipped.writestr(name, data)
    return target


def _replace(entry: str, old: bytes, new: bytes) -> Callable[[str, bytes], dict[str, bytes]]:
    return lambda name, data: {name: data.replace(old, new) if name == entry else data}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated(corpus: Path, tmp: Path) -> Path:
    data = (corpus / TROM).read_bytes()
    (tmp / "cut.zip").write_bytes(data[: len(data) // 2])
    return tmp / "cut.zip"


def _short_row(corpus: Path, tmp: Path) -> Path:
    def change(name: str, data: bytes) -> dict[str, bytes]:
        if name != "occurrence.txt":
            return {name: data}
        lines = data.split(b"\n")
        lines[40] = b"\t".join(lines[40].split(b"\t")[:5])
        return {name: b"\n".join(lines)}
    return _rezip(corpus / TROM, tmp / "short.zip", change)


def _mnhnl_escaping_media(corpus: Path, tmp: Path) -> Path:
    def change(name: str, data: bytes) -> dict[str, bytes]:
        if name != "occurrence.txt":
            return {name: data}
        lines = data.decode("utf-8").split("\n")
        header = lines[0].split("\t")
        column = next(i for i, h in enumerate(header) if h.lower().endswith("associatedmedia"))
        for n, value in ((1, "../../../../etc/passwd"), (2, "/etc/passwd"), (3, "file:///etc/hostname")):
            cells = lines[n].split("\t")
            cells[column] = value
            lines[n] = "\t".join(cells)
        return {name: "\n".join(lines).encode("utf-8")}
    return _rezip(corpus / MNHNL, tmp / "escape.zip", change)


VARIANTS: dict[str, Callable[[Path, Path], Path]] = {
    "truncated zip": _truncated,
    "empty file named .zip": lambda c, t: _write(t / "empty.zip", b""),
    "zip of nothing": lambda c, t: _rezip(c / TROM, t / "none.zip", lambda n, d: {}),
    "zip inside a zip": lambda c, t: _rezip(c / TROM, t / "outer.zip", lambda n, d: {
        "inner.zip": (c / TROM).read_bytes()} if n == "meta.xml" else {}),
    "meta.xml core outside": lambda c, t: _rezip(c / TROM, t / "meta-out.zip", _replace(
        "meta.xml", b"<location>occurrence.txt</location>", b"<location>../../../../etc/passwd</location>")),
    "meta.xml extension outside": lambda c, t: _rezip(c / TROM, t / "ext-out.zip", _replace(
        "meta.xml", b"<location>multimedia.txt</location>", b"<location>/etc/passwd</location>")),
    "meta.xml not XML": lambda c, t: _rezip(c / TROM, t / "meta-bad.zip", lambda n, d: {n: d[:300] if n == "meta.xml"
                                                                                       else d}),
    "meta.xml without core": lambda c, t: _rezip(c / TROM, t / "no-core.zip", _replace(
        "meta.xml", b"<core ", b"<notcore ")),
    "missing core file": lambda c, t: _rezip(c / TROM, t / "no-file.zip", lambda n, d: {} if n == "occurrence.txt"
                                             else {n: d}),
    "zip slip entry": lambda c, t: _rezip(c / TROM, t / "slip.zip", lambda n, d: {n: d, "../../evil.txt": b"x"}
                                          if n == "meta.xml" else {n: d}),
    "short row mid-file": _short_row,
    "cp1252 bytes in UTF-8 core": lambda c, t: _rezip(c / TROM, t / "latin.zip", _replace(
        "occurrence.txt", "Tromsø".encode(), "Tromsø".encode("cp1252"))),
    "broken eml.xml": lambda c, t: _rezip(c / TROM, t / "eml.zip", lambda n, d: {n: d[:200] if n == "eml.xml" else d}),
    "legacy row type in a folder with __MACOSX": lambda c, t: _rezip(c / NATURALIS, t / "mac.zip", lambda n, d: {
        f"export/{n}": d.replace(b"http://rs.tdwg.org/dwc/terms/Occurrence", b"http://rs.tdwg.org/dwc/terms/DarwinCore"),
        f"__MACOSX/export/._{n}": b"\x00\x05\x16\x07"}),
    "media paths leading out": _mnhnl_escaping_media,
    "spreadsheet named .csv": lambda c, t: _write(t / "x.csv", b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256))),
    "NUL bytes in a table": lambda c, t: _write(t / "nul.csv", b"catalogNumber,x\nB1,a\x00b\n"),
    "unclosed quote in a table": lambda c, t: _write(t / "q.csv", b'catalogNumber,x\nB1,"a\nB2,b\n'),
    "blank table": lambda c, t: _write(t / "blank.csv", b"\n\n \n"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_check_never_prints_a_traceback(corpus: Path, tmp_path: Path, variant: str) -> None:
    source = VARIANTS[variant](corpus, tmp_path)
    result = CliRunner().invoke(main, ["check", str(source), "--limit", "60",
                                       "--problems-file", str(tmp_path / "problems.tsv")])
    assert isinstance(result.exception, SystemExit) or result.exception is None, (variant, result.output)
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2, 5), (variant, result.exit_code, result.output)
    if result.exit_code == 2:  # a source that cannot be read: one line naming the file
        assert result.output.startswith(f"depot: {source}"), result.output
    assert not (tmp_path.parent / "evil.txt").exists() and not Path(os.sep, "evil.txt").exists()


def test_media_that_lead_out_are_named_per_row(corpus: Path, tmp_path: Path) -> None:
    source = _mnhnl_escaping_media(corpus, tmp_path)
    CliRunner().invoke(main, ["check", str(source), "--problems-file", str(tmp_path / "p.tsv")])
    listing = (tmp_path / "p.tsv").read_text(encoding="utf-8")
    for row, value in ((1, "../../../../etc/passwd"), (2, "/etc/passwd"), (3, "file:///etc/hostname")):
        assert f"row {row}: image {value} is outside the unpacked archive escape.zip" in listing


CORPUS_ENTRIES = sorted(
    [f"dwca-python-dwca-reader-samples/{p.name}" for p in (Path(__file__).resolve().parents[2] / "data" / "corpus" /
                                                          "dwca-python-dwca-reader-samples").iterdir()
     if p.suffix not in (".md", ".rst")]
    + [TROM, MNHNL, NATURALIS, "icedig-benchmark-BR0000008525000"])


@pytest.mark.parametrize("entry", CORPUS_ENTRIES)
def test_check_on_every_corpus_entry_never_prints_a_traceback(corpus: Path, tmp_path: Path, entry: str) -> None:
    result = CliRunner().invoke(main, ["check", str(corpus / entry), "--limit", "30",
                                       "--problems-file", str(tmp_path / "problems.tsv")])
    assert isinstance(result.exception, SystemExit) or result.exception is None, (entry, result.output)
    assert "Traceback" not in result.output and result.exit_code in (0, 2, 5), (entry, result.output)
