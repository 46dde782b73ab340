"""Deposit actions: publish, edit, discard and newversion, with current Zenodo's state rules (spec §2.6)."""

from __future__ import annotations

import copy
import dataclasses
import logging
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from depot.metadata import FieldError, publish_errors
from depot.repository.errors import GoneError, InvalidStateError, NotFoundError, ValidationError
from depot.repository.services.deposits import DepositService
from depot.repository.services.facets import facet_rows
from depot.repository.services.files import import_files
from depot.repository.services.permissions import Identity
from depot.repository.services.scopes import DEPOSIT_ACTIONS
from depot.repository.services.search import term_rows, write_terms
from depot.repository.services.views import Deposit, load_deposit, load_deposits
from depot.repository.store import statements as st
from depot.repository.store.tables import communities, community_records, deposits, pending_files

NOT_REGISTERED = "The persistent identifier is not registered."
NOT_COMMITTED = "One or more files have not completed their transfer, please wait."
log = logging.getLogger("depot.repository")

# Built once (a Core statement costs more to build than to run on SQLite: store/statements.py).
_PENDING_UPLOAD = sa.select(pending_files.c.key).where(pending_files.c.bucket_id == sa.bindparam("b_bucket")).limit(1)
_PUBLISHED_VERSIONS = sa.select(sa.func.count()).select_from(deposits).where(
    deposits.c.concept_id == sa.bindparam("b_concept"), deposits.c.record.is_not(None))


