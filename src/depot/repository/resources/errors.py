"""The one table from domain errors to HTTP statuses, and Zenodo's error body for each (spec §3.4)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from depot.repository import errors as e
from depot.repository.resources.cors import cors_headers, is_api
from depot.repository.resources.http import json_response

log = logging.getLogger("depot.repository")

STATUS: dict[type[e.RepositoryError], int] = {
    e.NotFoundError: 404,
    e.PermissionDeniedError: 403,
    e.ValidationError: 400,
    e.ConflictError: 400,
    e.UnsupportedMediaError: 415,
    e.MethodNotAllowedError: 405,
    e.GoneError: 410,  # InvenioRDM's answer for a deleted record (and its files and IIIF)
    e.ContentLostError: 410,  # the content is gone too, until an operator restores it (docs/api.md)
    e.RateLimitedError: 429,
    e.InvalidStateError: 404,  # overridden by the error's own ``status``
    e.QuotaExceededError: 400,  # idem
    e.UploadError: 409,  # idem (tus: 409, 412, 423, 460)
}

# werkzeug's texts, which Zenodo's flask-resources error handlers pass through.
HTTP_MESSAGES = {
    404: "The requested URL was not found on the server. If you entered the URL manually please check your "
         "spelling and try again.",
    405: "The method is not allowed for the requested URL.",
    413: "The data value transmitted exceeds the capacity limit.",
}


def error_body(exc: e.RepositoryError) -> tuple[int, dict[str, Any]]:
    status = getattr(exc, "status", None) or STATUS.get(type(exc), 400)
    body: dict[str, Any] = {"status": status, "message": exc.message}
    if isinstance(exc, e.ValidationError) and exc.errors:
        body["errors"] = [{"field": fe.field, "messages": list(fe.messages)} for fe in exc.errors]
    return status, body


async def handle_repository_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, e.RepositoryError)
    status, body = error_body(exc)
    headers = {"Retry-After": str(max(0, exc.reset))} if isinstance(exc, e.RateLimitedError) else None
    return json_response(body, status, headers=headers)


async def handle_http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = HTTP_MESSAGES.get(exc.status_code) or str(exc.detail)
    return json_response({"status": exc.status_code, "message": message}, exc.status_code)


async def handle_client_disconnect(request: Request, _exc: Exception) -> Response:
    """The client went away before sending its whole body: routine on a network, so one INFO line and no
    traceback; the upload's partial file is already gone (``BlobStore.write_stream``)."""
    log.info("client %s disconnected during %s %s", request.client.host if request.client else "-",
             request.method, request.url.path)
    return Response(b"", status_code=499)  # nginx's "client closed request": nobody reads it, the access log does


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """A 500 with Zenodo's body and an id to quote. Starlette answers it outside every middleware, so the
    CORS headers are added here: a script in a browser can then read the error instead of a CORS failure."""
    error_id = str(uuid.uuid4())
    log.exception("unhandled error %s", error_id, exc_info=exc)
    response = json_response({"status": 500, "message": "The server encountered an internal error and was unable "
                              "to complete your request. Either the server is overloaded or there is an error in "
                              "the application.", "error_id": error_id}, 500)
    if is_api(request.scope):
        response.raw_headers.extend(cors_headers())
    return response
