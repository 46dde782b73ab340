"""The public records API: read a published record, search records, versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from depot.metadata import FieldError
from depot.repository.errors import NotFoundError, ValidationError
from depot.repository.services.deposits import MAX_WINDOW, DepositService, _order
from depot.repository.services.facets import aggregate, filtered, mark_selected
from depot.repository.services.permissions import Identity, can_read_record
from depot.repository.services.search import compile_query
from depot.repository.services.views import LIVE, Deposit, latest_of_concept, load_deposit, load_deposits
from depot.repository.store.tables import communities, community_records, concepts, deposits


@dataclass(frozen=True)
class RecordSearch:
    q: str | None = None
    communities: str | None = None
    sort: str | None = None
    page: int = 1
    size: int = 10
    all_versions: bool = False
    # {facet: values}: a hit has one of each facet's values (services.facets.parse_filters).
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    hits: list[Deposit]
    total: int
    aggregations: dict[str, Any] = field(default_factory=dict)


class RecordService:
    def __init__(self, deposits_service: DepositService) -> None:
        self.deposits = deposits_service
        self.db = deposits_service.db

    def read(self, record_id: int) -> Deposit:
        with self.db.read() as conn:
            return can_read_record(load_deposit(conn, record_id))

    def latest(self, record_id: int) -> Deposit:
        """The newest published version of the record's concept (a concept id resolves too)."""
        with self.db.read() as conn:
            concept = conn.execute(sa.select(deposits.c.concept_id).where(deposits.c.id == record_id)).scalar()
            if concept is None:
                concept = record_id
            found = load_deposits(conn, sa.and_(deposits.c.concept_id == concept, LIVE),
                                  order=(deposits.c.version_index.desc(),), limit=1)
        if not found:
            raise NotFoundError()
        return found[0]

    def concept_latest(self, concept_id: int) -> Deposit:
        """The newest published version of concept ``concept_id`` (a concept id only: a record id is 404)."""
        with self.db.read() as conn:
            found = load_deposits(conn, sa.and_(deposits.c.concept_id == concept_id, LIVE),
                                  order=(deposits.c.version_index.desc(),), limit=1)
        if not found:
            raise NotFoundError()
        return found[0]

    def version_position(self, deposit: Deposit) -> tuple[int, bool]:
        """(versions.index, is_latest) of a deposit: a draft's index is the one its publish will give; a
        record is latest when no newer version is published, a draft when no newer deposit exists."""
        with self.db.read() as conn:
            if deposit.version_index is not None:
                newer = conn.execute(sa.select(deposits.c.id).where(
                    deposits.c.concept_id == deposit.concept_id, deposits.c.record.is_not(None),
                    deposits.c.version_index > deposit.version_index).limit(1)).first()
                return deposit.version_index, newer is None
            published = conn.execute(sa.select(sa.func.count()).select_from(deposits).where(
                deposits.c.concept_id == deposit.concept_id, deposits.c.record.is_not(None))).scalar_one()
            newer = conn.execute(sa.select(deposits.c.id).where(
                deposits.c.concept_id == deposit.concept_id, deposits.c.id > deposit.id).limit(1)).first()
        return int(published) + 1, newer is None

    def minted(self, doi: str) -> bool:
        """Whether ``doi`` is one this repository minted for a published version or a concept."""
        with self.db.read() as conn:
            version = conn.execute(sa.select(deposits.c.id).where(
                deposits.c.doi == doi, deposits.c.record.is_not(None)).limit(1)).first()
            return version is not None or conn.execute(
                sa.select(concepts.c.id).where(concepts.c.doi == doi).limit(1)).first() is not None

    def versions(self, record_id: int) -> list[Deposit]:
        """The published versions of the record's concept; the id of a new version's draft names its
        concept too (its RDM ``links.versions``). 404 when none is published."""
        with self.db.read() as conn:
            row = load_deposit(conn, record_id)
            if row is not None and row.withdrawn is not None:
                can_read_record(row)  # 410 for a withdrawn version, as before
            concept = row.concept_id if row is not None else None
            found = [] if concept is None else load_deposits(
                conn, sa.and_(deposits.c.concept_id == concept, LIVE), order=(deposits.c.version_index.asc(),))
        if not found:
            raise NotFoundError()
        return found

    def search(self, identity: Identity, params: RecordSearch) -> Page:
        cap = 100 if identity.authenticated else 25
        if params.size > cap:
            message = (f"Page size cannot be greater than {cap}." if cap == 100 else
                       "Page size cannot be greater than 25. Please use authenticated requests to increase "
                       "the limit to 100.")
            raise ValidationError([FieldError("size", (message,))])
        if params.size < 1 or params.page < 1 or params.page * params.size > MAX_WINDOW:
            raise ValidationError(message="Invalid querystring parameters.")
        where = sa.and_(LIVE, compile_query(params.q, "record"), self.deposits.indexed())
        if not params.all_versions:
            where = sa.and_(where, latest_of_concept(published_only=True))
        if params.communities:
            # Unknown communities are ignored, as on current Zenodo (LegacyCommunitiesParam).
            members = (sa.select(community_records.c.concept_id)
                       .join(communities, communities.c.id == community_records.c.community_id)
                       .where(sa.or_(communities.c.slug == params.communities, communities.c.id == params.communities),
                              community_records.c.status == "accepted"))
            known = self._community_exists(params.communities)
            if known:
                where = sa.and_(where, deposits.c.concept_id.in_(members))
        if params.filters:
            where = sa.and_(where, filtered(params.filters))
        with self.db.read() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(deposits).where(where)).scalar_one()
            hits = load_deposits(conn, where, order=_order(params.sort), limit=params.size,
                                 offset=(params.page - 1) * params.size)
            matching = sa.select(deposits.c.id).select_from(
                deposits.join(concepts, concepts.c.id == deposits.c.concept_id)).where(where)
            aggregations = mark_selected(aggregate(conn, matching), params.filters)
        return Page(hits, int(total), aggregations)

    def _community_exists(self, ident: str) -> bool:
        with self.db.read() as conn:
            return conn.execute(sa.select(communities.c.id).where(
                sa.or_(communities.c.slug == ident, communities.c.id == ident))).first() is not None

    def withdraw(self, record_id: int, reason: str, *, concept: bool = False) -> list[int]:
        """Withdraw a published record (or every version of its concept): an operator's takedown.

        The row and the files stay (the bags too): the DOI must keep resolving, to a tombstone that says
        why. ``modified`` moves, so incremental OAI-PMH harvesters see the deletion. Returns the ids.
        """
        if not reason.strip():
            raise ValidationError([FieldError("reason", ("A withdrawal needs a reason (it is shown on the "
                                                         "tombstone).",))])
        now = self.deposits.now()
        with self.db.write() as conn:
            record = load_deposit(conn, record_id)
            if record is None or record.record is None:
                raise NotFoundError()
            where = deposits.c.concept_id == record.concept_id if concept else deposits.c.id == record_id
            ids = list(conn.execute(sa.select(deposits.c.id).where(
                where, deposits.c.record.is_not(None), deposits.c.withdrawn.is_(None))).scalars())
            if ids:
                conn.execute(deposits.update().where(deposits.c.id.in_(ids)).values(
                    withdrawn=now, withdrawal_reason=reason.strip(), modified=now))
        return ids

    def communities_of(self, concept_id: int) -> list[tuple[str, str]]:
        """(slug, status) of each community the concept was submitted to."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(communities.c.slug, community_records.c.status)
                                .join(communities, communities.c.id == community_records.c.community_id)
                                .where(community_records.c.concept_id == concept_id)).all()
        return [(r.slug, r.status) for r in rows]
