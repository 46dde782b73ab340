"""HTTP handlers of the records API and communities (/api/records, /api/communities)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from depot.repository.resources import serialize
from depot.repository.resources.context import Context
from depot.repository.resources.http import bool_param, identity, int_param, json_response, path_int
from depot.repository.services.records import RecordSearch
from depot.repository.services.views import Deposit


class RecordResource:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _record(self, deposit: Deposit, *, is_last: bool | None = None) -> dict[str, object]:
        if is_last is None:
            is_last = self.ctx.records.latest(deposit.id).id == deposit.id
        accepted = [slug for slug, status in self.ctx.records.communities_of(deposit.concept_id)
                    if status == "accepted"]
        return serialize.record(self.ctx.links, deposit, is_last=is_last, communities=accepted)

    async def read(self, request: Request) -> Response:
        return json_response(self._record(self.ctx.records.read(path_int(request, "id"))))

    async def latest(self, request: Request) -> Response:
        return json_response(self._record(self.ctx.records.latest(path_int(request, "id")), is_last=True))

    async def versions(self, request: Request) -> Response:
        found = self.ctx.records.versions(path_int(request, "id"))
        hits = [self._record(d, is_last=i == len(found) - 1) for i, d in enumerate(found)]
        return json_response({"hits": {"hits": hits, "total": len(hits)}})

    async def files(self, request: Request) -> Response:
        deposit = self.ctx.records.read(path_int(request, "id"))
        entries = [serialize.record_file(self.ctx.links, deposit, f) for f in deposit.files]
        return json_response({"enabled": True, "entries": entries, "order": [], "default_preview": None})

    async def search(self, request: Request) -> Response:
        params = RecordSearch(
            q=request.query_params.get("q"), communities=request.query_params.get("communities"),
            sort=request.query_params.get("sort"), page=int_param(request, "page", 1),
            size=int_param(request, "size", 10), all_versions=bool_param(request, "all_versions"))
        page = self.ctx.records.search(identity(request), params)
        hits = [self._record(d) for d in page.hits]
        links = {"self": str(request.url)}
        if params.page * params.size < page.total:
            links["next"] = str(request.url.include_query_params(page=params.page + 1))
        return json_response({"hits": {"hits": hits, "total": page.total}, "aggregations": {}, "links": links,
                              "sortBy": params.sort or ("bestmatch" if params.q else "mostrecent")})

    async def communities(self, request: Request) -> Response:
        found = self.ctx.accounts.list_communities()
        hits = [_community(c) for c in found]
        return json_response({"hits": {"hits": hits, "total": len(hits)}})

    async def community(self, request: Request) -> Response:
        return json_response(_community(self.ctx.accounts.get_community(request.path_params["id"])))


def _community(c: object) -> dict[str, object]:
    return {"id": c.id, "slug": c.slug, "metadata": {"title": c.title}, "created": c.created,  # type: ignore[attr-defined]
            "owner": str(c.owner_id)}  # type: ignore[attr-defined]
