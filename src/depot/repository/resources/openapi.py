"""The OpenAPI 3.1 description of the repository's HTTP API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
JSON = "application/json"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


# What a success answers, by name: a schema (JSON), BYTES (a file's content, any type) or a dict of media types.
BYTES = "bytes"
INTEGER_QUERY = {"page", "size"}


def _content(code: int, returns: str | dict[str, Any] | None) -> dict[str, Any]:
    if code >= 400:
        return {"content": {JSON: {"schema": ERROR}}}
    if code == 204 or code >= 300 or returns is None:
        return {}
    if returns == BYTES:
        return {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}
    if isinstance(returns, dict):
        return {"content": returns}
    return {"content": {JSON: {"schema": _ref(returns)}}}


def _op(summary: str, responses: dict[int, str], *, body: str | None = None, tag: str = "deposit",
        params: tuple[str, ...] = (), public: bool = False,
        returns: str | dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": {str(code): {"description": text, **_content(code, returns)}
                      for code, text in responses.items()},
    }
    if params:
        op["parameters"] = [{"name": p, "in": "query", "required": False,
                             "schema": {"type": "integer", "minimum": 1} if p in INTEGER_QUERY else {"type": "string"}}
                            for p in params]
    if body == "json":
        op["requestBody"] = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/DepositBody"}}}}
    elif body == "rdm":
        op["requestBody"] = {"content": {JSON: {"schema": {"type": "object", "properties": {
            "metadata": {"type": "object"}, "access": {"type": "object"}, "files": {"type": "object"},
            "custom_fields": {"type": "object"}, "pids": {"type": "object"}}}}}}
    elif body == "rdm-files":
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": {"type": "array", "items": {
            "type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}}}}}}
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
LOST = "the stored file failed fixity and no verified copy exists"
_LINKS = {"type": "object", "additionalProperties": {"type": "string"}}
SCHEMAS: dict[str, Any] = {
    "Object": {"type": "object"},
    "Deposition": {"type": "object", "required": ["id", "links", "metadata", "state", "submitted"], "properties": {
        "id": {"type": "integer"}, "record_id": {"type": "integer"}, "conceptrecid": {"type": "string"},
        "links": _LINKS, "metadata": {"type": "object"}, "state": {"type": "string"},
        "submitted": {"type": "boolean"}, "files": {"type": "array", "items": _ref("DepositionFile")}}},
    "Depositions": {"type": "array", "items": _ref("Deposition")},
    "DepositionFile": {"type": "object", "required": ["id", "filename", "filesize", "checksum", "links"],
                       "properties": {"id": {"type": "string"}, "filename": {"type": "string"},
                                      "filesize": {"type": "integer"}, "checksum": {"type": "string"},
                                      "links": _LINKS}},
    "DepositionFiles": {"type": "array", "items": _ref("DepositionFile")},
    "BucketObject": {"type": "object", "required": ["key", "size", "checksum", "links"], "properties": {
        "key": {"type": "string"}, "size": {"type": "integer"}, "checksum": {"type": "string"}, "links": _LINKS}},
    "Bucket": {"type": "object", "required": ["id", "contents", "links"], "properties": {
        "id": {"type": "string"}, "contents": {"type": "array", "items": _ref("BucketObject")}, "links": _LINKS}},
    "Record": {"type": "object", "required": ["id", "metadata", "links"], "properties": {
        "id": {"type": "integer"}, "doi": {"type": "string"}, "metadata": {"type": "object"},
        "links": {"type": "object"}, "files": {"type": "array"}}},
    "Hits": {"type": "object", "required": ["hits"], "properties": {"hits": {
        "type": "object", "required": ["hits", "total"],
        "properties": {"hits": {"type": "array"}, "total": {"type": "integer"}}}}},
}


def _rdm_paths() -> dict[str, Any]:
    """The InvenioRDM drafts API (docs/api.md "InvenioRDM records API"): RDM JSON with Accept
    application/vnd.inveniordm.v1+json, Zenodo's JSON of a draft or record for plain JSON."""
    bad = {400: "Validation error (every field at once)", 403: "No, bad or foreign token", 404: "No such draft"}
    obj = "Object"
    d = "/records/{id}/draft"
    return {
        "/records": {"post": _op("Create a draft (RDM body)", {201: "Draft", 400: bad[400], 403: bad[403],
                                                               413: "Body too large", 415: "Not JSON"},
                                 body="rdm", tag="rdm", returns=obj)},
        "/user/records": {"get": _op("The caller's drafts and records", {200: "Hits", 400: "Bad paging, sort or "
                                                                         "query", 403: bad[403]},
                                     tag="rdm", params=("q", "sort", "page", "size", "allversions"), returns="Hits")},
        d: {
            "get": _op("Read a draft", {200: "Draft", 403: bad[403], 404: bad[404]}, tag="rdm", returns=obj),
            "put": _op("Replace a draft's metadata (RDM body)", {200: "Draft", **bad, 413: "Body too large",
                                                                 415: "Not JSON"}, body="rdm", tag="rdm",
                       returns=obj),
            "delete": _op("Discard a draft (deletes a never-published record)", {204: "Deleted", **bad}, tag="rdm"),
            "post": _op("Edit a published record (opens its draft)", {201: "Draft", **bad, 410: "Withdrawn"},
                        tag="rdm", returns=obj),
        },
        d + "/pids/doi": {
            "post": _op("Reserve the DOI publish will mint", {201: "Draft", **bad}, tag="rdm", returns=obj),
            "delete": _op("Drop a reserved DOI", {204: "Dropped", **bad}, tag="rdm"),
        },
        d + "/actions/publish": {"post": _op("Publish", {202: "Record", **bad}, tag="rdm", returns=obj)},
        d + "/actions/files-import": {"post": _op("Import the previous version's files", {201: "Files", **bad},
                                                  tag="rdm", returns=obj)},
        d + "/files": {
            "get": _op("List a draft's files", {200: "Files", **bad}, tag="rdm", returns=obj),
            "post": _op("Start uploads: a list of {key}", {201: "Files", **bad, 413: "Body too large",
                                                           415: "Not JSON"}, body="rdm-files", tag="rdm",
                        returns=obj),
        },
        d + "/files/{key}": {
            "get": _op("A draft file's entry", {200: "File entry", **bad}, tag="rdm", returns=obj),
            "delete": _op("Delete a draft file", {204: "Deleted", **bad}, tag="rdm"),
        },
        d + "/files/{key}/content": {
            "put": _op("Upload an initialised file's bytes", {200: "File entry (pending)", **bad,
                                                              415: "Not application/octet-stream"},
                       body="octet", tag="rdm", returns=obj),
        },
        d + "/files/{key}/commit": {"post": _op("Complete an upload", {200: "File entry (completed)", **bad},
                                                tag="rdm", returns=obj)},
        "/records/{id}/versions": {"post": _op("New version (a draft without files)", {201: "Draft", **bad,
                                                                                         410: "Withdrawn"},
                                               tag="rdm", returns=obj)},
    }


