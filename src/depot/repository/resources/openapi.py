"""The OpenAPI 3.1 description of the repository's HTTP API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
JSON = "application/json"


def _op(summary: str, responses: dict[int, str], *, body: str | None = None, tag: str = "deposit",
        params: tuple[str, ...] = (), public: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {str(code): {"description": text, **({"content": {JSON: {"schema": ERROR}}}
                                                             if code >= 400 else {})}
                      for code, text in responses.items()},
    }
    if params:
        op["parameters"] = [{"name": p, "in": "query", "required": False, "schema": {"type": "string"}}
                            for p in params]
    if body == "json":
        op["requestBody"] = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/DepositBody"}}}}
    elif body == "octet":
        op["requestBody"] = {"required": True, "content": {"application/octet-stream": {
            "schema": {"type": "string", "format": "binary"}}}}
    elif body == "multipart":
        op["requestBody"] = {"content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "format": "binary"}, "name": {"type": "string"}}, "required": ["file"]}}}}
    if public:
        op["security"] = []
    return op


AUTH = {403: "No, bad or foreign token", 404: "No such deposit"}


def document(api_url: str) -> dict[str, Any]:
    d = "/deposit/depositions"
    paths: dict[str, Any] = {
        d: {
            "get": _op("List your depositions", {200: "Array of depositions", 400: "Bad paging or query",
                                                 403: "Not authenticated"},
                       params=("q", "status", "sort", "page", "size", "all_versions")),
            "post": _op("Create a deposition", {201: "Created", 400: "Invalid metadata", 403: "Not authenticated",
                                                415: "Not JSON"}, body="json"),
        },
        d + "/{id}": {
            "get": _op("Read a deposition", {200: "Deposition", **AUTH}),
            "put": _op("Replace a draft's metadata", {200: "Updated", 400: "Invalid metadata", **AUTH},
                       body="json"),
            "delete": _op("Delete an unpublished deposition", {204: "Deleted", **AUTH}),
        },
        d + "/{id}/files": {
            "get": _op("List a deposition's files", {200: "Array of files", **AUTH}, tag="files"),
            "post": _op("Upload a file (multipart, ≤ 100 MiB)", {201: "Created", 400: "Bad name or duplicate",
                                                                 413: "Too large", **AUTH},
                        body="multipart", tag="files"),
            "put": _op("Sort files (not implemented, as on Zenodo)", {405: "Not allowed"}, tag="files"),
        },
        d + "/{id}/files/{file_id}": {
            "get": _op("Read a file", {200: "File", **AUTH}, tag="files"),
            "put": _op("Rename a file (not implemented, as on Zenodo)", {405: "Not allowed"}, tag="files"),
            "delete": _op("Delete a file", {204: "Deleted", **AUTH}, tag="files"),
        },
        "/files/{bucket}": {"get": _op("List a bucket", {200: "Bucket", **AUTH}, tag="files")},
        "/files/{bucket}/{key}": {
            "put": _op("Upload a file's bytes (streamed)", {201: "Stored; checksum is md5:<hex>",
                                                            400: "Bad name, empty, quota or file count",
                                                            415: "Not application/octet-stream", **AUTH},
                       body="octet", tag="files"),
            "get": _op("Download", {200: "The bytes", **AUTH}, tag="files"),
            "delete": _op("Delete", {204: "Deleted", **AUTH}, tag="files"),
            "post": _op("Multipart upload protocol (not on current Zenodo)", {405: "Not allowed"}, tag="files"),
        },
        "/records": {"get": _op("Search published records", {200: "Hits", 400: "Bad paging or query"},
                                tag="records", params=("q", "communities", "sort", "page", "size", "all_versions"),
                                public=True)},
        "/records/{id}": {"get": _op("Read a record (Zenodo JSON, or an export format by Accept)", {
            200: "Record", 302: "A concept id: to its newest version", 404: "No such record",
            406: "Accept names no format Depot serves",
            410: "Withdrawn (a tombstone)"}, tag="records", public=True)},
        "/records/{id}/files": {"get": _op("List a record's files", {200: "Files", 404: "No such record"},
                                           tag="records", public=True)},
        "/records/{id}/files/{key}/content": {"get": _op("Download a record's file", {
            200: "The bytes", 404: "Not found", 410: "Withdrawn"}, tag="records", public=True)},
        "/records/{id}/files/{key}": {"get": _op("A record's file metadata (by key, or by file id)", {
            200: "File entry", 404: "Not found", 410: "Withdrawn"}, tag="records", public=True)},
        "/records/{id}/draft": {"get": _op("The owner's open draft of a record (deposition JSON)", {
            200: "Deposition", 403: "No, bad or foreign token", 404: "No such record, or no open draft"},
            tag="records")},
        "/records/{id}/draft/files/{key}/content": {"get": _op("Download a deposition's file", {
            200: "The bytes", **AUTH}, tag="records")},
        "/records/{id}/versions": {"get": _op("List a record's versions", {200: "Hits", 404: "Not found"},
                                              tag="records", public=True)},
        "/records/{id}/versions/latest": {"get": _op("The latest version", {200: "Record", 404: "Not found"},
                                                     tag="records", public=True)},
        "/communities": {"get": _op("List communities", {200: "Hits"}, tag="communities", public=True)},
        "/communities/{id}": {"get": _op("Read a community", {200: "Community", 404: "Not found"},
                                         tag="communities", public=True)},
        "/communities/{id}/listing": {"get": _op("Every record of a community: DOI, title, keys, files (streamed)",
                                                 {200: "CSV or JSON", 400: "Bad format", 404: "Not found"},
                                                 tag="communities", params=("format", "all_versions"),
                                                 public=True)},
        "/iiif/{ident}/info.json": {"get": _op("IIIF Image API 3.0 information (ident record:<recid>:<file>)", {
            200: "info.json", 404: "No such image", 410: "Withdrawn"}, tag="iiif", public=True)},
        "/iiif/{ident}/{region}/{size}/{rotation}/{quality_format}": {"get": _op("IIIF Image API 3.0 image", {
            200: "The image", 400: "Bad parameter", 404: "No such image", 410: "Withdrawn",
            501: "Not implemented"}, tag="iiif", public=True)},
        "/admin/fixity": {"get": _op("Fixity audit: last runs, current problems, bag queue (admin token)", {
            200: "Report", 403: "Not the admin token"}, tag="admin")},
    }
    for action, code in (("publish", 202), ("edit", 201), ("discard", 204), ("newversion", 201)):
        paths[f"{d}/{{id}}/actions/{action}"] = {"post": _op(f"Action: {action}", {
            code: "Done", 400: "Validation error (RDM field paths)", **AUTH}, tag="actions")}
    for path, item in paths.items():
        names = [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]
        for op in item.values():
            op["parameters"] = params + op.get("parameters", [])
    return {
        "openapi": "3.1.0",
        "info": {"title": "Depot repository API (Zenodo-compatible)", "version": "1"},
        "servers": [{"url": api_url}],
        "security": [{"bearer": []}, {"access_token": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "access_token": {"type": "apiKey", "in": "query", "name": "access_token"},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["status", "message"], "properties": {
                    "status": {"type": "integer"}, "message": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object", "properties": {
                        "field": {"type": "string"}, "messages": {"type": "array", "items": {"type": "string"}}}}},
                }},
                "DepositBody": {"type": "object", "additionalProperties": False,
                                "properties": {"metadata": {"type": "object"}}},
            },
        },
    }