class ActionService:
    def __init__(self, deposits_service: DepositService) -> None:
        self.deposits = deposits_service
        self.db = deposits_service.db
        self.config = deposits_service.config
        # Called with the published deposit inside the publish transaction (preservation: queue its bag job
        # there, so that the publish and its job commit together); a hook that raises fails the publish.
        self.on_publish: list[Callable[[sa.Connection, Deposit], None]] = []

    def doi_for(self, pid: int) -> str:
        return f"{self.config.doi_prefix}/{self.config.doi_name}.{pid}"

    def publish(self, identity: Identity, deposit_id: int) -> Deposit:
        now = self.deposits.now()
        with self.db.write() as conn:
            deposit = self.deposits.get_owned(conn, identity, deposit_id, DEPOSIT_ACTIONS)
            found = self.publish_in(conn, identity, deposit, now)
            for hook in self.on_publish:
                hook(conn, found)
        return found

    def publish_in(self, conn: sa.Connection, identity: Identity, deposit: Deposit, now: str, *,
                   new: bool = False) -> Deposit:
        """Publish ``deposit`` inside the caller's transaction (bulk ingest publishes many in one); the
        caller runs ``run_on_publish_group`` in the same transaction. ``new``: a deposit the caller created in
        this transaction, a concept's first version with no pending upload (two queries saved).

        Returns the deposit as published, as ``load_deposit`` would read it back in this transaction
        (three queries saved per publish; a test holds the two equal)."""
        if deposit.draft is None:
            raise InvalidStateError(NOT_REGISTERED, 404)  # already published, no open edit
        if not new and conn.execute(_PENDING_UPLOAD, {"b_bucket": deposit.bucket_id}).first():
            raise ValidationError([FieldError("files.enabled", (NOT_COMMITTED,))])
        # A metadata-only record (RDM files.enabled false) needs no file.
        errors = publish_errors(deposit.draft, file_count=len(deposit.files) if deposit.files_enabled else 1)
        if errors:
            raise ValidationError(errors)
        record = dict(deposit.draft)
        doi, version_index = deposit.doi, deposit.version_index
        if doi is None:
            doi = self.doi_for(deposit.id)
            # A concept without a DOI has never been published: this is its first version.
            version_index = 1 if new or deposit.concept_doi is None else 1 + conn.execute(
                _PUBLISHED_VERSIONS, {"b_concept": deposit.concept_id}).scalar_one()
            if deposit.concept_doi is None:
                conn.execute(st.UPDATE_CONCEPT, {"b_id": deposit.concept_id,
                                                 "doi": self.doi_for(deposit.concept_id)})
        record["doi"] = doi
        conn.execute(st.UPDATE_DEPOSIT, {
            "b_id": deposit.id, "draft": None, "record": record, "doi": doi, "version_index": version_index,
            "title": record.get("title", ""), "modified": now, "published": deposit.published or now})
        if new:  # nothing indexed yet: the terms of both scopes and the facets in one insert, no delete
            conn.execute(st.INSERT_TERMS, _new_index_rows(deposit, record))
        else:
            # Scope "deposit" holds the draft's terms, written by every draft change; the record is the draft
            # with its DOI, which is not a term, so they stand unless the two index differently.
            if term_rows(deposit.id, "deposit", deposit.draft) != term_rows(deposit.id, "deposit", record):
                write_terms(conn, deposit.id, "deposit", record)
            if deposit.doi is not None:  # published before: its record terms and facets go first
                conn.execute(st.DELETE_TERMS, {"b_id": deposit.id, "b_scope": "record"})
            conn.execute(st.INSERT_TERMS, term_rows(deposit.id, "record", record) + facet_rows(deposit, record))
        self._include_in_communities(conn, identity, deposit.concept_id, record, now)
        return dataclasses.replace(
            deposit, draft=None, record=record, doi=doi, version_index=version_index, modified=now,
            published=deposit.published or now,
            concept_doi=deposit.concept_doi or self.doi_for(deposit.concept_id))

    def insert_published(self, conn: sa.Connection, identity: Identity, drafts: list[Deposit],
                         now: str) -> list[Deposit]:
        """Insert ``drafts`` (new deposits, each its concept's first version, not yet in the database) as
        ``publish_in(new=True)`` would leave them, with one statement per table for all of them (bulk
        ingest). The caller has checked ``publish_errors`` and ``require_communities``; it inserts the files
        after this, and runs ``run_on_publish_group``. A test holds both paths' rows equal."""
        published = [dataclasses.replace(
            d, draft=None, record={**(d.draft or {}), "doi": self.doi_for(d.id)}, doi=self.doi_for(d.id),
            version_index=1, modified=now, published=now, concept_doi=self.doi_for(d.concept_id)) for d in drafts]
        if not published:
            return []
        conn.execute(st.INSERT_CONCEPT, [{"id": d.concept_id, "owner_id": d.owner_id, "doi": d.concept_doi,
                                          "created": d.created} for d in published])
        conn.execute(st.INSERT_DEPOSIT, [{
            "id": d.id, "concept_id": d.concept_id, "owner_id": d.owner_id, "bucket_id": d.bucket_id,
            "draft": None, "record": d.record, "doi": d.doi, "version_index": 1,
            "title": (d.record or {}).get("title", ""), "created": d.created, "modified": now, "published": now,
            "files_enabled": d.files_enabled} for d in published])
        conn.execute(st.INSERT_TERMS, [row for d in published for row in _new_index_rows(d, d.record or {})])
        for d in published:
            self._include_in_communities(conn, identity, d.concept_id, d.record or {}, now)
        return published

    def run_on_publish_group(self, conn: sa.Connection, published: list[Deposit]) -> None:
        """The publish hooks of deposits ``publish_in`` published in ``conn``'s transaction (bulk ingest: the
        bag job commits with its records, or neither does). A hook with a ``group`` method takes them in one
        call (the bags of a bulk ingest group: one job, one syncfs); another is called once per deposit."""
        for hook in self.on_publish:
            group = getattr(hook, "group", None)
            if group is not None:
                group(conn, published)
            else:
                for deposit in published:
                    hook(conn, deposit)

    def _include_in_communities(self, conn: sa.Connection, identity: Identity, concept_id: int,
                                record: dict[str, Any], now: str) -> None:
        """Owned communities accept at once; others stay pending; unknown ones are ignored, as on Zenodo."""
        slugs = [c.get("identifier") for c in record.get("communities") or [] if isinstance(c, dict)]
        for slug in slugs:
            row = conn.execute(sa.select(communities.c.id, communities.c.owner_id)
                               .where(communities.c.slug == slug)).first()
            if row is None:
                continue
            status = "accepted" if row.owner_id == identity.user_id else "pending"
            exists = conn.execute(sa.select(community_records.c.status).where(
                community_records.c.community_id == row.id, community_records.c.concept_id == concept_id)).first()
            if exists is None:
                conn.execute(community_records.insert().values(community_id=row.id, concept_id=concept_id,
                                                               status=status, created=now))

    def edit(self, identity: Identity, deposit_id: int) -> Deposit:
        with self.db.write() as conn:
            deposit = self.deposits.get_owned(conn, identity, deposit_id, DEPOSIT_ACTIONS)
            if deposit.record is None:
                raise InvalidStateError(NOT_REGISTERED, 404)
            if deposit.withdrawn is not None:
                raise GoneError(deposit)
            if deposit.draft is None:  # a second edit returns the open draft again (201), as current Zenodo
                conn.execute(st.UPDATE_DEPOSIT, {"b_id": deposit.id, "draft": copy.deepcopy(deposit.record),
                                                 "modified": self.deposits.now()})
            found = load_deposit(conn, deposit.id)
        assert found is not None
        return found

    def discard(self, identity: Identity, deposit_id: int) -> None:
        """Current Zenodo routes discard to ``delete_draft``: it deletes a never-published deposit."""
        self.deposits.delete(identity, deposit_id, DEPOSIT_ACTIONS)

    def new_version(self, identity: Identity, deposit_id: int, *, with_files: bool = True) -> Deposit:
        """A new-version draft of a published record; the legacy action imports the files (as current
        Zenodo's legacy layer does), the RDM ``POST /versions`` does not (``with_files=False``)."""
        now = self.deposits.now()
        with self.db.write() as conn:
            deposit = self.deposits.get_owned(conn, identity, deposit_id, DEPOSIT_ACTIONS)
            if deposit.record is None:
                raise NotFoundError(NOT_REGISTERED)
            if deposit.withdrawn is not None:  # a takedown is not undone by a new version
                raise GoneError(deposit)
            pending = load_deposits(conn, sa.and_(deposits.c.concept_id == deposit.concept_id,
                                                  deposits.c.record.is_(None)))
            if pending:
                # One unpublished new-version draft per concept: return it, re-importing files only
                # when it has none (current Zenodo: new_version returns it, import_files refuses).
                draft = pending[0]
                if with_files:
                    if draft.files:
                        raise ValidationError([FieldError("files.enabled", ("Please remove all files first.",))])
                    import_files(conn, deposit.bucket_id, draft.bucket_id, now)
                new_id = draft.id
            else:
                new_id = self.deposits.allocate_pid(conn, "record")
                metadata = {k: v for k, v in copy.deepcopy(deposit.record).items()
                            if k not in {"doi", "publication_date", "version", "prereserve_doi"}}
                bucket_id = str(uuid.uuid4())
                conn.execute(st.INSERT_DEPOSIT, {
                    "id": new_id, "concept_id": deposit.concept_id, "owner_id": deposit.owner_id,
                    "bucket_id": bucket_id, "draft": metadata, "record": None, "title": metadata.get("title", ""),
                    "created": now, "modified": now})
                write_terms(conn, new_id, "deposit", metadata)
                if with_files:
                    import_files(conn, deposit.bucket_id, bucket_id, now)
            found = load_deposit(conn, new_id)
        assert found is not None
        return found


def _new_index_rows(deposit: Deposit, record: dict[str, Any]) -> list[dict[str, Any]]:
    """A first version's search terms (both scopes) and facets: never empty (every version has an
    access_status facet)."""
    rows = term_rows(deposit.id, "deposit", record) + term_rows(deposit.id, "record", record)
    return rows + facet_rows(deposit, record)
