"""CSV and TSV tables, with or without a header line or a UTF-8 byte-order mark, plus a column mapping.

``columns`` maps a source column to a term name: ``{"Barcode": "catalogNumber"}`` for a file with a
header, ``{1: "catalogNumber", 2: "scientificName"}`` (1-based positions; ``"1"`` works too) for one
without. Header names
that are Darwin Core terms are recognised in any case and as URIs or ``dwc:`` names; other columns keep
their header name. Rows are read one at a time.
"""

from __future__ import annotations

import csv
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path

from depot.deposit.models import MediaRef, Specimen
from depot.deposit.sources.base import DatasetInfo, Source, build_specimen, choose_key_term
from depot.deposit.sources.cache import MediaCache
from depot.deposit.sources.encoding import check_encoding_name, detect_encoding, first_bad_bytes
from depot.deposit.sources.errors import SourceError
from depot.deposit.sources.media import MediaResolver, split_associated_media
from depot.deposit.sources.terms import simple_name

_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
_SWALLOWED = 2  # a quoted field holding this many row-like lines hides rows behind a missing quote


def parse_delimiter(value: str) -> str:
    """The delimiter character for a ``--delimiter`` value: one character, ``tab`` or ``\\t`` (as typed in a
    shell), ``comma``, ``semicolon``, ``pipe`` or ``space``. Raises ValueError for anything else."""
    named = _DELIMITER_NAMES.get(value.lower())
    if named is not None:
        return named
    if len(value) == 1 and value not in "\"\r\n":
        return value
    raise ValueError(f"--delimiter {value!r} must be one character (, ; | or a tab) or one of: "
                     f"{', '.join(_DELIMITER_NAMES)}")


class TableSource(Source):
    """Specimens from a delimited text table, one per data row."""

    kind = "table"

    def __init__(self, path: Path, *, images: Path | None = None, path_template: str | None = None,
                 key_term: str | None = None, columns: Mapping[str | int, str] | None = None,
                 delimiter: str | None = None, header: bool | None = None, quoted: bool | None = None,
                 encoding: str | None = None, data_license: str | None = None, require_local: bool = False,
                 media_cache: MediaCache | None = None) -> None:
        columns = dict(columns or {})
        if header is None:  # positions only in the mapping means there is no header to name columns by
            header = not (columns and all(_is_position(k) for k in columns))
        try:
            given_delimiter = parse_delimiter(delimiter) if delimiter is not None else None
        except ValueError as exc:
            raise SourceError(path, str(exc)) from None
        # checked over the whole file now: a bad byte at row 50,000 would otherwise stop a run half-way
        self._encoding = check_encoding_name(path, encoding) if encoding else detect_encoding(path)
        if encoding:
            self._check_decodes(path)
        self._delimiter = given_delimiter or _sniff_delimiter(path, self._encoding)
        self._quoted = quoted if quoted is not None else self._delimiter != "\t"
        self._header = header
        first = self._first_row(path)
        self._names = _column_names(path, first if header else None, len(first), columns)
        key = choose_key_term(path, {n for n in self._names if n}, key_term)
        super().__init__(path, key_term=key, dataset=DatasetInfo(license=data_license))
        self._resolver = MediaResolver(images=images, path_template=path_template, base=path.parent,
                                       base_label=f"the folder of {path.name} ({path.parent})",
                                       require_local=require_local, cache=media_cache)

    def _check_decodes(self, path: Path) -> None:
        try:
            bad = first_bad_bytes(path, self._encoding)
        except OSError as exc:
            raise SourceError(path, f"cannot read the table: {exc}") from exc
        if bad is not None:
            line, offset, reason = bad
            raise SourceError(path, f"line {line}: not {self._encoding} text (byte {offset}: {reason}); pass the "
                                    "file's real encoding with --encoding, e.g. --encoding cp1252, or leave "
                                    "--encoding out to detect UTF-8 or cp1252")

    def _reader(self, handle: Iterator[str]) -> Iterator[list[str]]:
        if self._quoted:  # strict: a stray quote is an error with its line, not rows silently merged
            return csv.reader(handle, delimiter=self._delimiter, quotechar='"', strict=True)
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
        line = 0  # the last line of the last record read
        reader: Iterator[list[str]] = iter(())
        try:
            with open(path, encoding=self._encoding, newline="") as handle:
                reader = self._reader(handle)
                for cells in reader:
                    line = getattr(reader, "line_num", line)
                    if not any(c.strip() for c in cells):
                        continue
                    number += 1
                    yield number, cells
        except UnicodeDecodeError as exc:  # the file changed since it was checked
            raise SourceError(path, f"not {self._encoding} text ({exc.reason}); pass the file's real encoding "
                                    "with --encoding") from exc
        except csv.Error as exc:
            problem = _csv_problem(exc, line + 1, getattr(reader, "line_num", line + 1), self._delimiter)
            raise SourceError(path, problem, row=number + 1) from exc
        except OSError as exc:
            raise SourceError(path, f"cannot read the table: {exc}") from exc

    def _specimens(self) -> Iterator[Specimen]:
        width = len(self._names)
        for number, cells in self._rows(self.path):
            if number == 0 and self._header:
                continue  # the header
            problems = [] if len(cells) == width else [
                f"{len(cells)} cells, but the first row has {width} (is --delimiter {self._delimiter!r} right?)"]
            if self._quoted and any("\n" in cell for cell in cells):  # rare: only multi-line fields are checked
                problems += self._swallowed_rows(cells, width)
            terms = {name: value for name, value in zip(self._names, cells, strict=False)
                     if name and value.strip()}
            if "license" not in terms and self.dataset.license:
                terms["license"] = self.dataset.license
            media = [MediaRef(uri=uri) for uri in split_associated_media(terms.get("associatedMedia", ""))]
            yield build_specimen(key=terms.get(self.key_term, ""), key_term=self.key_term, terms=terms, media=media,
                                 resolver=self._resolver, row=number, problems=problems)

    def keys(self) -> Iterator[tuple[str, int | None]]:
        """The key column alone (no terms, no media): the same keys and rows as iteration."""
        index = len(self._names) - 1 - self._names[::-1].index(self.key_term)  # as in terms: the last wins
        for number, cells in self._rows(self.path):
            if number == 0 and self._header:
                continue
            yield (cells[index].strip() if index < len(cells) else ""), number

    def _swallowed_rows(self, cells: list[str], width: int) -> list[str]:
        """A quoted field whose lines look like whole rows: a closing quote is missing, and the rows it
        holds would never be deposited. (Notes over several lines, with a comma here and there, pass.)"""
        if width < 3 or not self._quoted:
            return []
        found = []
        for index, cell in enumerate(cells):
            if "\n" not in cell:
                continue
            lines = cell.split("\n")
            row_like = sum(1 for text in lines[1:] if text.count(self._delimiter) >= width - 2)
            if row_like >= _SWALLOWED:
                name = self._names[index] if index < width and self._names[index] else f"column {index + 1}"
                found.append(f"{name} holds {len(lines)} lines, {row_like} of which look like whole rows: a closing "
                             "quote is missing, and those rows would be lost; fix the quotes in the file, or pass "
                             "--no-quotes if double quotes in this table are data")
        return found


