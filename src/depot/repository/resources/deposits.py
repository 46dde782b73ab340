"""HTTP handlers of the legacy deposit API: /api/deposit/depositions[/:id[/files|/actions/:action]]."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response

from depot.repository.context import Context
from depot.repository.errors import MethodNotAllowedError, NotFoundError, QuotaExceededError, ValidationError
from depot.repository.resources.http import (
    blocking,
    bool_param,
    bounded,
    empty,
    header_int,
    identity,
    int_param,
    json_response,
    off_loop,
    path_int,
    read_json,
    tagged_json,
    too_large,
)
from depot.repository.serializers import zenodo as serialize
from depot.repository.services.deposits import ListParams
from depot.repository.services.permissions import require_user
from depot.repository.services.scopes import DEPOSIT_WRITE
from depot.repository.store.blobs import BlobTooLargeError


class DepositResource:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @off_loop
    def list(self, request: Request) -> Response:
        params = ListParams(
            q=request.query_params.get("q"), status=request.query_params.get("status"),
            sort=request.query_params.get("sort"), page=int_param(request, "page", 1),
            size=int_param(request, "size", 25), all_versions=bool_param(request, "all_versions"))
        found = self.ctx.deposits.list(identity(request), params)
        # Zenodo's search index has no bucket id, so its listed depositions carry no links.bucket.
        return json_response([serialize.deposition(self.ctx.links, d, listed=True) for d in found],
                             headers=self._lag_header())

    def _lag_header(self) -> dict[str, str]:
        """A promise Zenodo does not make (so its depositors wait): a deposition committed this many seconds
        before a listing is in it (0: at once). On listings and creates, so a depositor knows it from the
        first create on and may take a miss for "not created" without Zenodo's long waits."""
        return {"X-Depot-Search-Lag": f"{max(0.0, self.ctx.config.search_lag_seconds):g}"}

    async def create(self, request: Request) -> Response:
        require_user(identity(request), DEPOSIT_WRITE)  # the body of a caller who may not create is never read
        body = await read_json(request, self.ctx.config.json_max_bytes)
        deposit = await blocking(self.ctx, self.ctx.deposits.create, identity(request), body)
        response = tagged_json(serialize.deposition(self.ctx.links, deposit), 201)
        response.headers.update(self._lag_header())
        return response

    @off_loop
    def read(self, request: Request) -> Response:
        deposit = self.ctx.deposits.read(identity(request), path_int(request, "id"))
        return tagged_json(serialize.deposition(self.ctx.links, deposit))

    async def update(self, request: Request) -> Response:
        ident, deposit_id = identity(request), path_int(request, "id")
        require_user(ident, DEPOSIT_WRITE)
        body = await read_json(request, self.ctx.config.json_max_bytes)
        deposit = await blocking(self.ctx, self.ctx.deposits.update, ident, deposit_id, body)
        return tagged_json(serialize.deposition(self.ctx.links, deposit))

    @off_loop
    def delete(self, request: Request) -> Response:
        self.ctx.deposits.delete(identity(request), path_int(request, "id"))
        return empty(204)

    @off_loop
    def action(self, request: Request) -> Response:
        ident, deposit_id = identity(request), path_int(request, "id")
        name = request.path_params["action"]
        if name == "publish":
            deposit = self.ctx.actions.publish(ident, deposit_id)
            return tagged_json(serialize.deposition(self.ctx.links, deposit), 202)
        if name == "edit":
            deposit = self.ctx.actions.edit(ident, deposit_id)
            return tagged_json(serialize.deposition(self.ctx.links, deposit), 201)
        if name == "discard":
            self.ctx.actions.discard(ident, deposit_id)
            return empty(204)
        if name == "newversion":
            deposit = self.ctx.actions.new_version(ident, deposit_id)
            return tagged_json(serialize.deposition(self.ctx.links, deposit), 201)
        raise NotFoundError(serialize_not_found())

    # -- legacy files endpoints -------------------------------------------------------------------
    @off_loop
    def list_files(self, request: Request) -> Response:
        deposit = self.ctx.files.list_files(identity(request), path_int(request, "id"))
        return json_response([serialize.deposition_file(self.ctx.links, deposit, f) for f in deposit.files])

    async def upload_file(self, request: Request) -> Response:
        """Legacy multipart POST: form fields ``file`` and optional ``name`` (≤ 100 MiB request)."""
        ident, deposit_id = identity(request), path_int(request, "id")
        # 403/404 before a byte of the body is parsed
        await blocking(self.ctx, self.ctx.deposits.read, ident, deposit_id)
        require_user(ident, DEPOSIT_WRITE)
        limit = self.ctx.config.multipart_max_bytes
        length = header_int(request, "content-length")
        if length is not None and length > limit:
            raise too_large()
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise ValidationError(message="Expected a multipart/form-data request with a 'file' field.")
        async with bounded(request, limit).form(max_part_size=limit) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ValidationError(message="Expected a multipart/form-data request with a 'file' field.")
            name = form.get("name")
            key = name if isinstance(name, str) and name else (upload.filename or "")
            plan = await blocking(self.ctx, self.ctx.files.prepare_deposit_upload, ident, deposit_id, key, upload.size)

            async def chunks() -> AsyncIterator[bytes]:
                while chunk := await upload.read(1 << 20):
                    yield chunk

            try:
                blob = await self.ctx.blobs.write_stream(chunks(), limit=plan.limit)
            except BlobTooLargeError as exc:
                raise QuotaExceededError("Bucket quota exceeded.") from exc
        stored = await blocking(self.ctx, self.ctx.files.commit_upload, ident, plan.deposit.bucket_id, plan.key, blob,
                                replace=False)
        deposit = await blocking(self.ctx, self.ctx.deposits.read, ident, deposit_id)
        return json_response(serialize.deposition_file(self.ctx.links, deposit, stored), 201)

    @off_loop
    def read_file(self, request: Request) -> Response:
        deposit, stored = self.ctx.files.find_file(identity(request), path_int(request, "id"),
                                                   request.path_params["file_id"])
        return json_response(serialize.deposition_file(self.ctx.links, deposit, stored))

    @off_loop
    def delete_file(self, request: Request) -> Response:
        self.ctx.files.delete_file(identity(request), path_int(request, "id"), request.path_params["file_id"])
        return empty(204)

    @off_loop
    def not_implemented(self, request: Request) -> Response:
        # File sort and rename: current Zenodo answers 405 (spec §2.1).
        self.ctx.deposits.read(identity(request), path_int(request, "id"))
        raise MethodNotAllowedError()


def serialize_not_found() -> str:
    return ("The requested URL was not found on the server. If you entered the URL manually please check your "
            "spelling and try again.")
