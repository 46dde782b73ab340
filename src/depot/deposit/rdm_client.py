"""I/O: the repository client for the InvenioRDM records API (``--api rdm``).

It has the legacy client's interface (depot.deposit.client.RepositoryClient: create, get, update, delete,
action, publish, list_depositions, put_file, delete_file) and answers in the legacy shape
(depot.deposit.rdm_metadata.legacy_view), so the runner, its probes, verify and reconcile work on either
API unchanged, with the same guarantees. Endpoint by endpoint:

=====================  ===============================================================================
create                 ``POST /records`` (the answer declares the search lag, as a legacy create's)
get                    ``GET /records/{id}/draft``; if there is no draft, ``GET /records/{id}``
update                 ``PUT /records/{id}/draft`` (the whole body: RDM has no partial update)
delete / discard       ``DELETE /records/{id}/draft``
publish                ``POST /records/{id}/draft/actions/publish``
edit                   ``POST /records/{id}/draft`` (repeatable: answers the open draft)
newversion             ``POST /records/{id}/versions`` (repeatable: answers the unpublished new version;
                       its files are not imported, the runner uploads the wanted ones: for a one-image
                       specimen 6 requests, where files-import + DELETE of the old image would be 8; a
                       record of n files with one changed costs 3n + 3 instead of 8)
list_depositions       ``GET /user/records`` (the key probe as ``metadata.identifiers.identifier:"KEY"``)
put_file               ``POST {files}`` [{key}], ``PUT {files}/{key}/content``, ``POST {files}/{key}/commit``;
                       the committed md5 is checked. A key already there (a retried upload whose answer
                       was lost) is deleted and started again.
=====================  ===============================================================================

Every answer is asked for as ``application/vnd.inveniordm.v1+json``: current Zenodo answers plain JSON
with its own legacy-flavoured shape, any other InvenioRDM with the RDM one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from depot.deposit.client import RepositoryClient, Upload, checked_upload
from depot.deposit.errors import HTTPStatusError
from depot.deposit.rdm_metadata import legacy_view, to_rdm

RDM_JSON = "application/vnd.inveniordm.v1+json"
APIS = ("legacy", "rdm")
# Legacy sort names the listing and the checks send, as /api/user/records knows them.
SORTS = {"mostrecent": "newest", "-mostrecent": "oldest", "bestmatch": "bestmatch"}
ALREADY_THERE = frozenset({400, 409})  # InvenioRDM answers 400, Depot 409, to a second init of a key


class RdmClient(RepositoryClient):
    """An InvenioRDM repository at ``api_url`` (``https://zenodo.org/api``, ``https://host/api``).

    ``published_reads``: ``get`` reads the published record, not an open draft (depot verify: one
    request a record where the draft-first read costs a 404 first)."""

    bucket_uploads = False  # a draft's files endpoint, not a bucket: no tus upload in its place

    def __init__(self, api_url: str, token: str, *, published_reads: bool = False, **kwargs: Any) -> None:
        super().__init__(api_url, token, **kwargs)
        self._headers["Accept"] = RDM_JSON
        self.published_reads = published_reads
        self._pids: dict[str, dict[str, Any]] = {}  # a draft's pids as last answered, sent back with its update

    def _view(self, reply_body: Any) -> dict[str, Any]:
        if not isinstance(reply_body, dict):
            raise HTTPStatusError(502, f"the repository answered {str(reply_body)[:200]!r}, not a record", {})
        if reply_body.get("is_draft") and isinstance(reply_body.get("pids"), dict):
            self._pids[str(reply_body.get("id"))] = reply_body["pids"]
        return legacy_view(reply_body, self.api_url)

    def _rec(self, record_id: int | str) -> str:
        return f"{self.api_url}/records/{quote(str(record_id), safe='')}"

    # -- the legacy client's interface ------------------------------------------------------------
    async def create(self, metadata: dict[str, Any]) -> dict[str, Any]:
        reply = await self.request("create", "POST", f"{self.api_url}/records", json=to_rdm(metadata))
        return self._view(reply.body)

    async def get(self, deposition_id: int) -> dict[str, Any]:
        if not self.published_reads:
            try:
                reply = await self.request("get", "GET", f"{self._rec(deposition_id)}/draft",
                                           expected=frozenset({404}))
                return self._view(reply.body)
            except HTTPStatusError as exc:
                if exc.status != 404:
                    raise
        return self._view((await self.request("get", "GET", self._rec(deposition_id))).body)

    async def update(self, deposition_id: int, metadata: dict[str, Any]) -> dict[str, Any]:
        """The whole draft body, with the pids the draft has (an edit's DOI: InvenioRDM takes a body without
        them as removing them); a draft this process has not seen yet is read first."""
        body = to_rdm(metadata)
        if "pids" not in body:
            if str(deposition_id) not in self._pids:
                self._view((await self.request("get", "GET", f"{self._rec(deposition_id)}/draft")).body)
            body["pids"] = self._pids.get(str(deposition_id), {})
        reply = await self.request("update", "PUT", f"{self._rec(deposition_id)}/draft", json=body)
        return self._view(reply.body)

    async def delete(self, deposition_id: int) -> None:
        await self.request("delete", "DELETE", f"{self._rec(deposition_id)}/draft")

    async def action(self, deposition_id: int, name: str) -> dict[str, Any] | None:
        rec = self._rec(deposition_id)
        if name == "discard":
            await self.request(name, "DELETE", f"{rec}/draft")
            return None
        url = {"publish": f"{rec}/draft/actions/publish", "edit": f"{rec}/draft",
               "newversion": f"{rec}/versions"}.get(name)
        if url is None:
            raise ValueError(f"no RDM action {name!r}")
        if name == "publish":
            self._pids.pop(str(deposition_id), None)
        return self._view((await self.request(name, "POST", url)).body)

    async def list_depositions(self, *, q: str | None = None, page: int = 1, size: int = 100,
                               sort: str = "mostrecent", all_versions: bool = False) -> list[dict[str, Any]]:
        params: dict[str, str] = {"page": str(page), "size": str(size), "sort": SORTS.get(sort, sort)}
        if q:
            params["q"] = q.replace("alternate.identifier:", "metadata.identifiers.identifier:")
        if all_versions:
            params["allversions"] = "true"
        reply = await self.request("list", "GET", f"{self.api_url}/user/records", params=params)
        hits = ((reply.body or {}).get("hits") or {}).get("hits") if isinstance(reply.body, dict) else None
        return [self._view(h) for h in hits or []]

    async def put_file(self, bucket_url: str, name: str, path: Path, *,
                       expect: tuple[int, int] | None = None) -> Upload:
        """The three-step upload to a draft's files endpoint (``bucket_url``, from legacy_view); ``expect`` as
        in ``send_file`` (a changed file leaves an empty entry, which the next run's draft alignment removes)."""
        entry = f"{bucket_url}/{quote(name)}"
        try:
            await self.request("upload", "POST", bucket_url, json=[{"key": name}], expected=ALREADY_THERE)
        except HTTPStatusError as exc:
            if exc.status not in ALREADY_THERE:
                raise
            await self.request("upload", "DELETE", entry)  # a retry whose first init (or more) got through
            await self.request("upload", "POST", bucket_url, json=[{"key": name}])
        upload = await self.send_file(f"{entry}/content", path, expect=expect)
        committed = await self.request("upload", "POST", f"{entry}/commit")
        return checked_upload(Upload(committed, upload.size, upload.md5, upload.sha256), path)


def make_client(api: str, api_url: str, token: str, **kwargs: Any) -> RepositoryClient:
    """The client of ``api`` (``legacy`` or ``rdm``) for a repository at ``api_url``."""
    if api == "rdm":
        return RdmClient(api_url, token, **kwargs)
    kwargs.pop("published_reads", None)
    return RepositoryClient(api_url, token, **kwargs)
