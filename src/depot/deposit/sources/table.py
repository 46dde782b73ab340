"""CSV and TSV tables, with or without a header line or a UTF-8 byte-order mark, plus a column mapping.

``columns`` maps a source column to a term name: ``{"Barcode": "catalogNumber"}`` for a file with a
header, ``{1: "catalogNumber", 2: "scientificName"}`` (1-based positions; ``"1"`` works too) for one
without. Header names
that are Darwin Core terms are recognised in any case and as URIs or ``dwc:`` names; other columns keep
their header name. Rows are read one at a time.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path

from depot.deposit.models import MediaRef, Specimen
from depot.deposit.sources.base import DatasetInfo, Source, build_specimen, choose_key_term
from depot.deposit.sources.errors import SourceError
from depot.deposit.sources.media import MediaResolver, split_associated_media
from depot.deposit.sources.terms import simple_name

_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"


class TableSource(Source):
    """Specimens from a delimited text table, one per data row."""

    kind = "table"

    def __init__(self, path: Path, *, images: Path | None = None, path_template: str | None = None,
                 key_term: str | None = None, columns: Mapping[str | int, str] | None = None,
                 delimiter: str | None = None, header: bool | None = None, quoted: bool | None = None,
                 encoding: str = "utf-8-sig", data_license: str | None = None) -> None:
        columns = dict(columns or {})
        if header is None:  # positions only in the mapping means there is no header to name columns by
            header = not (columns and all(_is_position(k) for k in columns))
        self._encoding = encoding
        self._delimiter = delimiter or _sniff_delimiter(path, encoding)
        self._quoted = quoted if quoted is not None else self._delimiter != "\t"
        self._header = header
        first = self._first_row(path)
        self._names = _column_names(path, first if header else None, len(first), columns)
        key = choose_key_term(path, {n for n in self._names if n}, key_term)
        super().__init__(path, key_term=key, dataset=DatasetInfo(license=data_license))
        self._resolver = MediaResolver(images=images, path_template=path_template, base=path.parent)

    def _reader(self, handle: Iterator[str]) -> Iterator[list[str]]:
        if self._quoted:
            return csv.reader(handle, delimiter=self._delimiter, quotechar='"')
        return csv.reader(handle, delimiter=self._delimiter, quoting=csv.QUOTE_NONE)

    def _first_row(self, path: Path) -> list[str]:
        rows = self._rows(path)
        try:
            _, first = next(rows, (0, []))
        finally:
            rows.close()
        if not first:
            raise SourceError(path, "the table is empty")
        first[0] = first[0].removeprefix("\ufeff")  # a BOM the encoding did not remove
        return first

    def _rows(self, path: Path) -> Generator[tuple[int, list[str]], None, None]:
        """(data row number, cells) for every non-blank line, header included as row 0 when there is one."""
        number = -1 if self._header else 0
        try:
            with open(path, encoding=self._encoding, newline="") as handle:
                for cells in self._reader(handle):
                    if not any(c.strip() for c in cells):
                        continue
                    number += 1
                    yield number, cells
        except UnicodeDecodeError as exc:
            line, offset = _locate_bad_bytes(path, self._encoding)
            raise SourceError(path, f"not {self._encoding} text at line {line} (byte {offset}: {exc.reason}); "
                                    "pass encoding='cp1252' or the file's real encoding") from exc
        except csv.Error as exc:
            raise SourceError(path, f"unreadable line: {exc}", row=number + 1) from exc
        except OSError as exc:
            raise SourceError(path, f"cannot read the table: {exc}") from exc

    def _specimens(self) -> Iterator[Specimen]:
        width = len(self._names)
        for number, cells in self._rows(self.path):
            if number == 0:
                continue  # the header
            problems = [] if len(cells) == width else [f"row has {len(cells)} cells, the header {width}"]
            terms = {name: value for name, value in zip(self._names, cells, strict=False)
                     if name and value.strip()}
            if "license" not in terms and self.dataset.license:
                terms["license"] = self.dataset.license
            media = [MediaRef(uri=uri) for uri in split_associated_media(terms.get("associatedMedia", ""))]
            yield build_specimen(key=terms.get(self.key_term, ""), key_term=self.key_term, terms=terms, media=media,
                                 resolver=self._resolver, row=number, problems=problems)


def _locate_bad_bytes(path: Path, encoding: str) -> tuple[int, int]:
    """(1-based line, byte offset) of the first bytes that do not decode: the text reader decodes in
    blocks, so the error it raises does not say where in the file the bad bytes are."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line, offset = 1, 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                start = max(exc.start, 0)
                return line + block.count(b"\n", 0, start), offset + start
            line += block.count(b"\n")
            offset += len(block)
    return line, offset


def _sniff_delimiter(path: Path, encoding: str) -> str:
    if path.suffix.lower() == ".tsv":
        return "\t"
    try:
        with open(path, encoding=encoding, errors="replace", newline="") as handle:
            sample = handle.read(_SNIFF_BYTES)
    except OSError as exc:
        raise SourceError(path, f"cannot read the table: {exc}") from exc
    if len(sample) == _SNIFF_BYTES and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        # the sniffer gives up on ragged rows; the header line alone usually tells
        first_line = sample.splitlines()[0] if sample else ""
        counts = sorted(((first_line.count(d), d) for d in _DELIMITERS), reverse=True)
        if counts[0][0] == 0:
            return ","  # a single column
        if counts[0][0] == counts[1][0]:
            raise SourceError(path, "cannot tell the delimiter; pass delimiter=',' (or ';', '\\t', '|')") from None
        return counts[0][1]


def _is_position(column: str | int) -> bool:
    return isinstance(column, int) or column.strip().isdigit()


def _column_names(path: Path, header: list[str] | None, width: int,
                  columns: Mapping[str | int, str]) -> list[str | None]:
    """The term name of every column position (None: not kept)."""
    names: list[str | None] = [simple_name(h) or None for h in header] if header else [None] * width
    raw = [h.strip() for h in header] if header else []
    for source, term in columns.items():
        if _is_position(source) and not (isinstance(source, str) and source.strip() in raw):
            position = int(source)  # "2" from a command line is a position unless a column has that name
            if not 1 <= position <= width:
                raise SourceError(path, f"column position {position} is outside 1..{width}")
            index = position - 1
        elif not header:
            raise SourceError(path, f"column {source!r} needs a header line; without one, map positions: {{1: ...}}")
        else:
            wanted = str(source).strip()
            matches = [i for i, h in enumerate(raw) if h == wanted] or \
                      [i for i, h in enumerate(raw) if h.lower() == wanted.lower()]
            if not matches:
                raise SourceError(path, f"column {source!r} is not in the header ({', '.join(raw)})")
            index = matches[0]
        names[index] = simple_name(term)
    taken = [n for n in names if n]
    duplicates = sorted({n for n in taken if taken.count(n) > 1})
    if duplicates:
        raise SourceError(path, f"more than one column maps to {', '.join(duplicates)}")
    return names
