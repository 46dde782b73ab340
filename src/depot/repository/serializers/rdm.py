"""JSON shapes of the InvenioRDM records API (pure): the RDM record/draft JSON
(``application/vnd.inveniordm.v1+json``), Zenodo's JSON of a draft (what current Zenodo answers for plain
JSON), and the RDM file entries. Shapes follow docs-invenio-rdm ``reference/rest_api_drafts_records.md``
and invenio-rdm-records' ``services/config.py`` links; docs/api.md records each choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from depot.metadata import record_metadata
from depot.metadata.rdm import rdm_access, rdm_custom_fields, rdm_metadata
from depot.repository.serializers.zenodo import STATS_KEYS, Links
from depot.repository.services.views import Deposit, StoredFile

RDM_JSON = "application/vnd.inveniordm.v1+json"


def wants_rdm(accept: str | None) -> bool:
    """Whether the Accept header asks for InvenioRDM's own JSON (plain JSON gets Zenodo's, as on Zenodo)."""
    return bool(accept) and RDM_JSON in str(accept).lower()


def _doi_pid(doi: str) -> dict[str, str]:
    return {"identifier": doi, "provider": "datacite", "client": "datacite"}


def draft_links(links: Links, deposit: Deposit, *, version_index: int) -> dict[str, str]:
    """A draft's links; ``versions`` and ``latest`` only once a version of it is published (before that
    InvenioRDM's answer to them is a 404, and every link Depot hands out resolves)."""
    rec = links.record(deposit.id)
    out = {
        "self": f"{rec}/draft",
        "self_html": f"{links.base}/uploads/{deposit.id}",
        "publish": f"{rec}/draft/actions/publish",
        "files": f"{rec}/draft/files",
        "reserve_doi": f"{rec}/draft/pids/doi",
    }
    if deposit.is_published or version_index > 1:
        out.update({"versions": f"{rec}/versions", "latest": f"{rec}/versions/latest",
                    "latest_html": f"{links.base}/records/{deposit.id}/latest"})
    if deposit.is_published:
        out["record"] = rec
        out["record_html"] = f"{links.base}/records/{deposit.id}"
    return out


def record_links(links: Links, deposit: Deposit) -> dict[str, str]:
    rec = links.record(deposit.id)
    out = {
        "self": rec,
        "self_html": f"{links.base}/records/{deposit.id}",
        "files": f"{rec}/files",
        "versions": f"{rec}/versions",
        "latest": f"{rec}/versions/latest",
        "latest_html": f"{links.base}/records/{deposit.id}/latest",
        "draft": f"{rec}/draft",
        "parent": links.record(deposit.concept_id),
    }
    if deposit.doi:
        out["doi"] = out["self_doi"] = links.doi_url(deposit.doi)
    if deposit.concept_doi:
        out["parent_doi"] = links.doi_url(deposit.concept_doi)
    return out


def file_entry(links: Links, deposit: Deposit, f: StoredFile | None, key: str, *, draft: bool,
               pending: bool = False) -> dict[str, Any]:
    """A file entry (invenio-records-resources FileSchema); ``f`` None for a key initialised, not uploaded."""
    base = f"{links.record(deposit.id)}{'/draft' if draft else ''}/files/{quote(key)}"
    entry: dict[str, Any] = {"key": key, "status": "pending" if pending else "completed", "metadata": None,
                             "transfer": {"type": "L"}}
    entry["links"] = {"self": base, "content": f"{base}/content"}
    if draft:
        entry["links"]["commit"] = f"{base}/commit"
    if f is not None:
        entry["created"], entry["updated"] = f.created, f.updated
        if not pending:
            entry.update({"id": f.file_id, "checksum": f"md5:{f.md5}", "mimetype": f.mimetype, "size": f.size,
                          "file_id": f.file_id, "version_id": f.version_id, "bucket_id": deposit.bucket_id,
                          "storage_class": "L"})
    return entry


def files_listing(links: Links, deposit: Deposit, pending: list[str], *, draft: bool) -> dict[str, Any]:
    """``GET .../files``: {enabled, entries[], links, order, default_preview}."""
    entries = [file_entry(links, deposit, f, f.key, draft=draft, pending=f.key in pending) for f in deposit.files]
    uploaded = {f.key for f in deposit.files}
    entries += [file_entry(links, deposit, None, k, draft=draft, pending=True) for k in pending if k not in uploaded]
    path = f"{links.record(deposit.id)}{'/draft' if draft else ''}/files"
    return {"enabled": deposit.files_enabled, "entries": entries, "links": {"self": path}, "order": [],
            "default_preview": None}