def _ref_of(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def _link_ids(paths: dict[str, Any], d: str) -> None:
    """OpenAPI links: the id a create or a publish answers feeds the operations on that deposit or record
    (what a client does next, and what a stateful fuzzer follows)."""
    by_id = {"id": "$response.body#/id"}
    follow = {
        (d, "post", "201"): [(d + "/{id}", m) for m in ("get", "put", "delete")]
        + [(d + "/{id}/files", "get"), (d + "/{id}/files", "post")]
        + [(f"{d}/{{id}}/actions/{a}", "post") for a in ("publish", "discard")],
        (d + "/{id}/actions/publish", "post", "202"): [
            ("/records/{id}", "get"), ("/records/{id}/files", "get"), ("/records/{id}/versions", "get"),
            (d + "/{id}/actions/edit", "post"), (d + "/{id}/actions/newversion", "post")],
    }
    for (path, method, code), targets in follow.items():
        paths[path][method]["responses"][code]["links"] = {
            f"{m.title()}{t.replace('/', '_').replace('{', '').replace('}', '')}": {
                "operationRef": _ref_of(t, m), "parameters": by_id} for t, m in targets}


def _upload_paths() -> dict[str, Any]:
    """Resumable uploads, tus 1.0 (docs/api.md): the headers are the protocol; bodies only on errors."""
    def header(name: str, required: bool = True) -> dict[str, Any]:
        return {"name": name, "in": "header", "required": required, "schema": {"type": "string"}}

    tus = header("Tus-Resumable")
    create = _op("Create a resumable upload (tus creation): Upload-Length, Upload-Metadata 'bucket <b64>,filename "
                 "<b64>'; Location in the answer", {201: "Created (Location, Upload-Expires)",
                                                    400: "No Upload-Length, bad Upload-Metadata, empty, or too many "
                                                         "open uploads", 403: "Not authenticated, no deposit:write, "
                                                    "or not your bucket", 404: "No such bucket", 412: "Tus-Resumable "
                                                    "is not 1.0.0", 413: "Above Tus-Max-Size or the record's quota"},
                 tag="uploads")
    create["parameters"] = [tus, header("Upload-Length"), header("Upload-Metadata")]
    head = _op("Offset of an upload (tus core)", {200: "Upload-Offset, Upload-Length", 403: "Not authenticated",
                                                  404: "No such upload (or not yours, or expired)",
                                                  409: "Its bytes on disk are not its length (DELETE it)",
                                                  412: "Tus-Resumable is not 1.0.0"}, tag="uploads")
    head["parameters"] = [tus]
    for answer in head["responses"].values():  # a HEAD has no body, an error's neither
        answer.pop("content", None)
    patch = _op("Append bytes at Upload-Offset (tus core, checksum); the last PATCH attaches the file to the "
                "bucket", {204: "Stored and fsynced (Upload-Offset)", 400: "Bad Upload-Checksum or no Upload-Offset",
                           403: "Not authenticated, or the draft was published meanwhile", 404: "No such upload",
                           412: "Tus-Resumable is not 1.0.0", 409: "Upload-Offset is not the upload's offset",
                           413: "Past Upload-Length", 415: "Not application/offset+octet-stream",
                           423: "Another PATCH of this upload is in progress",
                           460: "Upload-Checksum mismatch (bytes discarded)"}, tag="uploads")
    patch["parameters"] = [tus, header("Upload-Offset"), header("Upload-Checksum", False)]
    patch["requestBody"] = {"required": True, "content": {"application/offset+octet-stream": {
        "schema": {"type": "string", "format": "binary"}}}}
    delete = _op("Terminate an upload (tus termination)", {204: "Deleted", 403: "Not authenticated",
                                                           404: "No such upload", 412: "Tus-Resumable is not 1.0.0",
                                                           423: "A PATCH of it is in progress"}, tag="uploads")
    delete["parameters"] = [tus]
    options = _op("What the server speaks: Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm",
                  {204: "Capabilities"}, tag="uploads", public=True)
    return {"/uploads": {"options": options, "post": create},
            "/uploads/{id}": {"options": dict(options), "head": head, "patch": patch, "delete": delete}}


def document(api_url: str) -> dict[str, Any]:
    d = "/deposit/depositions"
    paths: dict[str, Any] = {
        d: {
            "get": _op("List your depositions", {200: "Array of depositions", 400: "Bad paging or query",
                                                 403: "Not authenticated"},
                       params=("q", "status", "sort", "page", "size", "all_versions"), returns="Depositions"),
            "post": _op("Create a deposition", {201: "Created", 400: "Invalid metadata", 403: "Not authenticated",
                                                415: "Not JSON"}, body="json",
                        returns="Deposition"),
        },
        d + "/{id}": {
            "get": _op("Read a deposition", {200: "Deposition", **AUTH}, returns="Deposition"),
            "put": _op("Replace a draft's metadata", {200: "Updated", 400: "Invalid metadata", **AUTH},
                       body="json", returns="Deposition"),
            "delete": _op("Delete an unpublished deposition", {204: "Deleted", **AUTH}),
        },
        d + "/{id}/files": {
            "get": _op("List a deposition's files", {200: "Array of files", **AUTH}, tag="files",
                       returns="DepositionFiles"),
            "post": _op("Upload a file (multipart, ≤ 100 MiB)", {201: "Created", 400: "Bad name or duplicate",
                                                                 413: "Too large", **AUTH},
                        body="multipart", tag="files", returns="DepositionFile"),
            "put": _op("Sort files (not implemented, as on Zenodo)", {405: "Not allowed", **AUTH}, tag="files"),
        },
        d + "/{id}/files/{file_id}": {
            "get": _op("Read a file", {200: "File", **AUTH}, tag="files", returns="DepositionFile"),
            "put": _op("Rename a file (not implemented, as on Zenodo)", {405: "Not allowed", **AUTH}, tag="files"),
            "delete": _op("Delete a file", {204: "Deleted", **AUTH}, tag="files"),
        },
        "/files/{bucket}": {"get": _op("List a bucket", {200: "Bucket", **AUTH}, tag="files", returns="Bucket")},
        "/files/{bucket}/{key}": {
            "put": _op("Upload a file's bytes (streamed)", {201: "Stored; checksum is md5:<hex>",
                                                            400: "Bad name, empty, quota or file count",
                                                            415: "Not application/octet-stream", **AUTH},
                       body="octet", tag="files", returns="BucketObject"),
            "get": _op("Download", {200: "The bytes", **AUTH, 410: LOST}, tag="files", returns=BYTES),
            "delete": _op("Delete", {204: "Deleted", **AUTH}, tag="files"),
            "post": _op("Multipart upload protocol (not on current Zenodo)", {405: "Not allowed"}, tag="files"),
        },
        "/records": {"get": _op("Search published records", {200: "Hits", 400: "Bad paging or query"},
                                tag="records", params=("q", "communities", "sort", "page", "size", "all_versions"),
                                public=True, returns="Hits")},
        "/records/{id}": {"get": _op("Read a record (Zenodo JSON, or an export format by Accept)", {
            200: "Record", 302: "A concept id: to its newest version", 404: "No such record",
            406: "Accept names no format Depot serves", 410: "Withdrawn (a tombstone)"}, tag="records", public=True,
            returns={JSON: {"schema": _ref("Record")}, "*/*": {"schema": {}}})},
        "/records/{id}/files": {"get": _op("List a record's files", {200: "Files", 404: "No such record",
                                                                     410: "Withdrawn"},
                                           tag="records", public=True, returns="Object")},
        "/records/{id}/files/{key}/content": {"get": _op("Download a record's file", {
            200: "The bytes", 404: "Not found", 410: "Withdrawn, or " + LOST}, tag="records", public=True,
            returns=BYTES)},
        "/records/{id}/files/{key}": {"get": _op("A record's file metadata (by key, or by file id)", {
            200: "File entry", 404: "Not found", 410: "Withdrawn"}, tag="records", public=True, returns="Object")},
        "/records/{id}/draft/files/{key}/content": {"get": _op("Download a deposition's file", {
            200: "The bytes", **AUTH, 410: LOST}, tag="records", returns=BYTES)},
        "/records/{id}/versions": {"get": _op("List a record's versions", {200: "Hits", 404: "Not found"},
                                              tag="records", public=True, returns="Hits")},
        "/records/{id}/versions/latest": {"get": _op("The latest version", {200: "Record", 404: "Not found"},
                                                     tag="records", public=True, returns="Record")},
        "/communities": {"get": _op("List communities", {200: "Hits"}, tag="communities", public=True,
                                    returns="Hits")},
        "/communities/{id}": {"get": _op("Read a community", {200: "Community", 404: "Not found"},
                                         tag="communities", public=True, returns="Object")},
        "/communities/{id}/listing": {"get": _op("Every record of a community: DOI, title, keys, files (streamed)",
                                                 {200: "CSV or JSON", 400: "Bad format", 404: "Not found"},
                                                 tag="communities", params=("format", "all_versions"),
                                                 public=True, returns={"text/csv": {"schema": {"type": "string"}},
                                                                       JSON: {"schema": {}}})},
        "/iiif/{ident}/info.json": {"get": _op("IIIF Image API 3.0 information (ident record:<recid>:<file>)", {
            200: "info.json", 404: "No such image", 410: "Withdrawn, or " + LOST}, tag="iiif", public=True,
            returns={JSON: {"schema": _ref("Object")}, "application/ld+json": {"schema": _ref("Object")}})},
        "/iiif/{ident}/manifest": {"get": _op("IIIF Presentation API 3.0 manifest of a record (ident record:<recid>)", {
            200: "Manifest", 404: "No such record, or it has no images", 410: "Withdrawn"}, tag="iiif", public=True,
            returns={"application/ld+json": {"schema": _ref("Object")}})},
        "/iiif/{ident}/{region}/{size}/{rotation}/{quality_format}": {"get": _op("IIIF Image API 3.0 image", {
            200: "The image", 400: "Bad parameter", 404: "No such image", 410: "Withdrawn, or " + LOST,
            501: "Not implemented"}, tag="iiif", public=True, returns=BYTES)},
        "/admin/fixity": {"get": _op("Fixity audit: last runs, current problems, bag queue (admin token)", {
            200: "Report", 403: "Not the admin token"}, tag="admin", returns="Object")},
    }
    paths.update(_upload_paths())
    for path, item in _rdm_paths().items():  # beside the records API's own methods on the same paths
        paths.setdefault(path, {}).update(item)
    for action, code in (("publish", 202), ("edit", 201), ("discard", 204), ("newversion", 201)):
        paths[f"{d}/{{id}}/actions/{action}"] = {"post": _op(f"Action: {action}", {
            code: "Done", 400: "Validation error (RDM field paths)", **AUTH}, tag="actions",
            returns="Deposition")}
    _link_ids(paths, d)
    for path, item in paths.items():
        names = [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]
        # Record and deposition ids are Zenodo's: positive integers (a community's id is a slug or a UUID).
        params = [{"name": n, "in": "path", "required": True,
                   "schema": {"type": "integer", "minimum": 1}
                   if n == "id" and not path.startswith(("/communities", "/uploads")) else {"type": "string"}}
                  for n in names]
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
                **SCHEMAS,
                "DepositBody": {"type": "object", "additionalProperties": False,
                                "properties": {"metadata": {"type": "object"}}},
            },
        },
    }
