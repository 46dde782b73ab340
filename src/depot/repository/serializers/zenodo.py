"""JSON shapes of current Zenodo (spec §2.5, §2.7, §4.1), built from service read models (pure)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from depot.metadata import record_metadata
from depot.repository.services.views import Deposit, StoredFile


class Links:
    """URL builder for one public base URL."""

    def __init__(self, base_url: str, doi_prefix: str = "10.5072", doi_name: str = "depot") -> None:
        self.base = base_url.rstrip("/")
        self.api = self.base + "/api"
        self.doi_prefix = doi_prefix
        self.doi_name = doi_name

    def prereserved_doi(self, recid: int) -> str:
        # Current Zenodo hard-codes 10.5281 here even on the sandbox (spec §2.3); we print the DOI
        # that publish will really mint, so a client can rely on it.
        return f"{self.doi_prefix}/{self.doi_name}.{recid}"

    def deposit(self, deposit_id: int) -> str:
        return f"{self.api}/deposit/depositions/{deposit_id}"

    def record(self, record_id: int) -> str:
        return f"{self.api}/records/{record_id}"

    def bucket(self, bucket_id: str) -> str:
        return f"{self.api}/files/{bucket_id}"

    def doi_url(self, doi: str) -> str:
        return f"https://doi.org/{doi}"

    def badge(self, doi: str) -> str:
        return f"{self.base}/badge/doi/{quote(doi, safe='')}.svg"


def deposition_file(links: Links, deposit: Deposit, f: StoredFile) -> dict[str, Any]:
    """A file inside deposition JSON: MD5 without prefix, ``id`` is the file-instance id."""
    self_link = (f"{links.record(deposit.id)}/files/{f.file_id}" if deposit.is_published
                 else f"{links.deposit(deposit.id)}/files/{f.file_id}")
    return {
        "id": f.file_id,
        "filename": f.key,
        "filesize": f.size,
        "checksum": f.md5,
        "links": {
            "self": self_link,
            "download": f"{links.record(deposit.id)}/draft/files/{quote(f.key)}/content",
        },
    }


def bucket_object(links: Links, bucket_id: str, f: StoredFile) -> dict[str, Any]:
    """The bucket API's object JSON (current Zenodo's LegacyFilesRESTSchema)."""
    self_link = f"{links.bucket(bucket_id)}/{quote(f.key)}"
    return {
        "created": f.created,
        "updated": f.updated,
        "version_id": f.version_id,
        "key": f.key,
        "size": f.size,
        "mimetype": f.mimetype,
        "checksum": f"md5:{f.md5}",
        "is_head": True,
        "delete_marker": False,
        "links": {
            "self": self_link,
            "version": f"{self_link}?versionId={f.version_id}",
            "uploads": f"{self_link}?uploads",
        },
    }


def deposition(links: Links, deposit: Deposit, *, listed: bool = False) -> dict[str, Any]:
    """The legacy deposition JSON; ``listed`` for a search hit, which has no ``links.bucket`` on Zenodo."""
    metadata = dict(deposit.current)
    metadata["prereserve_doi"] = {"doi": deposit.doi or links.prereserved_doi(deposit.id), "recid": deposit.id}
    dep_link = links.deposit(deposit.id)
    link_map: dict[str, str] = {
        "self": links.record(deposit.id) if deposit.is_published else dep_link,
        "html": f"{links.base}/{'records' if deposit.is_published else 'deposit'}/{deposit.id}",
        "files": f"{links.record(deposit.id)}/files" if deposit.is_published else f"{dep_link}/files",
        "bucket": links.bucket(deposit.bucket_id),
        "latest_draft": dep_link,
        "latest_draft_html": f"{links.base}/deposit/{deposit.id}",
        "publish": f"{dep_link}/actions/publish",
        "edit": f"{dep_link}/actions/edit",
        "discard": f"{dep_link}/actions/discard",
        "newversion": f"{dep_link}/actions/newversion",
    }
    if listed:
        del link_map["bucket"]
    body: dict[str, Any] = {
        "created": deposit.created,
        "modified": deposit.modified,
        "id": deposit.id,
        "conceptrecid": str(deposit.concept_id),
        "metadata": metadata,
        "title": metadata.get("title", ""),
        "links": link_map,
        "record_id": deposit.id,
        "owner": deposit.owner_id,
        "files": [deposition_file(links, deposit, f) for f in deposit.files],
        "state": deposit.state,
        "submitted": deposit.is_published,
    }
    if deposit.doi:
        body["doi"] = deposit.doi
        body["doi_url"] = links.doi_url(deposit.doi)
        link_map["doi"] = links.doi_url(deposit.doi)
        link_map["badge"] = links.badge(deposit.doi)
    if deposit.concept_doi:
        body["conceptdoi"] = deposit.concept_doi
        link_map["parent_doi"] = links.doi_url(deposit.concept_doi)
        link_map["conceptbadge"] = links.badge(deposit.concept_doi)
    if deposit.is_published:
        link_map.update({
            "record": links.record(deposit.id),
            "record_html": f"{links.base}/records/{deposit.id}",
            "latest": f"{links.record(deposit.id)}/versions/latest",
            "latest_html": f"{links.base}/records/{deposit.id}/latest",
        })
    return body


def record_file(links: Links, deposit: Deposit, f: StoredFile) -> dict[str, Any]:
    return {
        "id": f.file_id,
        "key": f.key,
        "size": f.size,
        "checksum": f"md5:{f.md5}",
        "links": {"self": f"{links.record(deposit.id)}/files/{quote(f.key)}/content"},
    }


def record_file_entry(links: Links, deposit: Deposit, f: StoredFile) -> dict[str, Any]:
    """``GET /api/records/:id/files/:key``: InvenioRDM's file entry (invenio-records-resources FileSchema)."""
    self_link = f"{links.record(deposit.id)}/files/{quote(f.key)}"
    return {
        "id": f.file_id,
        "key": f.key,
        "created": f.created,
        "updated": f.updated,
        "status": "completed",
        "mimetype": f.mimetype,
        "size": f.size,
        "checksum": f"md5:{f.md5}",
        "storage_class": "L",
        "metadata": {},
        "file_id": f.file_id,
        "version_id": f.version_id,
        "bucket_id": deposit.bucket_id,
        "links": {"self": self_link, "content": f"{self_link}/content"},
    }


