"""IIIF Image API 3.0 endpoints for image files of published records: /api/iiif/record:<recid>:<key>/..."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from depot.repository.context import Context
from depot.repository.errors import NotFoundError
from depot.repository.iiif.params import FORMATS, IIIFError, info, resolve
from depot.repository.resources.files import healer_of
from depot.repository.resources.http import json_response
from depot.repository.services.ids import parse_id
from depot.repository.services.keys import lookup_key

IMAGE_TYPES = {"image/jpeg", "image/png", "image/tiff", "image/webp", "image/gif", "image/jp2"}
PROFILE_LINK = '<http://iiif.io/api/image/3/level2.json>;rel="profile"'


@lru_cache(maxsize=4096)
def _dimensions(path: str, _file_id: str) -> tuple[int, int]:
    from depot.repository.iiif.images import dimensions

    return dimensions(Path(path))


class IIIFResource:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.healer = healer_of(ctx)

    def _image(self, ident: str) -> tuple[Path, str, str]:
        parts = ident.split(":", 2)
        record_id = parse_id(parts[1]) if len(parts) == 3 and parts[0] == "record" else None
        if record_id is None:
            raise NotFoundError("Unknown image identifier; use record:<recid>:<file name>.")
        deposit = self.ctx.records.read(record_id)
        for f in deposit.files:
            if lookup_key(f.key) == lookup_key(parts[2]) and f.mimetype in IMAGE_TYPES:
                return self.healer.source(f), f.file_id, parts[2]  # flagged: a verified copy, or 410
        raise NotFoundError("The record has no image file of that name.")

    def _base(self, ident: str) -> str:
        return f"{self.ctx.links.api}/iiif/{quote(ident, safe=':')}"

    async def base(self, request: Request) -> Response:
        return RedirectResponse(self._base(request.path_params["ident"]) + "/info.json", status_code=303)

    async def info(self, request: Request) -> Response:
        ident = request.path_params["ident"]
        path, file_id, _ = await anyio.to_thread.run_sync(self._image, ident)
        width, height = await anyio.to_thread.run_sync(_dimensions, str(path), file_id)
        accept = request.headers.get("accept", "")
        media = "application/ld+json" if "application/ld+json" in accept else "application/json"
        response = json_response(info(self._base(ident), width, height))
        response.headers["content-type"] = media
        response.headers["link"] = PROFILE_LINK
        response.headers["access-control-allow-origin"] = "*"
        return response

    async def image(self, request: Request) -> Response:
        from depot.repository.iiif.images import render

        p = request.path_params
        path, file_id, _ = await anyio.to_thread.run_sync(self._image, p["ident"])
        width, height = await anyio.to_thread.run_sync(_dimensions, str(path), file_id)
        try:
            op = resolve(p["region"], p["size"], p["rotation"], p["quality_format"], width, height)
        except IIIFError as exc:
            return json_response({"status": exc.status, "message": exc.message}, exc.status)
        data = await anyio.to_thread.run_sync(render, path, op)
        return Response(data, media_type=FORMATS[op.format], headers={
            "link": PROFILE_LINK, "access-control-allow-origin": "*", "cache-control": "public, max-age=86400"})
