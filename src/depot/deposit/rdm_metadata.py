"""The depositor's metadata on the InvenioRDM records API (pure).

The depositor plans, stores and compares legacy (Zenodo deposit) metadata; ``--api rdm`` sends it as an
InvenioRDM draft body and reads RDM answers back into the legacy shape the runner, the probes, verify and
reconcile work on. The correspondence is ``depot.metadata.rdm``, shared with the repository; this module
frames it for the depositor:

- ``to_rdm(meta)``: the body of ``POST /api/records`` and ``PUT /api/records/{id}/draft``;
- ``from_rdm(metadata, access, custom_fields, pids)``: legacy metadata again. For every field the
  depositor's profiles fill, ``from_rdm(*parts(to_rdm(m))) == m``: verify compares field by field;
- ``legacy_view(rdm_json, api_url)``: a draft or record as the legacy API would show it (id, state,
  submitted, doi, conceptdoi, files, links.bucket, links.html, metadata).

``communities`` are not sent: an RDM community is a review request, not a field, and ``--api rdm``
refuses records that name one.
"""

from __future__ import annotations

from typing import Any

from depot.metadata.rdm import dicts, legacy_of, rdm_access, rdm_custom_fields, rdm_metadata


def to_rdm(meta: dict[str, Any], *, files_enabled: bool = True) -> dict[str, Any]:
    """The RDM draft body of legacy metadata (what RDM does not carry is left out)."""
    body: dict[str, Any] = {"metadata": rdm_metadata(meta), "access": rdm_access(meta),
                            "files": {"enabled": files_enabled}}
    custom = rdm_custom_fields(meta)
    if custom:
        body["custom_fields"] = custom
    if meta.get("doi"):
        body["pids"] = {"doi": {"identifier": meta["doi"], "provider": "external"}}
    return body


def from_rdm(metadata: dict[str, Any], access: dict[str, Any] | None = None,
             custom_fields: dict[str, Any] | None = None, pids: dict[str, Any] | None = None) -> dict[str, Any]:
    """Legacy metadata of the parts of an RDM draft or record (the inverse of ``to_rdm``). Only an external
    DOI is metadata: one the repository mints is the record's (``legacy_view``'s ``doi``), not the
    depositor's. What does not fit the shape is left out: an answer's shape is the server's business."""
    doi = pids.get("doi") if isinstance(pids, dict) else None
    external = {"doi": doi} if isinstance(doi, dict) and doi.get("provider") == "external" else None
    meta, _ = legacy_of({"metadata": metadata, "access": access, "custom_fields": custom_fields,
                         "pids": external})
    return meta


# -- an RDM answer as the legacy API would show it -----------------------------------------------------
def legacy_view(body: dict[str, Any], api_url: str) -> dict[str, Any]:
    """A draft or record of the RDM API in the legacy deposition's shape, for the runner and the checks:
    ``state`` unsubmitted (a draft never published), inprogress (the open edit of a published record) or
    done; ``links.bucket`` is the draft's files endpoint, which the client's uploads go to."""
    rid = str(body.get("id", ""))
    draft = bool(body.get("is_draft"))
    published = bool(body.get("is_published"))
    state = "done" if not draft else ("inprogress" if published else "unsubmitted")
    links = body.get("links") if isinstance(body.get("links"), dict) else {}
    assert isinstance(links, dict)
    parent = body.get("parent") if isinstance(body.get("parent"), dict) else {}
    assert isinstance(parent, dict)
    doi = _pid_doi(body.get("pids"))
    files_part = body.get("files") if isinstance(body.get("files"), dict) else {}
    assert isinstance(files_part, dict)
    entries = files_part.get("entries")
    listed = list(entries.values()) if isinstance(entries, dict) else dicts(entries)
    # A file initialised (and maybe sent) but not committed is not there yet: a publish would refuse it.
    files = [{"id": f.get("id") or f.get("file_id"), "filename": f.get("key"), "filesize": f.get("size"),
              "checksum": f.get("checksum")} for f in listed
             if isinstance(f, dict) and f.get("key") and f.get("status", "completed") == "completed"]
    record = f"{api_url}/records/{rid}"
    view: dict[str, Any] = {
        "id": int(rid) if rid.isdigit() else rid,
        "conceptrecid": str(parent.get("id", "")),
        "created": body.get("created"),
        "modified": body.get("updated"),
        "state": state,
        "submitted": published,
        "title": (body.get("metadata") or {}).get("title", ""),
        "metadata": from_rdm(body.get("metadata") or {}, body.get("access"), body.get("custom_fields"),
                             body.get("pids")),
        "files": files,
        "links": {"self": f"{record}/draft" if draft else record, "bucket": f"{record}/draft/files",
                  "html": links.get("self_html") or links.get("record_html") or ""},
    }
    if doi and published:
        view["doi"] = doi
    concept = _pid_doi(parent.get("pids"))
    if concept:
        view["conceptdoi"] = concept
    return view


def _pid_doi(pids: object) -> str | None:
    doi = pids.get("doi") if isinstance(pids, dict) else None
    if isinstance(doi, dict) and doi.get("identifier"):
        return str(doi["identifier"])
    return None
