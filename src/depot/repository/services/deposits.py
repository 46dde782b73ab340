"""The legacy deposit API's service: create, read, update, delete and list depositions.

Actions (publish, edit, discard, newversion) live in ``actions.py``; file operations in ``files.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from depot.metadata import FieldError, MetadataError, normalize
from depot.repository.config import RepositoryConfig
from depot.repository.errors import InvalidStateError, NotFoundError, ValidationError
from depot.repository.services.legacy import apply_legacy_defaults
from depot.repository.services.limits import check_limits
from depot.repository.services.orphans import delete_bucket_objects
from depot.repository.services.permissions import Identity, can_manage, require_user
from depot.repository.services.richtext import sanitize_stored
from depot.repository.services.scopes import DEPOSIT_WRITE
from depot.repository.services.search import compile_query, term_rows, write_terms
from depot.repository.services.uow import UnitOfWork, unit_of_work
from depot.repository.services.views import Deposit, latest_of_concept, load_deposit, load_deposits, utcnow_iso
from depot.repository.store import statements as st
from depot.repository.store.blobs import StoredBlob
from depot.repository.store.db import Database
from depot.repository.store.storage import Storage
from depot.repository.store.tables import communities, concepts, deposits, pids

MAX_WINDOW = 10_000  # Zenodo's search window: page * size may not pass it


@dataclass(frozen=True)
class ListParams:
    q: str | None = None
    status: str | None = None
    sort: str | None = None
    page: int = 1
    size: int = 25
    all_versions: bool = False


class DepositService:
    """Depositions of the legacy API; every method takes the caller's identity first."""

    def __init__(self, db: Database, config: RepositoryConfig, clock: Callable[[], datetime],
                 blobs: Storage) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.blobs = blobs  # content a delete leaves unreferenced goes once the transaction has committed

    # -- helpers shared with the other services -------------------------------------------------
    def now(self) -> str:
        return utcnow_iso(self.clock())

    def today(self) -> date:
        return self.clock().date()

    def get_owned(self, conn: sa.Connection, identity: Identity, deposit_id: int,
                  scope: str | None = None) -> Deposit:
        """The caller's deposit; ``scope``: the token scope the change needs (None for a read)."""
        return can_manage(identity, load_deposit(conn, deposit_id), scope)

    def normalize_body(self, body: object, *, required: bool) -> dict[str, Any] | None:
        """The ``metadata`` of a create/update body, normalised; None when absent and not required."""
        if body is None or body == b"":
            body = {}
        if not isinstance(body, dict):
            raise ValidationError([FieldError("_schema", ("Invalid input type.",))])
        unknown = [k for k in body if k != "metadata"]
        if unknown:
            raise ValidationError([FieldError(k, ("Unknown field.",)) for k in unknown])
        if "metadata" not in body:
            if required:
                raise ValidationError([FieldError("metadata", ("Missing data for required field.",))])
            return None
        check_limits(body["metadata"])
        try:
            normalized: dict[str, Any] = normalize(body["metadata"], today=self.today())
        except MetadataError as exc:
            raise ValidationError(exc.errors, exc.message) from exc
        if isinstance(normalized.get("description"), str):  # Zenodo keeps a limited HTML; so do we
            normalized["description"] = sanitize_stored(normalized["description"])
        return apply_legacy_defaults(normalized)

    def unit_of_work(self, *, written: Sequence[StoredBlob] = ()) -> AbstractContextManager[UnitOfWork]:
        """A write transaction whose file content follows its outcome (``services/uow.py``)."""
        return unit_of_work(self.db, self.blobs, written=written)

    def allocate_pid(self, conn: sa.Connection, kind: str) -> int:
        return int(conn.execute(st.INSERT_PID, {"kind": kind}).inserted_primary_key[0])  # type: ignore[index]

    def allocate_pids(self, conn: sa.Connection, kinds: list[str]) -> list[int]:
        """One new pid per kind, in order, with one statement (RETURNING in the parameters' order)."""
        if not kinds:
            return []
        rows = conn.execute(st.INSERT_PID.returning(pids.c.id, sort_by_parameter_order=True),
                            [{"kind": kind} for kind in kinds])
        return [int(row[0]) for row in rows]

    # -- CRUD -------------------------------------------------------------------------------------
    def create(self, identity: Identity, body: object, *, files_enabled: bool = True) -> Deposit:
        user_id = require_user(identity, DEPOSIT_WRITE)
        metadata = self.normalize_body(body, required=False) or {}
        now = self.now()
        with self.db.write() as conn:
            require_communities(conn, metadata)
            # two single inserts: one with RETURNING for both took SQLAlchemy 2.7 times as long (py-spy)
            concept_id = self.allocate_pid(conn, "concept")
            deposit_id = self.allocate_pid(conn, "record")
            created = Deposit(deposit_id, concept_id, user_id, str(uuid.uuid4()), draft=metadata, record=None,
                              doi=None, concept_doi=None, version_index=None, created=now, modified=now,
                              published=None, files=(), files_enabled=files_enabled)
            conn.execute(st.INSERT_CONCEPT, {"id": concept_id, "owner_id": user_id, "created": now})
            conn.execute(st.INSERT_DEPOSIT, {
                "id": deposit_id, "concept_id": concept_id, "owner_id": user_id, "bucket_id": created.bucket_id,
                "draft": metadata, "record": None, "title": metadata.get("title", ""), "created": now,
                "modified": now, "files_enabled": files_enabled})
            rows = term_rows(deposit_id, "deposit", metadata)
            if rows:  # a new deposit has no terms to clear
                conn.execute(st.INSERT_TERMS, rows)
        # Built, not read back (two queries saved per create): a test holds it equal to load_deposit's.
        return created

    def read(self, identity: Identity, deposit_id: int) -> Deposit:
        with self.db.read() as conn:
            return self.get_owned(conn, identity, deposit_id)

    def update(self, identity: Identity, deposit_id: int, body: object, *, files_enabled: bool | None = None,
               keep: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> Deposit:
        """Replace the open draft's metadata; ``keep`` returns what of the old draft the new one carries
        (the RDM API keeps the fields RDM JSON cannot express), ``files_enabled`` sets metadata-only."""
        metadata = self.normalize_body(body, required=True) or {}
        with self.db.write() as conn:
            deposit = self.get_owned(conn, identity, deposit_id, DEPOSIT_WRITE)
            if deposit.draft is None:
                # Current Zenodo: a published deposit without an open edit answers PUT with 404.
                raise InvalidStateError("The persistent identifier is not registered.", 404)
            if keep is not None:
                metadata.update(keep(deposit.draft))
            require_communities(conn, metadata)
            if deposit.doi:
                metadata["doi"] = deposit.doi  # a minted DOI cannot be changed by an edit
            values: dict[str, Any] = {"b_id": deposit_id, "draft": metadata, "title": metadata.get("title", ""),
                                      "modified": self.now()}
            if files_enabled is not None and files_enabled != deposit.files_enabled:
                if not files_enabled and deposit.files:
                    raise ValidationError([FieldError("files.enabled", (
                        "You must first delete all files to set the record to be metadata-only.",))])
                values["files_enabled"] = files_enabled
            conn.execute(st.UPDATE_DEPOSIT, values)
            write_terms(conn, deposit_id, "deposit", metadata)
            found = load_deposit(conn, deposit_id)
        assert found is not None
        return found

    def delete(self, identity: Identity, deposit_id: int, scope: str = DEPOSIT_WRITE) -> None:
        """Delete a never-published deposit, or drop the open draft of a published one.

        Content no other version shares is deleted once the transaction has committed. Current Zenodo
        routes DELETE and discard alike (to ``delete_draft``); only the token scope differs (discard is an
        action).
        """
        with self.unit_of_work() as work:
            conn = work.conn
            deposit = self.get_owned(conn, identity, deposit_id, scope)
            if deposit.draft is None:
                raise NotFoundError()
            if deposit.record is not None:
                conn.execute(st.UPDATE_DEPOSIT, {"b_id": deposit_id, "draft": None,
                                                 "title": deposit.record.get("title", ""), "modified": self.now()})
                write_terms(conn, deposit_id, "deposit", deposit.record)
                return
            delete_bucket_objects(work, deposit.bucket_id)
            conn.execute(deposits.delete().where(deposits.c.id == deposit_id))
            others = conn.execute(sa.select(sa.func.count()).select_from(deposits)
                                  .where(deposits.c.concept_id == deposit.concept_id)).scalar_one()
            if not others:
                conn.execute(concepts.delete().where(concepts.c.id == deposit.concept_id))

    def list(self, identity: Identity, params: ListParams) -> list[Deposit]:
        user_id = require_user(identity)
        if params.size > 100:
            raise ValidationError([FieldError("size", ("Page size cannot be greater than 100.",))])
        if params.size < 1 or params.page < 1 or params.page * params.size > MAX_WINDOW:
            raise ValidationError(message="Invalid querystring parameters.")
        where = sa.and_(deposits.c.owner_id == user_id, compile_query(params.q, "deposit"))
        if params.status == "draft":
            where = sa.and_(where, deposits.c.draft.is_not(None))
        elif params.status == "published":
            where = sa.and_(where, deposits.c.record.is_not(None))
        if not params.all_versions:
            # Only the newest version of each concept (a concept's open new-version draft counts).
            where = sa.and_(where, latest_of_concept(published_only=False))
        where = sa.and_(where, self.indexed())
        with self.db.read() as conn:
            return load_deposits(conn, where, order=_order(params.sort), limit=params.size,
                                 offset=(params.page - 1) * params.size)

    def indexed(self) -> Any:
        """WHERE clause: what the search index has caught up with (``search_lag_seconds``; all when 0).

        Zenodo lists and searches from an index that trails writes, so a deposition created a moment ago
        is not listed yet: a depositor must not take "not found" for "not created" (research/zenodo-api.md)."""
        lag = self.config.search_lag_seconds
        if lag <= 0:
            return sa.true()
        return deposits.c.created <= utcnow_iso(self.clock() - timedelta(seconds=lag))


# Sort options: (column, newest-first?) — a leading "-" flips the direction, as in legacy Zenodo where
# "mostrecent" is newest first and "-mostrecent" oldest first.
_SORTS = {
    "mostrecent": (deposits.c.created, True), "bestmatch": (deposits.c.created, True),
    "newest": (deposits.c.created, True), "oldest": (deposits.c.created, False),
    "title": (deposits.c.title, False), "publication_date": (deposits.c.published, True),
    "version": (deposits.c.version_index, True),
    # InvenioRDM's names (its RDM_SORT_OPTIONS), for /api/user/records
    "updated-desc": (deposits.c.modified, True), "updated-asc": (deposits.c.modified, False),
}


def _order(sort: str | None) -> tuple[Any, ...]:
    sort = sort or "mostrecent"
    name = sort.lstrip("-")
    if name not in _SORTS:
        raise ValidationError([FieldError("sort", (f"Invalid sort option: {sort}",))])
    column, descending = _SORTS[name]
    if sort.startswith("-"):
        descending = not descending
    return (column.desc(), deposits.c.id.desc()) if descending else (column.asc(), deposits.c.id.asc())


def require_communities(conn: sa.Connection, metadata: dict[str, Any]) -> None:
    """Refuse communities this repository does not have, as Zenodo's legacy API did at save time (400
    "Invalid communities: <ids>"); current Zenodo drops them silently at publish, which loses the choice."""
    wanted: list[str] = [c["identifier"] for c in metadata.get("communities") or []
                         if isinstance(c, dict) and isinstance(c.get("identifier"), str)]
    if not wanted:
        return
    known = set(conn.execute(sa.select(communities.c.slug).where(communities.c.slug.in_(wanted))).scalars())
    known |= set(conn.execute(sa.select(communities.c.id).where(communities.c.id.in_(wanted))).scalars())
    unknown = [w for w in wanted if w not in known]
    if unknown:
        message = f"Invalid communities: {', '.join(unknown)}"
        raise ValidationError([FieldError("communities", (message,))], message)
