"""What OAI-PMH harvests: published record versions in keyset pages by (modified, id), never OFFSET.

Every published version is an OAI item (as on Zenodo); its datestamp is its ``modified`` time. A withdrawn
version stays an item, announced as deleted (Zenodo hides deletions from OAI-PMH; standards.md §2). A set is a
community (``user-<slug>``); membership is an accepted inclusion of the record's concept, tested with an
index-backed EXISTS as the community listing does (services/listing.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from depot.repository.services.views import Deposit, load_deposits
from depot.repository.store.db import Database
from depot.repository.store.tables import communities, community_records, deposits


@dataclass(frozen=True)
class Item:
    deposit: Deposit
    is_last: bool
    communities: list[str]  # slugs of accepted inclusions

    @property
    def deleted(self) -> bool:
        """Withdrawn: announced as deleted (deletedRecord "persistent"), without metadata."""
        return self.deposit.withdrawn is not None


class OAIService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _where(self, lower: str | None, upper: str | None, slug: str | None) -> Any:
        cond: list[Any] = [deposits.c.record.is_not(None)]
        if lower is not None:
            cond.append(deposits.c.modified >= lower)
        if upper is not None:
            cond.append(deposits.c.modified < upper)
        if slug is not None:
            cond.append(sa.exists().where(community_records.c.concept_id == deposits.c.concept_id,
                                          community_records.c.status == "accepted",
                                          community_records.c.community_id == communities.c.id,
                                          communities.c.slug == slug))
        return sa.and_(*cond)

    def count(self, lower: str | None, upper: str | None, slug: str | None) -> int:
        with self.db.read() as conn:
            query = sa.select(sa.func.count()).select_from(deposits).where(self._where(lower, upper, slug))
            return int(conn.execute(query).scalar_one())

    def page(self, lower: str | None, upper: str | None, slug: str | None, after: tuple[str, int] | None,
             limit: int) -> list[Item]:
        """Up to ``limit`` items after the keyset position ``after`` = (modified, id), oldest first."""
        where = self._where(lower, upper, slug)
        if after is not None:
            where = sa.and_(where, sa.or_(deposits.c.modified > after[0],
                                          sa.and_(deposits.c.modified == after[0], deposits.c.id > after[1])))
        with self.db.read() as conn:
            found = load_deposits(conn, where, order=(deposits.c.modified, deposits.c.id), limit=limit)
            return self._items(conn, found)

    def get(self, record_id: int) -> Item | None:
        with self.db.read() as conn:
            found = load_deposits(conn, sa.and_(deposits.c.id == record_id, deposits.c.record.is_not(None)))
            items = self._items(conn, found)
        return items[0] if items else None

    def _items(self, conn: sa.Connection, found: list[Deposit]) -> list[Item]:
        """Versions' is_last flags and accepted communities for a whole page in two queries."""
        concepts = sorted({d.concept_id for d in found})
        if not concepts:
            return []
        newest = {r.concept_id: r.newest for r in conn.execute(
            sa.select(deposits.c.concept_id, sa.func.max(deposits.c.version_index).label("newest"))
            .where(deposits.c.concept_id.in_(concepts), deposits.c.record.is_not(None))
            .group_by(deposits.c.concept_id))}
        slugs: dict[int, list[str]] = {c: [] for c in concepts}
        for r in conn.execute(
                sa.select(community_records.c.concept_id, communities.c.slug)
                .join(communities, communities.c.id == community_records.c.community_id)
                .where(community_records.c.concept_id.in_(concepts), community_records.c.status == "accepted")
                .order_by(communities.c.slug)):
            slugs[r.concept_id].append(r.slug)
        return [Item(d, d.version_index == newest.get(d.concept_id), slugs[d.concept_id]) for d in found]

    def sets(self) -> list[tuple[str, str]]:
        """(slug, title) of every community."""
        with self.db.read() as conn:
            return [(r.slug, r.title) for r in
                    conn.execute(sa.select(communities.c.slug, communities.c.title).order_by(communities.c.slug))]

    def earliest(self) -> str | None:
        with self.db.read() as conn:
            value = conn.execute(sa.select(sa.func.min(deposits.c.modified))
                                 .where(deposits.c.record.is_not(None))).scalar()
        return str(value) if value else None
