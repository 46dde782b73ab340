"""Pre-flight checks of files (pure but for reading a file's first bytes): existence, size, format.

This is the quick look; ``depot.deposit.images`` decodes the file, reads its barcodes and caches the verdict.

Preservation-friendly formats, after the seed report §6: TIFF, PNG and JPEG 2000 are preferred; JPEG
is accepted with a note (lossy); anything else is flagged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from depot.deposit.images.formats import SIGNATURES, sniff  # the one list of signatures

__all__ = ["ACCEPTED_WITH_NOTE", "PREFERRED", "SIGNATURES", "FileFinding", "inspect", "md5_of", "sniff"]

PREFERRED = {"tiff", "png", "jp2", "j2k"}
ACCEPTED_WITH_NOTE = {"jpeg": "JPEG is lossy: keep a TIFF, PNG or JPEG 2000 master too (seed §6)"}


@dataclass(frozen=True)
class FileFinding:
    kind: str  # "missing", "empty", "unreadable", "unknown-format", "note"
    message: str


def inspect(path: str, name: str) -> tuple[int | None, str | None, list[FileFinding]]:
    """(size, detected format, findings) for one file."""
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        return None, None, [FileFinding("missing", f"{name}: no such file {path}")]
    except OSError as exc:
        return None, None, [FileFinding("unreadable", f"{name}: {exc.strerror}")]
    if size == 0:
        return 0, None, [FileFinding("empty", f"{name}: the file is empty (the repository refuses empty files)")]
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        return size, None, [FileFinding("unreadable", f"{name}: {exc.strerror}")]
    fmt = sniff(head)
    if fmt is None:
        return size, None, [FileFinding("unknown-format", f"{name}: not a TIFF, PNG, JPEG 2000 or JPEG image")]
    if fmt in ACCEPTED_WITH_NOTE:
        return size, fmt, [FileFinding("note", f"{name}: {ACCEPTED_WITH_NOTE[fmt]}")]
    return size, fmt, []


def md5_of(path: str) -> str:
    """The MD5 of a local file, read in 1 MiB chunks (what Zenodo reports as a file's checksum)."""
    import hashlib

    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
