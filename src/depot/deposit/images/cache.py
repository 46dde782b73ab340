"""The image check's results kept in the ledger (table ``file_checks``), so that a rerun or a sync never
decodes a file twice. A result holds only while the file is the same (size and mtime to the nanosecond,
as rsync and git judge it), for the same specimen key, file name and rules (the rules' hash covers the
checker's version and the barcode reader's)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from depot.deposit.images.barcodes import reader_version
from depot.deposit.images.results import FileCheck
from depot.deposit.images.rules import ImageRules

if TYPE_CHECKING:  # SQLAlchemy is imported where the table is used: the image checkers' processes import
    import sqlalchemy as sa  # this package and never the ledger (150 ms of each one's start)

# Raise when check_file() would judge the same file differently. 2: a TIFF cut short is damage.
CHECKER_VERSION = "2"


def rules_hash(rules: ImageRules) -> str:
    """The hash a cached result is filed under: the rules, the checker's and the barcode reader's version."""
    text = f"{rules.digest()}|{CHECKER_VERSION}|{reader_version()}"
    return hashlib.sha256(text.encode()).hexdigest()


def _row_id(path: str, name: str, key: str, digest: str) -> str:
    return hashlib.sha256("\x00".join((path, name, key, digest)).encode()).hexdigest()


PUT_BATCH = 64  # results written in one transaction: planning beside a deposit takes the ledger's lock rarely


class FileCheckCache:
    """``get`` and ``put`` FileCheck results in a migrated ledger database (see depot.deposit.ledger).

    Results are written in batches (``flush`` writes the rest; FileChecker.close calls it): a result lost
    in a crash before its batch is written only means the file is checked again."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._pending: dict[str, dict[str, Any]] = {}  # row id -> the row to write
        self._select: sa.Select[Any] | None = None  # built once: planning asks once per file of every record
        # Whether the table held any result when first asked. If not (a ledger's first run), every row in it
        # was written by this cache, for a file it has already checked: a lookup could only miss, so none
        # is made (one SQL query per file was 0.3 ms of the planner's CPU per record). A miss is always
        # safe: the file is checked again.
        self._stored: bool | None = None

    def get(self, path: str, name: str, key: str, size: int, mtime_ns: int, digest: str) -> FileCheck | None:
        """The stored result for this file, or None when there is none for this very file and rules."""
        import sqlalchemy as sa

        from depot.deposit.ledger.tables import file_checks  # here: the ledger imports this package's formats

        waiting = self._pending.get(_row_id(path, name, key, digest))
        if waiting is not None and waiting["size"] == size and waiting["mtime_ns"] == mtime_ns:
            return FileCheck.from_json(waiting["result"])

        if self._stored is None:
            with self.engine.connect() as conn:
                self._stored = conn.execute(sa.select(file_checks.c.id).limit(1)).first() is not None
        if not self._stored:
            return None
        if self._select is None:
            self._select = sa.select(file_checks.c.size, file_checks.c.mtime_ns, file_checks.c.result).where(
                file_checks.c.id == sa.bindparam("row_id"))
        with self.engine.connect() as conn:  # a read: nothing to commit
            row = conn.execute(self._select, {"row_id": _row_id(path, name, key, digest)}).first()
        if row is None or row.size != size or row.mtime_ns != mtime_ns:
            return None
        try:
            return FileCheck.from_json(row.result)
        except (KeyError, TypeError):  # written by another version: check again
            return None

    def put(self, key: str, result: FileCheck, digest: str) -> None:
        """Store ``result`` (replacing the file's earlier one); a result without size or mtime (the file was
        missing) is not stored."""
        if result.size is None or result.mtime_ns is None:
            return

        row_id = _row_id(result.path, result.name, key, digest)
        self._pending[row_id] = {
            "id": row_id, "path": result.path, "name": result.name, "specimen_key": key, "rules_hash": digest,
            "size": result.size, "mtime_ns": result.mtime_ns, "result": result.to_json(),
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds")}
        if len(self._pending) >= PUT_BATCH:
            self._write()

    def flush(self) -> None:
        """Write the results not yet written, at the end of a pass (FileChecker.close): the next lookup
        asks the table again whether it holds anything."""
        self._write()
        self._stored = None

    def _write(self) -> None:
        """Write the results not yet written (each replaces the file's earlier one)."""
        if not self._pending:
            return
        import sqlalchemy as sa

        from depot.deposit.ledger.tables import file_checks

        rows, self._pending = list(self._pending.values()), {}
        with self.engine.begin() as conn:
            conn.execute(sa.delete(file_checks).where(file_checks.c.id.in_([r["id"] for r in rows])))
            conn.execute(sa.insert(file_checks), rows)
