"""HTTP handlers of the records API and communities (/api/records, /api/communities)."""

from __future__ import annotations

from collections.abc import Iterator

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from depot.metadata import FieldError
from depot.repository.context import Context
from depot.repository.errors import NotFoundError, ValidationError
from depot.repository.resources.exports import acceptable, render
from depot.repository.resources.http import (
    bool_param,
    facet_filters,
    identity,
    int_param,
    json_response,
    off_loop,
    path_int,
    path_key,
    tagged_json,
    with_etag,
)
from depot.repository.serializers import zenodo as serialize
from depot.repository.serializers.published import published_record
from depot.repository.services.accounts import Community
from depot.repository.services.keys import lookup_key
from depot.repository.services.records import RecordSearch
from depot.repository.services.views import Deposit


class RecordResource:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _record(self, deposit: Deposit, *, is_last: bool | None = None,
                request: Request | None = None) -> dict[str, object]:
        """Zenodo JSON of a record; InvenioRDM's when ``request`` asks for it by Accept."""
        from depot.repository.serializers.rdm import rdm, wants_rdm

        if request is not None and wants_rdm(request.headers.get("accept")):
            index, latest = self.ctx.records.version_position(deposit)
            accepted = [slug for slug, status in self.ctx.records.communities_of(deposit.concept_id)
                        if status == "accepted"]
            return rdm(self.ctx.links, deposit, draft=False, version_index=index, is_latest=latest,
                       communities=accepted)
        return published_record(self.ctx, deposit, is_last=is_last)

    @off_loop
    def read(self, request: Request) -> Response:
        from depot.repository.serializers.rdm import RDM_JSON, wants_rdm

        rdm_json = wants_rdm(request.headers.get("accept"))
        if not rdm_json:
            media_type, fmt = acceptable(request)  # 406 before any lookup, as flask-resources does
        record_id = path_int(request, "id")
        try:
            deposit = self.ctx.records.read(record_id)
        except NotFoundError:
            # A concept id (``conceptrecid``, ``links.parent``) stands for its newest version.
            newest = self.ctx.records.concept_latest(record_id)
            return RedirectResponse(f"/api/records/{newest.id}{_query(request)}", status_code=302)
        if rdm_json:  # InvenioRDM's own JSON; plain JSON stays Zenodo's (docs/api.md)
            return with_etag(json_response(self._record(deposit, request=request), headers={"content-type": RDM_JSON}))
        return with_etag(render(self._record(deposit), media_type, fmt))

    @off_loop
    def latest(self, request: Request) -> Response:
        return tagged_json(self._record(self.ctx.records.latest(path_int(request, "id")), is_last=True,
                                        request=request))

    @off_loop
    def file(self, request: Request) -> Response:
        """A published file's metadata (InvenioRDM's file entry), by key; by file id too, as the
        ``links.self`` of a published deposition's files names it."""
        deposit = self.ctx.records.read(path_int(request, "id"))
        key = path_key(request)
        found = next((f for f in deposit.files if lookup_key(f.key) == key), None)
        found = found or next((f for f in deposit.files if f.file_id == key), None)
        if found is None:
            raise NotFoundError("File does not exist.")
        return json_response(serialize.record_file_entry(self.ctx.links, deposit, found))

    @off_loop
    def versions(self, request: Request) -> Response:
        found = self.ctx.records.versions(path_int(request, "id"))
        hits = [self._record(d, is_last=i == len(found) - 1, request=request) for i, d in enumerate(found)]
        return json_response({"hits": {"hits": hits, "total": len(hits)}})

    @off_loop
    def files(self, request: Request) -> Response:
        deposit = self.ctx.records.read(path_int(request, "id"))
        entries = [serialize.record_file(self.ctx.links, deposit, f) for f in deposit.files]
        return json_response({"enabled": True, "entries": entries, "order": [], "default_preview": None})

    @off_loop
    def search(self, request: Request) -> Response:
        params = RecordSearch(
            q=request.query_params.get("q"), communities=request.query_params.get("communities"),
            sort=request.query_params.get("sort"), page=int_param(request, "page", 1),
            size=int_param(request, "size", 10), all_versions=bool_param(request, "all_versions"),
            filters=facet_filters(request))
        page = self.ctx.records.search(identity(request), params)
        hits = [self._record(d, request=request) for d in page.hits]
        links = {"self": str(request.url)}
        if params.page > 1:
            links["prev"] = str(request.url.include_query_params(page=params.page - 1))
        if params.page * params.size < page.total:
            links["next"] = str(request.url.include_query_params(page=params.page + 1))
        return json_response({"hits": {"hits": hits, "total": page.total}, "aggregations": page.aggregations,
                              "links": links,
                              "sortBy": params.sort or ("bestmatch" if params.q else "mostrecent")})

    @off_loop
    def communities(self, request: Request) -> Response:
        found = self.ctx.accounts.list_communities()
        hits = [_community(c) for c in found]
        return json_response({"hits": {"hits": hits, "total": len(hits)}})

    @off_loop
    def listing(self, request: Request) -> Response:
        """Every record of a community in one streamed CSV or JSON answer (issue 5)."""
        import csv
        import io

        import orjson
        from starlette.responses import StreamingResponse

        from depot.repository.services.listing import iter_listing

        community = self.ctx.accounts.get_community(request.path_params["id"])
        fmt = request.query_params.get("format", "json")
        if fmt not in {"json", "csv"}:
            raise ValidationError([FieldError("format", ("Must be one of: csv, json.",))])
        rows = iter_listing(self.ctx.deposits.db, community.id, all_versions=bool_param(request, "all_versions"))
        doi_url = self.ctx.links.doi_url

        def as_json() -> Iterator[bytes]:
            # Chunks of 200 rows: every chunk crosses from a worker thread to the event loop.
            chunk = [b"["]
            for i, row in enumerate(rows):
                chunk.append((b"," if i else b"") + b"\n" + orjson.dumps(row))
                if len(chunk) >= 200:
                    yield b"".join(chunk)
                    chunk = []
            chunk.append(b"\n]\n")
            yield b"".join(chunk)

        def as_csv() -> Iterator[bytes]:
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(["recid", "doi", "doi_url", "title", "keys", "file", "size", "checksum"])
            for n, row in enumerate(rows):
                for f in row["files"] or [{}]:
                    writer.writerow([row["recid"], row["doi"], doi_url(row["doi"]), row["title"],
                                     " ".join(k for k in row["keys"] if k), f.get("key"), f.get("size"),
                                     f.get("checksum")])
                if n % 200 == 0:
                    yield buf.getvalue().encode()
                    buf.seek(0)
                    buf.truncate()
            yield buf.getvalue().encode()

        body, media = (as_csv(), "text/csv; charset=utf-8") if fmt == "csv" else (as_json(), "application/json")
        name = f"{community.slug}-listing.{fmt}"
        return StreamingResponse(body, media_type=media,
                                 headers={"content-disposition": f'attachment; filename="{name}"'})

    @off_loop
    def community(self, request: Request) -> Response:
        return json_response(_community(self.ctx.accounts.get_community(request.path_params["id"])))


def _query(request: Request) -> str:
    query = request.url.query
    return f"?{query}" if query else ""


def _community(c: Community) -> dict[str, object]:
    links = {"logo": f"/communities/{c.slug}/logo"} if c.logo_type else {}
    return {"id": c.id, "slug": c.slug, "metadata": {"title": c.title, "description": c.description},
            "created": c.created, "owner": str(c.owner_id), "links": links}
