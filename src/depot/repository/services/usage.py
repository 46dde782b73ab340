"""Usage events of published records: one insert per counted access, COUNTER counts computed on read."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

from depot.repository.services.views import Deposit
from depot.repository.store.db import Database
from depot.repository.store.tables import usage_events
from depot.repository.usage import counter

SALT_FILE = "usage-salt"


@lru_cache(maxsize=16)
def load_salt(data_dir: Path) -> bytes:
    """The secret that keys session hashes, created once per data directory (processes sharing it agree)."""
    path = data_dir / SALT_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_bytes(32))
    return path.read_bytes()


class UsageService:
    def __init__(self, db: Database, salt: bytes, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.salt = salt
        self.clock = clock

    def record(self, kind: str, deposit: Deposit, *, item: str, ip: str, user_agent: str) -> bool:
        """Store one access unless a robot or script made it; True when it was stored."""
        if not counter.is_counted_agent(user_agent):
            return False
        at = self.clock()
        with self.db.write() as conn:
            conn.execute(usage_events.insert().values(
                at=at.isoformat(), kind=kind, record_id=deposit.id, concept_id=deposit.concept_id,
                session=counter.session_id(self.salt, ip, user_agent, at), item=item[:255]))
        return True

    def events(self, concept_id: int) -> list[counter.Event]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(usage_events).where(usage_events.c.concept_id == concept_id)
                                .order_by(usage_events.c.id)).all()
        return [counter.Event(at=datetime.fromisoformat(r.at), kind=r.kind, record_id=r.record_id,
                              concept_id=r.concept_id, session=r.session, item=r.item) for r in rows]

    def stats(self, deposit: Deposit) -> dict[str, int]:
        """The records API ``stats`` of one version (its own counts and its concept's)."""
        return counter.stats(self.events(deposit.concept_id), deposit.id)


def usage_service(db: Database, data_dir: Path, clock: Callable[[], datetime]) -> UsageService:
    """The service for one repository; cheap to build per request (the salt is read once per data directory)."""
    return UsageService(db, load_salt(data_dir), clock)


def counts_as_access(method: str, range_header: str | None) -> bool:
    """COUNTER counts full answers (200/304): not HEAD, not a partial request for the middle of a file."""
    if method != "GET":
        return False
    return range_header is None or range_header.replace(" ", "").startswith("bytes=0-")
