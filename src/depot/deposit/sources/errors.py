"""The one error a source raises: its input cannot be read at all.

Anything that concerns a single specimen (no key, a missing image, a short row) is not an error: it is
recorded in that specimen's ``problems`` and the source carries on.
"""

from __future__ import annotations

from pathlib import Path

from depot.deposit.errors import DepotError


class SourceError(DepotError):
    """Raised when a dataset cannot be opened or read on: a missing path, a file that is not an archive
    or table, a malformed or unreadable ``meta.xml``, no core file, no key column, bad options, or a row
    that the archive reader cannot get past.

    ``path`` is the file or directory at fault, ``reason`` says what is wrong with it, and ``row`` is the
    1-based data row (header lines not counted) when the failure is tied to one.
    """

    def __init__(self, path: str | Path, reason: str, *, row: int | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        self.row = row
        where = self.path if row is None else f"{self.path}, row {row}"
        super().__init__(f"{where}: {reason}")