def _files_summary(links: Links, deposit: Deposit, *, draft: bool, pending: Sequence[str] = ()) -> dict[str, Any]:
    """The record's files; in a draft, a file whose content is there but not committed is ``pending`` (a
    publish refuses it), as in the files listing."""
    entries = {f.key: file_entry(links, deposit, f, f.key, draft=draft, pending=f.key in pending)
               for f in deposit.files}
    return {"enabled": deposit.files_enabled, "order": [], "count": len(entries),
            "total_bytes": deposit.total_size, "entries": entries, "default_preview": None}


def _access(meta: dict[str, Any], deposit: Deposit) -> dict[str, Any]:
    """``access`` as InvenioRDM answers it: every embargo key, and the access status it computes."""
    access = rdm_access(meta)
    embargo = access.get("embargo", {"active": False})
    access["embargo"] = {"active": embargo["active"], "until": embargo.get("until"), "reason": None}
    right = meta.get("access_right", "open")
    access["status"] = right if right in ("open", "embargoed") else "restricted"
    if not deposit.files_enabled:
        access["status"] = "metadata-only"  # InvenioRDM's AccessStatusEnum for a record without files
    return access


def _status(deposit: Deposit, *, draft: bool, version_index: int) -> str:
    if not draft or deposit.is_published:
        return "published"
    return "new_version_draft" if version_index > 1 else "draft"


def rdm(links: Links, deposit: Deposit, *, draft: bool, version_index: int, is_latest: bool,
        communities: list[str], pending: Sequence[str] = ()) -> dict[str, Any]:
    """InvenioRDM's JSON of a draft (``draft``) or of a published record."""
    meta = (deposit.draft if draft and deposit.draft is not None else deposit.record) or {}
    pids: dict[str, Any] = {}
    doi = deposit.doi if not draft else (deposit.doi or meta.get("doi"))
    if doi:
        own = doi == links.prereserved_doi(deposit.id)
        pids["doi"] = _doi_pid(doi) if own else {"identifier": doi, "provider": "external"}
    parent: dict[str, Any] = {"id": str(deposit.concept_id),
                              "access": {"owned_by": {"user": str(deposit.owner_id)}, "links": []},
                              "communities": {"ids": communities, **({"default": communities[0]} if communities
                                                                     else {})}}
    if deposit.concept_doi:
        parent["pids"] = {"doi": _doi_pid(deposit.concept_doi)}
    body: dict[str, Any] = {
        "id": str(deposit.id),
        "created": deposit.created if draft else (deposit.published or deposit.created),
        "updated": deposit.modified,
        "pids": pids,
        "metadata": rdm_metadata(meta, titled=True),
        "custom_fields": rdm_custom_fields(meta),
        "access": _access(meta, deposit),
        "files": _files_summary(links, deposit, draft=draft, pending=pending),
        "status": _status(deposit, draft=draft, version_index=version_index),
        "is_published": deposit.is_published,
        "is_draft": draft,
        "versions": {"index": version_index, "is_latest": is_latest and deposit.is_published,
                     "is_latest_draft": True if draft else is_latest},
        "parent": parent,
        "links": draft_links(links, deposit, version_index=version_index) if draft else record_links(links, deposit),
    }
    if not draft:
        body["deletion_status"] = {"is_deleted": False, "status": "P"}
    return body


def zenodo_draft(links: Links, deposit: Deposit, *, version_index: int, is_latest: bool) -> dict[str, Any]:
    """Zenodo's JSON of a draft, as current Zenodo answers the RDM draft endpoints for plain JSON: legacy
    metadata (records shape), RDM links, ``status``, ``state`` and ``submitted``."""
    meta = deposit.draft if deposit.draft is not None else (deposit.record or {})
    body: dict[str, Any] = {
        "created": deposit.created,
        "modified": deposit.modified,
        "updated": deposit.modified,
        "id": deposit.id,
        "recid": str(deposit.id),
        "conceptrecid": str(deposit.concept_id),
        "metadata": record_metadata(meta, doi=deposit.doi or meta.get("doi"), concept_recid=str(deposit.concept_id),
                                    version_index=version_index - 1, is_last=is_latest),
        "title": meta.get("title", ""),
        "links": draft_links(links, deposit, version_index=version_index),
        "files": [{"id": f.file_id, "key": f.key, "size": f.size, "checksum": f"md5:{f.md5}",
                   "links": {"self": f"{links.record(deposit.id)}/draft/files/{quote(f.key)}/content"}}
                  for f in deposit.files],
        "owners": [{"id": str(deposit.owner_id)}],
        "status": _status(deposit, draft=True, version_index=version_index),
        "stats": {k: 0 for k in STATS_KEYS},
        "state": deposit.state,
        "submitted": deposit.is_published,
    }
    doi = deposit.doi or meta.get("doi")
    if doi:
        body["doi"] = doi
        body["doi_url"] = body["links"]["doi"] = links.doi_url(doi)
    if deposit.concept_doi:
        body["conceptdoi"] = deposit.concept_doi
    return body
