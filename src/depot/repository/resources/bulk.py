"""HTTP handlers of the bulk-ingest API: ``POST /api/bulk`` (a BagIt batch, answered 202 with its job),
``GET /api/bulk/{id}`` (the job's progress and per-record results) and ``GET /api/bulk?batch_id=`` (the job
of a batch id, for a client whose POST lost its answer). docs/api.md, "Bulk ingest"."""

from __future__ import annotations

import os
import uuid
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from depot.repository.bulk.job import bulk_service
from depot.repository.bulk.package import FORMATS
from depot.repository.bulk.service import BulkService, ItemResult, Job, check_batch_id
from depot.repository.bulk.worker import BulkWorker
from depot.repository.context import Context
from depot.repository.errors import NotFoundError, UnsupportedMediaError
from depot.repository.resources.http import header_int, identity, json_response, too_large


class BulkResource:
    def __init__(self, ctx: Context, worker: BulkWorker) -> None:
        self.ctx = ctx
        self.worker = worker
        self.service: BulkService = bulk_service(ctx)

    def job_url(self, job_id: str) -> str:
        return f"{self.ctx.links.api}/bulk/{job_id}"

    async def create(self, request: Request) -> Response:
        ident = identity(request)
        self.service.authorize(ident)
        batch_id = check_batch_id(request.query_params.get("batch_id"))
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        fmt = FORMATS.get(ctype)
        if fmt is None:
            raise UnsupportedMediaError("Invalid 'Content-Type' header. Expected one of: "
                                        + ", ".join(sorted(FORMATS)))
        existing = await anyio.to_thread.run_sync(self.service.find, ident, batch_id)
        if existing is not None:  # a replay: the batch is not read again, nor made twice
            return self._job_response(existing, 200)
        limit = self.ctx.config.bulk_max_bytes
        length = header_int(request, "content-length")
        if length is not None and length > limit:
            raise too_large()
        part = self.service.incoming() / f"{uuid.uuid4()}.part"
        size = 0
        fh = os.fdopen(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large()
                fh.write(chunk)
            await anyio.to_thread.run_sync(_finish, fh, self.ctx.config.fsync)
            job, created = await anyio.to_thread.run_sync(self.service.accept, ident, batch_id, fmt, part, size)
        except BaseException:
            fh.close()
            part.unlink(missing_ok=True)
            raise
        if created:
            self.worker.submit(job.id)
        return self._job_response(job, 202 if created else 200)

    def _job_response(self, job: Job, status: int) -> Response:
        return json_response(self._summary(job, None), status, headers={"Location": self.job_url(job.id)})

    async def read(self, request: Request) -> Response:
        job, counts, items = await anyio.to_thread.run_sync(self.service.read, identity(request),
                                                            request.path_params["job_id"])
        return json_response(self._summary(job, counts, items))

    async def find(self, request: Request) -> Response:
        batch_id = check_batch_id(request.query_params.get("batch_id"))
        job = await anyio.to_thread.run_sync(self.service.find, identity(request), batch_id)
        if job is None:
            raise NotFoundError("Bulk job does not exist.")
        return self._job_response(job, 200)

    def _summary(self, job: Job, counts: dict[str, int] | None,
                 items: list[ItemResult] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": job.id, "batch_id": job.batch_id, "state": job.state, "format": job.format, "size": job.size,
            "total": job.total, "created": job.created, "updated": job.updated, "finished": job.finished,
            "errors": job.errors, "links": {"self": self.job_url(job.id)},
        }
        if counts is not None:
            body["counts"] = counts
            body["records"] = [self._item(i) for i in items or []]
        return body

    def _item(self, item: ItemResult) -> dict[str, Any]:
        out: dict[str, Any] = {"index": item.index, "key": item.key, "state": item.state}
        if item.deposit_id is not None:
            out.update({"id": item.deposit_id, "doi": item.doi, "conceptdoi": item.concept_doi,
                        "links": {"html": f"{self.ctx.links.base}/records/{item.deposit_id}",
                                  "record": self.ctx.links.record(item.deposit_id)}})
        if item.message:
            out["message"] = item.message
        return out


def _finish(fh: Any, fsync: bool) -> None:
    fh.flush()
    if fsync:
        os.fsync(fh.fileno())
    fh.close()


def routes(ctx: Context, worker: BulkWorker) -> list[Route]:
    resource = BulkResource(ctx, worker)
    return [
        Route("/api/bulk", resource.create, methods=["POST"]),
        Route("/api/bulk", resource.find, methods=["GET"]),
        Route("/api/bulk/{job_id}", resource.read, methods=["GET"]),
    ]
