"""The repository's ASGI application: config -> stores -> services -> resources, wired explicitly."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from depot.repository.bulk.worker import BulkWorker
from depot.repository.config import RepositoryConfig
from depot.repository.context import Context
from depot.repository.errors import RepositoryError
from depot.repository.faults.inject import FaultInjector, InjectedDrop
from depot.repository.faults.profile import FaultProfile
from depot.repository.jobs import catalog as _job_catalog  # noqa: F401  (registers the repository's jobs)
from depot.repository.jobs.queues import open_queue
from depot.repository.preservation.service import Preservation
from depot.repository.preservation.service import of as preservation_of
from depot.repository.resources import (
    admin,
    badges,
    bulk,
    draftpage,
    exports,
    manifest,
    oai,
    pages,
    rdm,
    static,
    uploads,
)
from depot.repository.resources.cors import AllowedMethods, Cors
from depot.repository.resources.deposits import DepositResource
from depot.repository.resources.errors import (
    handle_client_disconnect,
    handle_http_exception,
    handle_repository_error,
    handle_unexpected,
)
from depot.repository.resources.files import FilesResource
from depot.repository.resources.gateway import Gateway
from depot.repository.resources.http import json_response
from depot.repository.resources.iiif import IIIFResource
from depot.repository.resources.records import RecordResource
from depot.repository.serializers.zenodo import Links
from depot.repository.services.accounts import AccountService
from depot.repository.services.actions import ActionService
from depot.repository.services.deposits import DepositService
from depot.repository.services.files import FileService
from depot.repository.services.records import RecordService
from depot.repository.services.usage import usage_service
from depot.repository.store.blobs import BlobStore
from depot.repository.store.db import Database

log = logging.getLogger("depot.repository")


def build_context(config: RepositoryConfig, *, clock: Callable[[], datetime] | None = None,
                  db: Database | None = None) -> Context:
    clock = clock or (lambda: datetime.now(UTC))
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = db or Database.open(config.database_url)
    blobs = BlobStore(config.data_dir, fsync=config.fsync)
    deposits = DepositService(db, config, clock, blobs)
    files = FileService(deposits)
    links = Links(config.base_url, config.doi_prefix, config.doi_name)
    actions = ActionService(deposits)
    jobs = open_queue(config.queue_url, config.database_url, db.engine)
    keeper = Preservation(db, config, links, blobs, clock, jobs)
    actions.on_publish.append(keeper)  # bag jobs; + the fixity cycle
    accounts = AccountService(db)
    if keeper.accounts is not None:
        accounts.on_change.append(keeper.accounts)
    ctx = Context(
        config=config,
        links=links,
        blobs=blobs,
        accounts=accounts,
        deposits=deposits,
        files=files,
        actions=actions,
        records=RecordService(deposits),
        usage=usage_service(db, config.data_dir, clock),
        jobs=jobs,
    )
    jobs.bind(ctx)
    return ctx


def create_app(config: RepositoryConfig, *, context: Context | None = None,
               faults: FaultProfile | None = None) -> Any:
    """The ASGI app for ``config``; pass ``context`` to share services with a test, ``faults`` to inject."""
    ctx = context or build_context(config)
    deposits, files, records = DepositResource(ctx), FilesResource(ctx), RecordResource(ctx)
    iiif = IIIFResource(ctx)
    rdm_api = rdm.RdmResource(ctx)
    bulk_worker = BulkWorker(ctx)  # bulk-ingest jobs (issue 14), resumed at start-up

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        removed = ctx.blobs.clean_temporary()
        if removed:
            log.warning("removed %d unfinished upload(s) left by an earlier crash", removed)
        preservation = preservation_of(ctx)
        if preservation is not None:
            await preservation.start()
        await bulk_worker.start()
        yield
        await bulk_worker.stop()
        if preservation is not None:
            await preservation.stop()
        ctx.deposits.db.dispose()

    async def openapi(_request: Request) -> Response:
        from depot.repository.resources.openapi import document

        return json_response(document(ctx.config.api_url))

    dep = "/api/deposit/depositions"
    routes = [
        Route(dep, deposits.list, methods=["GET"]),
        Route(dep, deposits.create, methods=["POST"]),
        Route(dep + "/{id}", deposits.read, methods=["GET"]),
        Route(dep + "/{id}", deposits.update, methods=["PUT"]),
        Route(dep + "/{id}", deposits.delete, methods=["DELETE"]),
        Route(dep + "/{id}/files", deposits.list_files, methods=["GET"]),
        Route(dep + "/{id}/files", deposits.upload_file, methods=["POST"]),
        Route(dep + "/{id}/files", deposits.not_implemented, methods=["PUT"]),
        Route(dep + "/{id}/files/{file_id}", deposits.read_file, methods=["GET"]),
        Route(dep + "/{id}/files/{file_id}", deposits.not_implemented, methods=["PUT"]),
        Route(dep + "/{id}/files/{file_id}", deposits.delete_file, methods=["DELETE"]),
        Route(dep + "/{id}/actions/{action}", deposits.action, methods=["POST"]),
        Route("/api/files/{bucket}", files.list_bucket, methods=["GET"]),
        Route("/api/files/{bucket}/{key:path}", files.put_object, methods=["PUT"]),
        Route("/api/files/{bucket}/{key:path}", files.get_object, methods=["GET"]),
        Route("/api/files/{bucket}/{key:path}", files.delete_object, methods=["DELETE"]),
        Route("/api/files/{bucket}/{key:path}", files.multipart_not_supported, methods=["POST"]),
        Route("/api/records", records.search, methods=["GET"]),
        Route("/api/records/{id}", records.read, methods=["GET"]),
        Route("/api/records/{id}/files", records.files, methods=["GET"]),
        Route("/api/records/{id}/files/{key:path}/content", files.record_file_content, methods=["GET"]),
        Route("/api/records/{id}/files/{key:path}", records.file, methods=["GET"]),
        Route("/api/records/{id}/draft/files/{key:path}/content", files.draft_file_content, methods=["GET"]),
        *rdm.routes(ctx, rdm_api),  # the InvenioRDM drafts API (issue 12)
        *uploads.routes(ctx),  # resumable uploads, tus 1.0 (issue 14)
        *bulk.routes(ctx, bulk_worker),  # bulk ingest of BagIt batches (issue 14)
        Route("/api/records/{id}/versions", records.versions, methods=["GET"]),
        Route("/api/records/{id}/versions/latest", records.latest, methods=["GET"]),
        Route("/api/communities", records.communities, methods=["GET"]),
        Route("/api/communities/{id}", records.community, methods=["GET"]),
        Route("/api/communities/{id}/listing", records.listing, methods=["GET"]),
        Route("/api/iiif/{ident}", iiif.base, methods=["GET"]),
        Route("/api/iiif/{ident}/info.json", iiif.info, methods=["GET"]),
        *manifest.routes(ctx),
        Route("/api/iiif/{ident}/{region}/{size}/{rotation}/{quality_format}", iiif.image, methods=["GET"]),
        Route("/api/openapi.json", openapi, methods=["GET"]),
        # Preservation and discovery (issue 5): each module owns its routes.
        *exports.routes(ctx),
        *oai.routes(ctx),
        *admin.routes(ctx),
        *pages.routes(ctx),
        *static.routes(),
        *badges.routes(ctx),
        *draftpage.routes(ctx),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        # Inside the rate limiter, so preflights count as on Zenodo; the limiter's own 429 carries the
        # CORS headers too (gateway.py).
        middleware=[Middleware(Cors), Middleware(AllowedMethods, routes=lambda: routes)],
        exception_handlers={
            RepositoryError: handle_repository_error,
            HTTPException: handle_http_exception,
            ClientDisconnect: handle_client_disconnect,
            Exception: handle_unexpected,
        },
    )
    app.router.redirect_slashes = False  # Zenodo answers a trailing slash with 404, not a redirect
    app.state.context = ctx
    outer: Any = Gateway(app, config, ctx.accounts.identity_for_token)
    if faults is not None:
        outer = FaultInjector(outer, faults, config.data_dir / "faults.log")
        logging.getLogger("uvicorn.error").addFilter(_quiet_injected_drops)
    if config.access_log:
        from depot.repository.resources.accesslog import AccessLog, open_log

        outer = AccessLog(outer, open_log(config.access_log))
    outer.context = ctx
    return outer


def _quiet_injected_drops(record: logging.LogRecord) -> bool:
    exc = record.exc_info[1] if record.exc_info else None
    return not isinstance(exc, InjectedDrop)
