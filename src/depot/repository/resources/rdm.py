"""HTTP handlers of the InvenioRDM records API: /api/records (create), /api/records/{id}/draft[...],
/api/records/{id}/versions (POST) and /api/user/records. docs/api.md "InvenioRDM records API" lists
each status and shape; the services are the legacy API's (one data model).
"""

from __future__ import annotations

from typing import Any

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from depot.repository.context import Context
from depot.repository.errors import NotFoundError, QuotaExceededError, UnsupportedMediaError
from depot.repository.resources.http import (
    blocking,
    bool_param,
    empty,
    header_int,
    identity,
    int_param,
    json_response,
    off_loop,
    path_int,
    path_key,
    read_json,
    tagged_json,
)
from depot.repository.serializers import rdm as rs
from depot.repository.serializers.published import published_record
from depot.repository.services.drafts import DraftService, UserRecordsParams
from depot.repository.services.files import QUOTA
from depot.repository.services.keys import lookup_key
from depot.repository.services.permissions import require_user
from depot.repository.services.scopes import DEPOSIT_WRITE
from depot.repository.services.views import Deposit
from depot.repository.store.blobs import BlobTooLargeError

OCTET = "application/octet-stream"


class DraftFileKey(Convertor[str]):
    """A file key in ``.../draft/files/{key}``: a path that does not end in ``/commit`` or ``/content``, so
    that a GET of a POST-only ``commit`` link is a 405 (with ``Allow``), not a lookup of key "a.jpg/commit"."""

    regex = r".+(?<!/commit)(?<!/content)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("draftkey", DraftFileKey())