def _csv_problem(exc: csv.Error, start: int, end: int, delimiter: str) -> str:
    """The message for a row the csv module cannot read; it starts at line ``start`` and broke at ``end``."""
    text = str(exc)
    lines = f"line {start}" if end <= start else f"lines {start}-{end}"
    if "NUL" in text:
        return f"{lines}: holds a NUL byte; is this really a text table (not .xlsx)?"
    if "field larger than field limit" in text or "unexpected end of data" in text or "expected after" in text:
        return (f"{lines}: a quoted field is not closed properly ({text}); a quote opened at line {start} runs "
                "on and would swallow the rows after it; fix the quotes in the file, or pass --no-quotes if "
                "double quotes in this table are data")
    return f"{lines}: unreadable ({text}); check --delimiter {delimiter!r} and the quotes"


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
            raise SourceError(path, "cannot tell the delimiter; pass --delimiter (',' ';' '|' or tab)") from None
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
                raise SourceError(path, f"--column {position}=...: position {position} is outside 1..{width}")
            index = position - 1
        elif not header:
            raise SourceError(path, f"--column {source}=... names a column, but the table has no header line "
                                    "(--no-header); map positions instead, e.g. --column 1=catalogNumber")
        else:
            wanted = str(source).strip()
            matches = [i for i, h in enumerate(raw) if h == wanted] or \
                      [i for i, h in enumerate(raw) if h.lower() == wanted.lower()]
            if not matches:
                raise SourceError(path, f"--column {source}=...: no column {source!r} in the header ({', '.join(raw)})")
            index = matches[0]
        names[index] = simple_name(term)
    taken = [n for n in names if n]
    duplicates = sorted({n for n in taken if taken.count(n) > 1})
    if duplicates:
        raise SourceError(path, f"more than one --column maps to {', '.join(duplicates)}")
    return names
