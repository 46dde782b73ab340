"""Usage events of published records: one insert per counted access, COUNTER counts computed on read."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from weakref import WeakKeyDictionary

import sqlalchemy as sa

from depot.repository.services.views import Deposit
from depot.repository.store.db import Database
from depot.repository.store.keyfiles import load_or_create
from depot.repository.store.tables import usage_events
from depot.repository.usage import counter

SALT_FILE = "usage-salt"
CACHED_CONCEPTS = 10_000
# Counts per database (a test may run several), per concept; the lock guards the tallies, which change in place.
_LOCK = threading.Lock()
_CACHE: WeakKeyDictionary[Database, OrderedDict[int, _Cached]] = WeakKeyDictionary()


@lru_cache(maxsize=16)
def load_salt(data_dir: Path) -> bytes:
    """The secret that keys session hashes, created once per data directory (processes sharing it agree)."""
    return load_or_create(data_dir / SALT_FILE)


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

    def events(self, concept_id: int, *, after: int = 0) -> list[tuple[int, counter.Event]]:
        """(id, event) of the concept's events with an id above ``after``, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(usage_events).where(usage_events.c.concept_id == concept_id,
                                                              usage_events.c.id > after)
                                .order_by(usage_events.c.id)).all()
        return [(r.id, counter.Event(at=datetime.fromisoformat(r.at), kind=r.kind, record_id=r.record_id,
                                     concept_id=r.concept_id, session=r.session, item=r.item)) for r in rows]

    def stats(self, deposit: Deposit) -> dict[str, int]:
        """The records API ``stats`` of one version (its own counts and its concept's).

        Counts are kept per concept and only events newer than the last one seen are folded in, so a
        popular record is not recounted from scratch on every view. Ids follow commit order on SQLite
        (writes are serialised); on PostgreSQL a lower id can commit after a higher one was seen, so
        there the number of events is compared too. A mismatch, or an event older than one already
        counted, means a recount.
        """
        concept = deposit.concept_id
        with _LOCK:
            cached = _CACHE.setdefault(self.db, OrderedDict()).get(concept)
        if cached is None:
            return self._recount(concept).stats(deposit.id)
        fresh = sorted(self.events(concept, after=cached.last_id), key=lambda pair: pair[1].at)
        if not fresh:
            with _LOCK:
                return cached.tally.stats(deposit.id)
        if (not self.db.is_sqlite and self._rows(concept) != cached.rows + len(fresh)) \
                or not cached.tally.in_order(fresh[0][1]):
            return self._recount(concept).stats(deposit.id)
        with _LOCK:
            if cached.last_id < min(i for i, _ in fresh):  # no concurrent request folded these in meanwhile
                for _, event in fresh:
                    cached.tally.add(event)
                cached.last_id = max(i for i, _ in fresh)
                cached.rows += len(fresh)
            return cached.tally.stats(deposit.id)

    def _rows(self, concept_id: int) -> int:
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(usage_events)
                                    .where(usage_events.c.concept_id == concept_id)).scalar_one())

    def _recount(self, concept_id: int) -> counter.Tally:
        pairs = self.events(concept_id)
        entry = _Cached(last_id=max((i for i, _ in pairs), default=0), rows=len(pairs),
                        tally=counter.tally(e for _, e in pairs))
        with _LOCK:
            cache = _CACHE.setdefault(self.db, OrderedDict())
            cache[concept_id] = entry
            cache.move_to_end(concept_id)
            if len(cache) > CACHED_CONCEPTS:
                cache.popitem(last=False)
            return entry.tally


@dataclass
class _Cached:
    last_id: int
    rows: int
    tally: counter.Tally


def usage_service(db: Database, data_dir: Path, clock: Callable[[], datetime]) -> UsageService:
    """The service for one repository; cheap to build per request (the salt is read once per data directory)."""
    return UsageService(db, load_salt(data_dir), clock)


def counts_as_access(method: str, range_header: str | None) -> bool:
    """COUNTER counts full answers (200/304): not HEAD, not a partial request for the middle of a file."""
    if method != "GET":
        return False
    return range_header is None or range_header.replace(" ", "").startswith("bytes=0-")
