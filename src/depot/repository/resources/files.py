"""HTTP handlers of the bucket API (/api/files/:bucket/:key) and file downloads."""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from depot.repository.context import Context
from depot.repository.errors import (
    MethodNotAllowedError,
    NotFoundError,
    QuotaExceededError,
    UnsupportedMediaError,
)
from depot.repository.preservation.healing import Healer
from depot.repository.resources.http import (
    blocking,
    empty,
    header_int,
    identity,
    json_response,
    off_loop,
    path_int,
    path_key,
)
from depot.repository.serializers import zenodo as serialize
from depot.repository.services.files import QUOTA
from depot.repository.services.keys import lookup_key
from depot.repository.services.permissions import Identity
from depot.repository.services.views import Deposit, StoredFile
from depot.repository.store.blobs import BlobTooLargeError

OCTET = "application/octet-stream"


class FilesResource:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.healer = healer_of(ctx)

    async def put_object(self, request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and ctype != OCTET:
            raise UnsupportedMediaError(f"Invalid 'Content-Type' header. Expected one of: {OCTET}")
        ident, bucket_id, key = identity(request), request.path_params["bucket"], path_key(request)
        plan = await blocking(self.ctx, self.ctx.files.prepare_upload, ident, bucket_id, key,
                              header_int(request, "content-length"))
        try:
            blob = await self.ctx.blobs.write_stream(request.stream(), limit=plan.limit)
        except BlobTooLargeError as exc:
            raise QuotaExceededError(QUOTA) from exc
        stored = await blocking(self.ctx, self.ctx.files.commit_upload, ident, bucket_id, plan.key, blob, replace=True)
        return json_response(serialize.bucket_object(self.ctx.links, bucket_id, stored), 201)

    async def get_object(self, request: Request) -> Response:
        deposit, stored = await blocking(self.ctx, self.ctx.files.get_object, identity(request),
                                         request.path_params["bucket"], path_key(request))
        return await self.download(deposit, stored)

    @off_loop
    def delete_object(self, request: Request) -> Response:
        self.ctx.files.delete_object(identity(request), request.path_params["bucket"], path_key(request))
        return empty(204)

    async def multipart_not_supported(self, request: Request) -> Response:
        # Current Zenodo has no POST route on bucket objects, so the legacy multipart protocol is 405.
        raise MethodNotAllowedError()

    @off_loop
    def list_bucket(self, request: Request) -> Response:
        bucket_id = request.path_params["bucket"]
        deposit = self.ctx.files.read_bucket(identity(request), bucket_id)
        return json_response({
            "id": bucket_id,
            "size": deposit.total_size,
            "quota_size": self.ctx.config.record_quota_bytes,
            "max_file_size": self.ctx.config.record_quota_bytes,
            "locked": deposit.is_published,
            "contents": [serialize.bucket_object(self.ctx.links, bucket_id, f) for f in deposit.files],
            "links": {"self": self.ctx.links.bucket(bucket_id)},
        })

    # -- downloads through the records API -------------------------------------------------------
    async def record_file_content(self, request: Request) -> Response:
        from depot.repository.services.usage import counts_as_access
        from depot.repository.usage.counter import DOWNLOAD

        deposit = await blocking(self.ctx, self.ctx.records.read, path_int(request, "id"))
        response = await self.download(deposit, _by_key(deposit, path_key(request)))
        if counts_as_access(request.method, request.headers.get("range")):  # a COUNTER request (download)
            await blocking(self.ctx, self.ctx.usage.record, DOWNLOAD, deposit, item=path_key(request),
                           ip=request.client.host if request.client else "",
                           user_agent=request.headers.get("user-agent", ""))
        return response

    async def draft_file_content(self, request: Request) -> Response:
        """The ``links.download`` of deposition files: owner only before publish, public after."""
        deposit = await blocking(self.ctx, self._draft_or_record, identity(request), path_int(request, "id"))
        return await self.download(deposit, _by_key(deposit, path_key(request)))

    def _draft_or_record(self, ident: Identity, deposit_id: int) -> Deposit:
        try:
            return self.ctx.records.read(deposit_id)
        except NotFoundError:
            return self.ctx.deposits.read(ident, deposit_id)

    async def download(self, deposit: Deposit, stored: StoredFile) -> Response:
        # A file the audit flagged is served from a verified bag copy, or refused (410): never its bad bytes.
        path = await anyio.to_thread.run_sync(self.healer.source, stored)
        return FileResponse(path, media_type=stored.mimetype, filename=stored.key,
                            headers={"ETag": f'"md5:{stored.md5}"'})


def healer_of(ctx: Context) -> Healer:
    return Healer(ctx.files.db, ctx.blobs, ctx.config.data_dir / "bags", ctx.deposits.clock)


def _by_key(deposit: Deposit, key: str) -> StoredFile:
    for f in deposit.files:
        if lookup_key(f.key) == key:
            return f
    raise NotFoundError("File does not exist.")
