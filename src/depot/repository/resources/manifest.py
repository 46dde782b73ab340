"""IIIF Presentation 3 manifests of published records with images: /api/iiif/record:<recid>/manifest."""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from depot.repository.context import Context
from depot.repository.errors import NotFoundError
from depot.repository.iiif.manifest import Image, manifest
from depot.repository.resources.http import json_response
from depot.repository.resources.iiif import IMAGE_TYPES, _dimensions
from depot.repository.serializers.published import published_record
from depot.repository.services.ids import parse_id
from depot.repository.services.views import Deposit

MEDIA_TYPE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'


def images_of(ctx: Context, deposit: Deposit) -> list[Image]:
    """Each image file of ``deposit`` with its size; one that cannot be read is left out, not the manifest."""
    out = []
    for f in deposit.files:
        if f.mimetype not in IMAGE_TYPES:
            continue
        try:
            width, height = _dimensions(str(ctx.blobs.path(f.uri)), f.file_id)
        except Exception:
            continue
        out.append(Image(f.key, width, height))
    return out


def record_manifest(ctx: Context, deposit: Deposit) -> dict[str, object]:
    images = images_of(ctx, deposit)
    if not images:
        raise NotFoundError("The record has no image files, so it has no IIIF manifest.")
    return manifest(published_record(ctx, deposit), images, ctx.links.api,
                    export_url=f"{ctx.links.base}/records/{deposit.id}/export/json-ld")


class ManifestResource:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _build(self, ident: str) -> dict[str, object]:
        kind, _, raw = ident.partition(":")
        record_id = parse_id(raw) if kind == "record" else None
        if record_id is None:
            raise NotFoundError("Unknown manifest identifier; use record:<recid>.")
        return record_manifest(self.ctx, self.ctx.records.read(record_id))

    async def read(self, request: Request) -> Response:
        doc = await anyio.to_thread.run_sync(self._build, request.path_params["ident"])
        response = json_response(doc)
        response.headers["content-type"] = MEDIA_TYPE
        response.headers["access-control-allow-origin"] = "*"  # viewers on other sites load it (IIIF's norm)
        return response


def routes(ctx: Context) -> list[BaseRoute]:
    return [Route("/api/iiif/{ident}/manifest", ManifestResource(ctx).read, methods=["GET"])]