def record(links: Links, deposit: Deposit, *, is_last: bool, stats: dict[str, int] | None = None,
           communities: list[str] | None = None) -> dict[str, Any]:
    """Zenodo JSON of a published record (what ``GET /api/records/:id`` returns)."""
    assert deposit.record is not None and deposit.doi is not None
    meta = record_metadata(deposit.record, doi=deposit.doi, concept_recid=str(deposit.concept_id),
                           version_index=(deposit.version_index or 1) - 1, is_last=is_last)
    meta.pop("communities", None)  # only accepted inclusions show, as on Zenodo
    if communities:
        meta["communities"] = [{"id": slug} for slug in communities]
    rec_link = links.record(deposit.id)
    body: dict[str, Any] = {
        "created": deposit.published or deposit.created,
        "modified": deposit.modified,
        "id": deposit.id,
        "conceptrecid": str(deposit.concept_id),
        "doi": deposit.doi,
        "conceptdoi": deposit.concept_doi,
        "doi_url": links.doi_url(deposit.doi),
        "metadata": meta,
        "title": deposit.record.get("title", ""),
        "links": {
            "self": rec_link,
            "self_html": f"{links.base}/records/{deposit.id}",
            "doi": links.doi_url(deposit.doi),
            "self_doi": links.doi_url(deposit.doi),
            "parent": links.record(deposit.concept_id),
            "parent_doi": links.doi_url(deposit.concept_doi) if deposit.concept_doi else None,
            "badge": links.badge(deposit.doi),
            "files": f"{rec_link}/files",
            "latest": f"{rec_link}/versions/latest",
            "latest_html": f"{links.base}/records/{deposit.id}/latest",
            "versions": f"{rec_link}/versions",
            "draft": f"{rec_link}/draft",
        },
        "updated": deposit.modified,
        "recid": str(deposit.id),
        "revision": 1,
        "files": [record_file(links, deposit, f) for f in deposit.files],
        "swh": {},
        "owners": [{"id": str(deposit.owner_id)}],
        "status": "published",
        "stats": stats or {k: 0 for k in STATS_KEYS},
        "state": "done",
        "submitted": True,
    }
    return body


STATS_KEYS = ("downloads", "unique_downloads", "views", "unique_views", "version_downloads",
              "version_unique_downloads", "version_unique_views", "version_views")
