"""Record exports (issue 5): ``/records/{id}/export/{name}`` and content negotiation for ``GET /api/records/{id}``."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from depot.repository.context import Context
from depot.repository.errors import NotFoundError
from depot.repository.exports import registry
from depot.repository.resources.http import json_response, path_int
from depot.repository.serializers.published import published_record


def record_json(ctx: Context, record_id: int) -> dict[str, Any]:
    """The records-API JSON of a published record (404 for unknown or unpublished ids)."""
    return published_record(ctx, ctx.records.read(record_id))


def acceptable(request: Request) -> tuple[str, registry.Format]:
    """The format the Accept header asks for, or Zenodo's 406 (flask-resources ``MIMETypeNotAccepted``)."""
    chosen = registry.negotiate(request.headers.get("accept"))
    if chosen is None:
        raise HTTPException(406, "Invalid 'Accept' header. Expected one of: "
                                 + ", ".join(registry.supported_media_types()))
    return chosen


def render(record: dict[str, Any], media_type: str, fmt: registry.Format,
           headers: dict[str, str] | None = None) -> Response:
    if fmt.name == "json":  # byte for byte what the records API has always answered
        return json_response(record, headers={**(headers or {}), "content-type": media_type})
    return Response(fmt.render(record), media_type=media_type, headers=headers)


def routes(ctx: Context) -> list[BaseRoute]:
    async def export(request: Request) -> Response:
        fmt = registry.BY_NAME.get(request.path_params["name"])
        record_id = path_int(request, "id")
        if fmt is None:
            raise NotFoundError("The requested export format does not exist.")
        record = record_json(ctx, record_id)
        headers = {}
        if request.query_params.get("download") in ("1", "true"):
            headers["content-disposition"] = f'attachment; filename="{record_id}.{fmt.extension}"'
        return render(record, fmt.media_type, fmt, headers)

    return [Route("/records/{id}/export/{name}", export, methods=["GET"])]