class RdmResource:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.drafts = DraftService(ctx.deposits, ctx.files, ctx.actions)

    # -- shapes --------------------------------------------------------------------------------------
    def _versions(self, deposit: Deposit) -> tuple[int, bool]:
        return self.ctx.records.version_position(deposit)

    def draft_json(self, request: Request, deposit: Deposit) -> dict[str, Any]:
        index, is_latest = self._versions(deposit)
        if rs.wants_rdm(request.headers.get("accept")):
            return rs.rdm(self.ctx.links, deposit, draft=True, version_index=index, is_latest=is_latest,
                          communities=self._communities(deposit), pending=self.drafts.pending(deposit))
        return rs.zenodo_draft(self.ctx.links, deposit, version_index=index, is_latest=is_latest)

    def record_json(self, request: Request, deposit: Deposit) -> dict[str, Any]:

        if rs.wants_rdm(request.headers.get("accept")):
            index, is_latest = self._versions(deposit)
            return rs.rdm(self.ctx.links, deposit, draft=False, version_index=index, is_latest=is_latest,
                          communities=self._communities(deposit))
        return published_record(self.ctx, deposit)

    def _communities(self, deposit: Deposit) -> list[str]:
        return [slug for slug, status in self.ctx.records.communities_of(deposit.concept_id) if status == "accepted"]

    def _entry(self, deposit: Deposit, key: str) -> dict[str, Any]:
        pending = self.drafts.pending(deposit)
        stored = next((f for f in deposit.files if lookup_key(f.key) == key), None)
        if stored is None and key not in pending:
            raise NotFoundError(f"File with key {key} not found.")
        return rs.file_entry(self.ctx.links, deposit, stored, stored.key if stored else key, draft=True,
                             pending=key in pending)

    # -- drafts --------------------------------------------------------------------------------------
    async def create(self, request: Request) -> Response:
        require_user(identity(request), DEPOSIT_WRITE)  # the body of a caller who may not create is never read
        body = await read_json(request, self.ctx.config.json_max_bytes)
        draft = await blocking(self.ctx, lambda: self.draft_json(request, self.drafts.create(identity(request), body)))
        response = tagged_json(draft, 201)
        response.headers.update(self._lag_header())  # as on legacy creates (resources/deposits.py)
        return response

    def _lag_header(self) -> dict[str, str]:
        """The search lag Depot promises (see DepositResource._lag_header), on creates and listings."""
        return {"X-Depot-Search-Lag": f"{max(0.0, self.ctx.config.search_lag_seconds):g}"}

    @off_loop
    def read_draft(self, request: Request) -> Response:
        deposit = self.drafts.read_draft(identity(request), path_int(request, "id"))
        return tagged_json(self.draft_json(request, deposit))

    async def update_draft(self, request: Request) -> Response:
        ident, record_id = identity(request), path_int(request, "id")
        await blocking(self.ctx, self.drafts.read_draft, ident, record_id)  # 403/404 before the body is read
        require_user(ident, DEPOSIT_WRITE)
        body = await read_json(request, self.ctx.config.json_max_bytes)
        draft = await blocking(self.ctx, lambda: self.draft_json(request, self.drafts.update(ident, record_id, body)))
        return tagged_json(draft)

    @off_loop
    def delete_draft(self, request: Request) -> Response:
        self.ctx.deposits.delete(identity(request), path_int(request, "id"))
        return empty(204)

    @off_loop
    def edit(self, request: Request) -> Response:
        deposit = self.drafts.edit(identity(request), path_int(request, "id"))
        return tagged_json(self.draft_json(request, deposit), 201)

    @off_loop
    def reserve_doi(self, request: Request) -> Response:
        deposit = self.drafts.reserve_doi(identity(request), path_int(request, "id"))
        return tagged_json(self.draft_json(request, deposit), 201)

    @off_loop
    def discard_doi(self, request: Request) -> Response:
        self.drafts.discard_doi(identity(request), path_int(request, "id"))
        return empty(204)

    @off_loop
    def publish(self, request: Request) -> Response:
        deposit = self.drafts.publish(identity(request), path_int(request, "id"))
        return tagged_json(self.record_json(request, deposit), 202)

    @off_loop
    def new_version(self, request: Request) -> Response:
        deposit = self.drafts.new_version(identity(request), path_int(request, "id"))
        return tagged_json(self.draft_json(request, deposit), 201)

    @off_loop
    def import_files(self, request: Request) -> Response:
        deposit = self.drafts.import_files(identity(request), path_int(request, "id"))
        return json_response(rs.files_listing(self.ctx.links, deposit, self.drafts.pending(deposit), draft=True), 201)

    # -- draft files ---------------------------------------------------------------------------------
    @off_loop
    def list_files(self, request: Request) -> Response:
        deposit = self.drafts.read_draft(identity(request), path_int(request, "id"))
        return json_response(rs.files_listing(self.ctx.links, deposit, self.drafts.pending(deposit), draft=True))

    async def init_files(self, request: Request) -> Response:
        ident, record_id = identity(request), path_int(request, "id")
        await blocking(self.ctx, self.drafts.read_draft, ident, record_id)  # 403/404 before the body is read
        body = await read_json(request, self.ctx.config.json_max_bytes)
        deposit = await blocking(self.ctx, self.drafts.init_files, ident, record_id, body)
        pending = await blocking(self.ctx, self.drafts.pending, deposit)
        return json_response(rs.files_listing(self.ctx.links, deposit, pending, draft=True), 201)

    @off_loop
    def read_file(self, request: Request) -> Response:
        deposit = self.drafts.read_draft(identity(request), path_int(request, "id"))
        return json_response(self._entry(deposit, path_key(request)))

    async def set_content(self, request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and ctype != OCTET:
            raise UnsupportedMediaError(f"Invalid 'Content-Type' header. Expected one of: {OCTET}")
        ident, record_id, key = identity(request), path_int(request, "id"), path_key(request)
        plan = await blocking(self.ctx, self.drafts.prepare_content, ident, record_id, key,
                              header_int(request, "content-length"))
        try:
            blob = await self.ctx.blobs.write_stream(request.stream(), limit=plan.limit)
        except BlobTooLargeError as exc:
            raise QuotaExceededError(QUOTA) from exc
        await blocking(self.ctx, self.ctx.files.commit_upload, ident, plan.deposit.bucket_id, plan.key, blob,
                       replace=True)
        entry = await blocking(self.ctx, lambda: self._entry(self.drafts.read_draft(ident, record_id), plan.key))
        return json_response(entry)

    @off_loop
    def commit_file(self, request: Request) -> Response:
        ident, record_id = identity(request), path_int(request, "id")
        deposit, stored = self.drafts.commit_file(ident, record_id, path_key(request))
        return json_response(rs.file_entry(self.ctx.links, deposit, stored, stored.key, draft=True))

    @off_loop
    def delete_file(self, request: Request) -> Response:
        self.drafts.delete_file(identity(request), path_int(request, "id"), path_key(request))
        return empty(204)

    # -- the caller's records ------------------------------------------------------------------------
    @off_loop
    def user_records(self, request: Request) -> Response:
        params = UserRecordsParams(
            q=request.query_params.get("q"), sort=request.query_params.get("sort"),
            page=int_param(request, "page", 1), size=int_param(request, "size", 10),
            all_versions=bool_param(request, "allversions") or bool_param(request, "all_versions"))
        page = self.drafts.user_records(identity(request), params)
        hits = [self.draft_json(request, d) if d.draft is not None else self.record_json(request, d)
                for d in page.hits]
        links = {"self": str(request.url)}
        if params.page > 1:
            links["prev"] = str(request.url.include_query_params(page=params.page - 1))
        if params.page * params.size < page.total:
            links["next"] = str(request.url.include_query_params(page=params.page + 1))
        return json_response({"hits": {"hits": hits, "total": page.total}, "aggregations": {}, "links": links,
                              "sortBy": params.sort or ("bestmatch" if params.q else "newest")},
                             headers=self._lag_header())


def routes(ctx: Context, resource: RdmResource) -> list[BaseRoute]:
    """The RDM routes; they go before the records API's own so that ``/draft/...`` paths match here."""
    r, d = resource, "/api/records/{id}/draft"

    async def uploads_page(request: Request) -> Response:
        # Zenodo's draft page is /uploads/{id} (the RDM links' self_html); Depot's is /deposit/{id}.
        return RedirectResponse(f"/deposit/{path_int(request, 'id')}", status_code=302)

    return [
        Route("/api/records", r.create, methods=["POST"]),
        Route("/api/user/records", r.user_records, methods=["GET"]),
        Route(d, r.read_draft, methods=["GET"]),
        Route(d, r.update_draft, methods=["PUT"]),
        Route(d, r.delete_draft, methods=["DELETE"]),
        Route(d, r.edit, methods=["POST"]),
        Route(d + "/pids/doi", r.reserve_doi, methods=["POST"]),
        Route(d + "/pids/doi", r.discard_doi, methods=["DELETE"]),
        Route(d + "/actions/publish", r.publish, methods=["POST"]),
        Route(d + "/actions/files-import", r.import_files, methods=["POST"]),
        Route(d + "/files", r.list_files, methods=["GET"]),
        Route(d + "/files", r.init_files, methods=["POST"]),
        Route(d + "/files/{key:path}/content", r.set_content, methods=["PUT"]),
        Route(d + "/files/{key:path}/commit", r.commit_file, methods=["POST"]),
        Route(d + "/files/{key:draftkey}", r.read_file, methods=["GET"]),
        Route(d + "/files/{key:draftkey}", r.delete_file, methods=["DELETE"]),
        Route("/api/records/{id}/versions", r.new_version, methods=["POST"]),
        Route("/uploads/{id}", uploads_page, methods=["GET"]),
    ]
