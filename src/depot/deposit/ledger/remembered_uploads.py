"""The ledger's record of resumable uploads in progress (table ``resumable_uploads``): one URL per file,
written before the first byte is sent, read by the next run, deleted once the file is uploaded."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from depot.deposit.ledger.store import Ledger
from depot.deposit.ledger.tables import resumable_uploads as t


def recall(ledger: Ledger, key: str, name: str, size: int, mtime_ns: int) -> str | None:
    """The URL of this file's upload, if one was started for the same content (size and mtime)."""
    with ledger._read() as conn:
        row = conn.execute(sa.select(t.c.url, t.c.size, t.c.mtime_ns).where(
            t.c.specimen_key == key, t.c.name == name)).first()
    return str(row.url) if row is not None and (row.size, row.mtime_ns) == (size, mtime_ns) else None


def remember(ledger: Ledger, key: str, name: str, url: str, size: int, mtime_ns: int) -> None:
    with ledger._tx() as conn:
        conn.execute(t.delete().where(t.c.specimen_key == key, t.c.name == name))
        conn.execute(t.insert().values(specimen_key=key, name=name, url=url, size=size, mtime_ns=mtime_ns,
                                       created_at=datetime.now(UTC).isoformat()))


def forget(ledger: Ledger, key: str, name: str) -> None:
    with ledger._tx() as conn:
        conn.execute(t.delete().where(t.c.specimen_key == key, t.c.name == name))
