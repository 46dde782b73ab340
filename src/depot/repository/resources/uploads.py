"""HTTP handlers of resumable uploads, tus 1.0 at ``/api/uploads`` (core, creation, termination, checksum,
expiration): ``OPTIONS`` (what the server speaks), ``POST`` (create), ``HEAD`` (offset), ``PATCH`` (append),
``DELETE`` (terminate). The protocol's logic is in ``services/uploads.py``; this module speaks its headers.

Every answer but OPTIONS's carries ``Tus-Resumable: 1.0.0``; a request without it (or with another version)
is 412 with ``Tus-Version``. Errors keep Zenodo's JSON body (``{"status", "message"}``) with tus's statuses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from email.utils import format_datetime

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from depot.repository.context import Context
from depot.repository.errors import RepositoryError, UnsupportedMediaError, UploadError
from depot.repository.resources.errors import error_body
from depot.repository.resources.http import header_int, identity, json_response, off_loop
from depot.repository.services.uploads import CHECKSUMS, Upload, UploadService, parse_checksum

VERSION = "1.0.0"
EXTENSIONS = "creation,termination,checksum,expiration"
OFFSET_STREAM = "application/offset+octet-stream"

Handler = Callable[[Request], Awaitable[Response]]


def routes(ctx: Context) -> list[Route]:
    res = UploadsResource(ctx)
    base = "/api/uploads"
    return [
        Route(base, res.options, methods=["OPTIONS"]),
        Route(base, tus(res.create), methods=["POST"]),
        Route(base + "/{id}", res.options, methods=["OPTIONS"]),
        Route(base + "/{id}", tus(res.head), methods=["HEAD"]),
        Route(base + "/{id}", tus(res.patch), methods=["PATCH"]),
        Route(base + "/{id}", tus(res.delete), methods=["DELETE"]),
    ]


def tus(handler: Handler) -> Handler:
    """Check Tus-Resumable, answer errors with tus's headers (and no body for HEAD)."""

    async def wrapped(request: Request) -> Response:
        try:
            if request.headers.get("tus-resumable") != VERSION:
                raise UploadError(f"Tus-Resumable must be {VERSION}, the one version this server speaks.", 412)
            response = await handler(request)
        except RepositoryError as exc:
            status, body = error_body(exc)
            response = (Response(b"", status_code=status) if request.method == "HEAD"
                        else json_response(body, status))
            if status == 412:
                response.headers["Tus-Version"] = VERSION
        response.headers["Tus-Resumable"] = VERSION
        return response

    return wrapped


def http_date(iso: str) -> str:
    """RFC 7231's IMF-fixdate, as Upload-Expires wants, from the stored UTC ISO text."""
    return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")), usegmt=True)


class UploadsResource:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.service = UploadService(ctx.files, ctx.blobs, ctx.config.data_dir / "uploads", ctx.deposits.clock,
                                     fsync=ctx.config.fsync)

    def location(self, upload: Upload) -> str:
        return f"{self.ctx.config.api_url}/uploads/{upload.id}"

    async def options(self, request: Request) -> Response:
        return Response(b"", status_code=204, headers={
            "Tus-Resumable": VERSION, "Tus-Version": VERSION, "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(self.ctx.config.upload_max_bytes),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUMS), "Allow": "DELETE, HEAD, OPTIONS, PATCH, POST"})

    @off_loop
    def create(self, request: Request) -> Response:
        upload = self.service.create(identity(request), header_int(request, "upload-length"),
                                     request.headers.get("upload-metadata", ""))
        return Response(b"", status_code=201, headers={
            "Location": self.location(upload), "Upload-Expires": http_date(upload.expires)})

    async def head(self, request: Request) -> Response:
        # On a thread: an upload a crash left complete but unattached is hashed and attached here.
        upload = await anyio.to_thread.run_sync(self.service.status, identity(request), request.path_params["id"])
        headers = {"Upload-Offset": str(upload.received), "Upload-Length": str(upload.length),
                   "Cache-Control": "no-store"}
        if upload.upload_metadata:
            headers["Upload-Metadata"] = upload.upload_metadata
        if not upload.done:
            headers["Upload-Expires"] = http_date(upload.expires)
        return Response(b"", status_code=200, headers=headers)

    async def patch(self, request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != OFFSET_STREAM:
            raise UnsupportedMediaError(f"A PATCH's Content-Type must be {OFFSET_STREAM}.")
        upload = await self.service.append(
            identity(request), request.path_params["id"], header_int(request, "upload-offset"), request.stream(),
            content_length=header_int(request, "content-length"),
            checksum=parse_checksum(request.headers.get("upload-checksum")))
        headers = {"Upload-Offset": str(upload.received)}
        if not upload.done:
            headers["Upload-Expires"] = http_date(upload.expires)
        return Response(b"", status_code=204, headers=headers)

    @off_loop
    def delete(self, request: Request) -> Response:
        self.service.terminate(identity(request), request.path_params["id"])
        return Response(b"", status_code=204)
