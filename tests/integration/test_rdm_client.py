"""A real third-party client of the InvenioRDM records API, inveniordm-py (CERN), against `depot serve`
unmodified: it deposits, publishes and makes a new version (issue 12, "Done when")."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
from inveniordm_py import InvenioAPI
from inveniordm_py.files.metadata import FilesListMetadata, OutgoingStream
from inveniordm_py.records.metadata import DraftMetadata

from conftest import serve_repository

BODY = {
    "access": {"record": "public", "files": "public"},
    "files": {"enabled": True},
    "metadata": {
        "title": "Fucus vesiculosus L. (TROM-A-8528)",
        "resource_type": {"id": "image-photo"},
        "publication_date": "2026-01-15",
        "creators": [{"person_or_org": {"type": "personal", "family_name": "Lid", "given_name": "Johannes"},
                      "affiliations": [{"name": "Tromsø Museum"}]}],
        "rights": [{"id": "cc-by-4.0"}],
    },
}


def stream(content: bytes) -> OutgoingStream:
    """The upload body. inveniordm-py 0.1.1 sends ``OutgoingStream(data=file)`` as ``requests``' form
    dict ``{"data": file}``, i.e. a form-encoded repr of the file object, to any InvenioRDM alike (its own
    tests only check the status). Its Stream sends ``_data`` as the body, so the bytes go there."""
    out = OutgoingStream()
    out._data = content  # type: ignore[assignment]
    return out


def upload(draft: object, key: str, content: bytes) -> None:
    files = draft.files  # type: ignore[attr-defined]
    files.create(FilesListMetadata([{"key": key}]))
    for f in files:
        if f.data["key"] == key:
            f.set_contents(stream(content))
            assert f.commit().data["status"] == "completed"


def test_inveniordm_py_deposits_publishes_and_versions(tmp_path: Path) -> None:
    with serve_repository(tmp_path) as served:
        client = InvenioAPI(served.base + "/api", served.token)
        draft = client.records.create(data=DraftMetadata(**BODY))
        rid = draft.data["id"]
        assert draft.data["status"] == "draft" and draft.data["metadata"]["title"] == BODY["metadata"]["title"]
        upload(draft, "sheet.jpg", b"\xff\xd8 first scan")
        record = draft.publish()
        assert record.data["id"] in (rid, int(rid))

        published = httpx.get(f"{served.base}/api/records/{rid}").json()
        assert published["state"] == "done" and [f["key"] for f in published["files"]] == ["sheet.jpg"]
        assert published["files"][0]["checksum"] == "md5:" + hashlib.md5(b"\xff\xd8 first scan").hexdigest()
        assert published["metadata"]["creators"][0]["name"] == "Lid, Johannes"

        new = record.new_version()
        new_id = new.data["id"]
        assert str(new_id) != str(rid) and new.data["versions"]["index"] == 2
        # The Draft that new_version() returns keeps the old record's id in its URLs (inveniordm-py 0.1.1
        # gives the resource's own id precedence over the answer's), so the new draft is addressed by id.
        new = client.records(new_id).draft
        new.update(data=DraftMetadata(**{**BODY, "metadata": {**BODY["metadata"], "version": "2"}}))
        upload(new, "sheet-v2.jpg", b"\xff\xd8 second scan")
        new.publish()

        v2 = httpx.get(f"{served.base}/api/records/{new_id}").json()
        assert v2["conceptdoi"] == published["conceptdoi"] and v2["doi"] != published["doi"]
        assert [f["key"] for f in v2["files"]] == ["sheet-v2.jpg"] and v2["metadata"]["version"] == "2"
        latest = client.records(rid).versions.latest()
        assert str(latest.data["id"]) == str(new_id)
        # The legacy API reads the same records.
        legacy = httpx.get(f"{served.base}/api/deposit/depositions/{new_id}", headers=served.headers).json()
        assert legacy["state"] == "done" and legacy["doi"] == v2["doi"]
