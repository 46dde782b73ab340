"""Which text encoding a table is in: UTF-8 (with or without a byte-order mark), UTF-16 with a mark, or
cp1252 (the Windows "ANSI" of Excel exports in Western Europe), told apart by reading the whole file once.

Reading the whole file costs one pass at disk speed (UTF-8 decodes at about 1 GB/s), and is the only
way to be sure: a single "å" at row 50,000 is enough to make a UTF-8 reading fail half-way through a run.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from depot.deposit.sources.errors import SourceError

_BLOCK = 1 << 20
_NOT_TEXT = ((b"PK\x03\x04", "a zip file (an Excel .xlsx or OpenDocument .ods workbook?)"),
             (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook"), (b"%PDF", "a PDF document"))


def check_encoding_name(path: Path, encoding: str) -> str:
    """The encoding's canonical name; SourceError naming ``--encoding`` for a name Python does not know."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise SourceError(path, f"--encoding {encoding!r} is not an encoding name (try utf-8, cp1252, latin-1 "
                                "or utf-16)") from None


def first_bad_bytes(path: Path, encoding: str) -> tuple[int, int, str] | None:
    """(1-based line, byte offset, reason) of the first bytes that do not decode, or None if all do."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line, offset = 1, 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                start = max(exc.start, 0)
                return line + block.count(b"\n", 0, start), offset + start, exc.reason
            line += block.count(b"\n")
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return line, offset, exc.reason
    return None


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` (UTF-8, with or without a mark), ``utf-16`` (with a mark) or ``cp1252``.

    Raises SourceError naming the file, the line and ``--encoding`` when the text is none of these.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
        for magic, what in _NOT_TEXT:
            if head.startswith(magic):
                raise SourceError(path, f"this is {what}, not a text table; save it as CSV (UTF-8) and pass that")
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not head.startswith(codecs.BOM_UTF32_LE):
            return "utf-16"
        bad = first_bad_bytes(path, "utf-8-sig")
        if bad is None:
            return "utf-8-sig"
        if first_bad_bytes(path, "cp1252") is None:
            return "cp1252"
    except OSError as exc:
        raise SourceError(path, f"cannot read the table: {exc}") from exc
    line, offset, reason = bad
    raise SourceError(path, f"line {line}: the text is neither UTF-8 (byte {offset}: {reason}) nor cp1252; "
                            "pass the file's encoding with --encoding, e.g. --encoding latin-1")
