"""The InvenioRDM records API's service: drafts, their three-step file upload, DOI reservation, versions
and the caller's records. It works on the deposits of the legacy API (one data model): the RDM body is
translated to legacy metadata (``rdm_metadata``) and the legacy services do the rest, so permissions,
limits and state rules are the legacy API's own. Every method takes the caller's identity first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from depot.metadata import FieldError
from depot.repository.errors import ConflictError, InvalidStateError, NotFoundError, QuotaExceededError, ValidationError
from depot.repository.services.actions import NOT_REGISTERED, ActionService
from depot.repository.services.deposits import MAX_WINDOW, DepositService, _order
from depot.repository.services.files import LOCKED, TOO_MANY, FileService, UploadPlan
from depot.repository.services.keys import check_key, lookup_key
from depot.repository.services.permissions import Identity, require_user
from depot.repository.services.rdm_metadata import RdmBodyError, to_legacy
from depot.repository.services.scopes import DEPOSIT_WRITE
from depot.repository.services.search import compile_query
from depot.repository.services.views import Deposit, StoredFile, latest_of_concept, load_deposit, load_deposits
from depot.repository.store.tables import deposits, pending_files

# Legacy fields RDM JSON cannot carry: an RDM update keeps them from the draft it replaces.
CARRIED = ("communities", "access_conditions")
ALREADY_RESERVED = "A PID already exists for type doi"
MAX_INIT = 100  # entries in one POST .../draft/files (a record holds at most 100 files anyway)


@dataclass(frozen=True)
class UserRecordsParams:
    q: str | None = None
    sort: str | None = None
    page: int = 1
    size: int = 10
    all_versions: bool = False


@dataclass(frozen=True)
class UserRecordsPage:
    hits: list[Deposit]
    total: int


class DraftService:
    def __init__(self, deposits_service: DepositService, files: FileService, actions: ActionService) -> None:
        self.deposits = deposits_service
        self.files = files
        self.actions = actions
        self.db = deposits_service.db
        self.config = deposits_service.config

    def _legacy_body(self, body: object) -> tuple[dict[str, Any], bool | None]:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ValidationError([FieldError("_schema", ("Invalid input type.",))])
        try:
            metadata, enabled = to_legacy(body)
        except RdmBodyError as exc:
            raise ValidationError(exc.errors) from exc
        return {"metadata": metadata}, enabled

    # -- drafts -------------------------------------------------------------------------------------
    def create(self, identity: Identity, body: object) -> Deposit:
        require_user(identity, DEPOSIT_WRITE)
        legacy, enabled = self._legacy_body(body)
        return self.deposits.create(identity, legacy, files_enabled=True if enabled is None else enabled)

    def read_draft(self, identity: Identity, record_id: int) -> Deposit:
        deposit = self.deposits.read(identity, record_id)
        if deposit.draft is None:
            raise NotFoundError("The persistent identifier does not exist.")
        return deposit

    def update(self, identity: Identity, record_id: int, body: object) -> Deposit:
        require_user(identity)
        legacy, enabled = self._legacy_body(body)
        own_doi = self.actions.doi_for(record_id)

        def keep(old: dict[str, Any]) -> dict[str, Any]:
            kept = {k: old[k] for k in CARRIED if k in old}
            if old.get("doi") == own_doi and "doi" not in legacy["metadata"]:
                kept["doi"] = own_doi  # a reserved DOI stays until DELETE .../pids/doi
            return kept

        return self.deposits.update(identity, record_id, legacy, files_enabled=enabled, keep=keep)

    def reserve_doi(self, identity: Identity, record_id: int) -> Deposit:
        """Reserve the DOI publish will mint (the legacy ``prereserve_doi``), kept in the draft's ``doi``."""
        deposit = self.read_draft(identity, record_id)
        if (deposit.draft is not None and deposit.draft.get("doi")) or deposit.doi:
            raise ValidationError([FieldError("pids.doi", (ALREADY_RESERVED,))])
        draft = dict(deposit.draft or {})
        draft["doi"] = self.actions.doi_for(record_id)
        return self._save_draft(identity, deposit, draft)

    def discard_doi(self, identity: Identity, record_id: int) -> Deposit:
        deposit = self.read_draft(identity, record_id)
        if deposit.doi or not (deposit.draft or {}).get("doi"):
            raise NotFoundError("The persistent identifier does not exist.")
        draft = {k: v for k, v in (deposit.draft or {}).items() if k != "doi"}
        return self._save_draft(identity, deposit, draft)

    def _save_draft(self, identity: Identity, deposit: Deposit, draft: dict[str, Any]) -> Deposit:
        from depot.repository.services.search import write_terms
        from depot.repository.store import statements as st

        with self.db.write() as conn:
            self.deposits.get_owned(conn, identity, deposit.id, DEPOSIT_WRITE)
            conn.execute(st.UPDATE_DEPOSIT, {"b_id": deposit.id, "draft": draft, "modified": self.deposits.now()})
            write_terms(conn, deposit.id, "deposit", draft)
            found = load_deposit(conn, deposit.id)
        assert found is not None
        return found

    def edit(self, identity: Identity, record_id: int) -> Deposit:
        return self.actions.edit(identity, record_id)

    def publish(self, identity: Identity, record_id: int) -> Deposit:
        return self.actions.publish(identity, record_id)

    def new_version(self, identity: Identity, record_id: int) -> Deposit:
        return self.actions.new_version(identity, record_id, with_files=False)

    def import_files(self, identity: Identity, record_id: int) -> Deposit:
        """``POST .../draft/actions/files-import``: the previous version's files, into a new-version draft."""
        from depot.repository.services.files import import_files

        with self.db.write() as conn:
            deposit = self.deposits.get_owned(conn, identity, record_id, DEPOSIT_WRITE)
            if deposit.draft is None or deposit.record is not None:
                raise InvalidStateError(NOT_REGISTERED, 404)
            if deposit.files:
                raise ValidationError([FieldError("files.enabled", ("Please remove all files first.",))])
            previous = load_deposits(conn, sa.and_(deposits.c.concept_id == deposit.concept_id,
                                                   deposits.c.record.is_not(None)),
                                     order=(deposits.c.version_index.desc(),), limit=1)
            if not previous:
                raise NotFoundError("The record has no previous version.")
            import_files(conn, previous[0].bucket_id, deposit.bucket_id, self.deposits.now())
            found = load_deposit(conn, record_id)
        assert found is not None
        return found

    # -- files -------------------------------------------------------------------------------------
    def pending(self, deposit: Deposit) -> list[str]:
        """Keys initialised and not committed, in the order they were initialised."""
        with self.db.read() as conn:
            return list(conn.execute(sa.select(pending_files.c.key)
                                     .where(pending_files.c.bucket_id == deposit.bucket_id)
                                     .order_by(pending_files.c.created, pending_files.c.key)).scalars())

    def _file_writable(self, identity: Identity, record_id: int) -> Deposit:
        deposit = self.read_draft(identity, record_id)
        if deposit.record is not None:
            raise InvalidStateError(LOCKED, 403)
        if not deposit.files_enabled:
            raise ValidationError([FieldError("files.enabled", ("File upload is disabled for this record "
                                                                "(it is metadata-only).",))])
        return deposit

    def init_files(self, identity: Identity, record_id: int, body: object) -> Deposit:
        """Start uploads: ``body`` is a JSON list of ``{"key": ...}`` (size, checksum and transfer are
        optional; only the local transfer is offered, as on Zenodo)."""
        deposit = self._file_writable(identity, record_id)
        if not isinstance(body, list) or not body or len(body) > MAX_INIT:
            raise ValidationError([FieldError("_schema", (f"Expected a list of 1 to {MAX_INIT} objects with a "
                                                          "'key'.",))])
        keys: list[str] = []
        for i, entry in enumerate(body):
            if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
                raise ValidationError([FieldError(f"{i}.key", ("Missing data for required field.",))])
            transfer = entry.get("transfer")
            if transfer is not None and (not isinstance(transfer, dict) or transfer.get("type", "L") != "L"):
                raise ValidationError([FieldError(f"{i}.transfer", ("Only local transfers (type 'L') are "
                                                                    "accepted.",))])
            keys.append(check_key(entry["key"]))
        now = self.deposits.now()
        with self.db.write() as conn:
            deposit = self.deposits.get_owned(conn, identity, record_id, DEPOSIT_WRITE)
            taken = {lookup_key(f.key) for f in deposit.files}
            taken |= set(conn.execute(sa.select(pending_files.c.key)
                                      .where(pending_files.c.bucket_id == deposit.bucket_id)).scalars())
            for key in keys:
                if lookup_key(key) in taken:
                    raise ConflictError(f"File with key {key} already exists.")
                taken.add(lookup_key(key))
            if len(taken) > self.config.max_files_per_record:
                raise QuotaExceededError(TOO_MANY)
            conn.execute(pending_files.insert(), [{"bucket_id": deposit.bucket_id, "key": k, "created": now}
                                                  for k in keys])
            found = load_deposit(conn, record_id)
        assert found is not None
        return found

    def prepare_content(self, identity: Identity, record_id: int, key: str,
                        content_length: int | None) -> UploadPlan:
        deposit = self._file_writable(identity, record_id)
        if key not in self.pending(deposit):
            if any(lookup_key(f.key) == key for f in deposit.files):
                raise ValidationError(message=f"File {key} is already committed: delete it to upload it again.")
            raise NotFoundError(f"File with key {key} not found.")
        return self.files.prepare_upload(identity, deposit.bucket_id, key, content_length)

    def commit_file(self, identity: Identity, record_id: int, key: str) -> tuple[Deposit, StoredFile]:
        with self.db.write() as conn:
            deposit = self.deposits.get_owned(conn, identity, record_id, DEPOSIT_WRITE)
            if deposit.draft is None:
                raise NotFoundError()
            row = conn.execute(sa.select(pending_files.c.key).where(
                pending_files.c.bucket_id == deposit.bucket_id, pending_files.c.key == key)).first()
            stored = next((f for f in deposit.files if lookup_key(f.key) == key), None)
            if stored is None:
                if row is None:
                    raise NotFoundError(f"File with key {key} not found.")
                raise ValidationError(message=f"File {key} has no content yet: PUT it to .../content first.")
            conn.execute(pending_files.delete().where(pending_files.c.bucket_id == deposit.bucket_id,
                                                      pending_files.c.key == key))
        return deposit, stored

    def delete_file(self, identity: Identity, record_id: int, key: str) -> None:
        """A committed file goes as a bucket delete does (its content after the commit); a pending one is
        only a name."""
        deposit = self._file_writable(identity, record_id)
        require_user(identity, DEPOSIT_WRITE)
        if any(lookup_key(f.key) == key for f in deposit.files):
            self.files.delete_object(identity, deposit.bucket_id, key)
            return
        with self.db.write() as conn:
            gone = conn.execute(pending_files.delete().where(pending_files.c.bucket_id == deposit.bucket_id,
                                                             pending_files.c.key == key)).rowcount
        if not gone:
            raise NotFoundError(f"File with key {key} not found.")

    # -- the caller's records ------------------------------------------------------------------------
    def user_records(self, identity: Identity, params: UserRecordsParams) -> UserRecordsPage:
        """Drafts and records the caller owns, newest version of each concept unless ``all_versions``."""
        user_id = require_user(identity)
        if params.size > 100:
            raise ValidationError([FieldError("size", ("Page size cannot be greater than 100.",))])
        if params.size < 1 or params.page < 1 or params.page * params.size > MAX_WINDOW:
            raise ValidationError(message="Invalid querystring parameters.")
        sort = params.sort or ("bestmatch" if params.q else "newest")
        where = sa.and_(deposits.c.owner_id == user_id, compile_query(params.q, "deposit"), self.deposits.indexed())
        if not params.all_versions:
            where = sa.and_(where, latest_of_concept(published_only=False))
        with self.db.read() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(deposits).where(where)).scalar_one()
            hits = load_deposits(conn, where, order=_order(sort), limit=params.size,
                                 offset=(params.page - 1) * params.size)
        return UserRecordsPage(hits, int(total))
