"""Contract: the InvenioRDM records API beside the legacy deposit API, on one data model (issue 12, item 1).

The same scenarios (create, upload, publish, edit, new version, the authz matrix) run through both APIs,
and across them: a record made through one is read and edited through the other. ``api`` runs each test
in-process and on loopback, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Protocol

import httpx
import pytest

from conftest import Api
from payloads import metadata

RDM = {"Accept": "application/vnd.inveniordm.v1+json"}


def rdm_body(title: str = "Fucus vesiculosus L. (TROM-A-8528)", **extra: Any) -> dict[str, Any]:
    """An RDM draft body equivalent to ``payloads.metadata()``."""
    return {
        "access": {"record": "public", "files": "public"},
        "files": {"enabled": True},
        "metadata": {
            "title": title,
            "resource_type": {"id": "image-photo"},
            "description": "Herbarium specimen image of the TROM algae herbarium.",
            "creators": [{"person_or_org": {"type": "organizational",
                                            "name": "The Arctic University Museum of Norway"}}],
            "rights": [{"id": "cc-by-4.0"}],
            "subjects": [{"subject": "Biodiversity"}, {"subject": "Herbarium"}],
            "related_identifiers": [{"identifier": "urn:catalog:TROM:A:8528", "scheme": "urn",
                                     "relation_type": {"id": "isalternateidentifier"}}],
            **extra,
        },
    }


class Way(Protocol):
    """One API's way of doing each step; ids are the same integers through both."""

    def create(self, title: str) -> int: ...
    def upload(self, rid: int, key: str, content: bytes) -> None: ...
    def publish(self, rid: int) -> httpx.Response: ...
    def edit(self, rid: int) -> None: ...
    def retitle(self, rid: int, title: str) -> None: ...
    def new_version(self, rid: int) -> int: ...


class Legacy:
    def __init__(self, c: httpx.Client, h: dict[str, str]) -> None:
        self.c, self.h = c, h

    def create(self, title: str) -> int:
        r = self.c.post("/api/deposit/depositions", json={"metadata": metadata(title=title)}, headers=self.h)
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def upload(self, rid: int, key: str, content: bytes) -> None:
        bucket = self.c.get(f"/api/deposit/depositions/{rid}", headers=self.h).json()["links"]["bucket"]
        r = self.c.put(f"{bucket}/{key}", content=content,
                       headers={**self.h, "Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text

    def publish(self, rid: int) -> httpx.Response:
        return self.c.post(f"/api/deposit/depositions/{rid}/actions/publish", headers=self.h)

    def edit(self, rid: int) -> None:
        r = self.c.post(f"/api/deposit/depositions/{rid}/actions/edit", headers=self.h)
        assert r.status_code == 201, r.text

    def retitle(self, rid: int, title: str) -> None:
        meta = self.c.get(f"/api/deposit/depositions/{rid}", headers=self.h).json()["metadata"]
        meta["title"] = title
        r = self.c.put(f"/api/deposit/depositions/{rid}", json={"metadata": meta}, headers=self.h)
        assert r.status_code == 200, r.text

    def new_version(self, rid: int) -> int:
        r = self.c.post(f"/api/deposit/depositions/{rid}/actions/newversion", headers=self.h)
        assert r.status_code == 201, r.text
        new_id = int(r.json()["id"])
        for f in self.c.get(f"/api/deposit/depositions/{new_id}/files", headers=self.h).json():
            r = self.c.delete(f"/api/deposit/depositions/{new_id}/files/{f['id']}", headers=self.h)
            assert r.status_code == 204
        return new_id


class Rdm:
    def __init__(self, c: httpx.Client, h: dict[str, str]) -> None:
        self.c, self.h = c, {**h, **RDM}

    def create(self, title: str) -> int:
        r = self.c.post("/api/records", json=rdm_body(title), headers=self.h)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "draft" and r.json()["is_published"] is False
        return int(r.json()["id"])

    def upload(self, rid: int, key: str, content: bytes) -> None:
        d = f"/api/records/{rid}/draft/files"
        r = self.c.post(d, json=[{"key": key}], headers=self.h)
        assert r.status_code == 201, r.text
        assert [e["status"] for e in r.json()["entries"] if e["key"] == key] == ["pending"]
        r = self.c.put(f"{d}/{key}/content", content=content,
                       headers={**self.h, "Content-Type": "application/octet-stream"})
        assert r.status_code == 200 and r.json()["status"] == "pending", r.text
        r = self.c.post(f"{d}/{key}/commit", headers=self.h)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "completed"
        assert r.json()["checksum"] == "md5:" + hashlib.md5(content).hexdigest() and r.json()["size"] == len(content)

    def publish(self, rid: int) -> httpx.Response:
        return self.c.post(f"/api/records/{rid}/draft/actions/publish", headers=self.h)

    def edit(self, rid: int) -> None:
        r = self.c.post(f"/api/records/{rid}/draft", headers=self.h)
        assert r.status_code == 201, r.text

    def retitle(self, rid: int, title: str) -> None:
        body = self.c.get(f"/api/records/{rid}/draft", headers=self.h).json()
        body["metadata"]["title"] = title
        r = self.c.put(f"/api/records/{rid}/draft", json=body, headers=self.h)  # the whole draft echoed back
        assert r.status_code == 200, r.text

    def new_version(self, rid: int) -> int:
        r = self.c.post(f"/api/records/{rid}/versions", headers=self.h)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["status"] == "new_version_draft" and body["files"]["count"] == 0
        assert "publication_date" not in body["metadata"] and body["versions"]["index"] == 2
        return int(body["id"])


WAYS = {"legacy": Legacy, "rdm": Rdm}


def record(api: Api, rid: int) -> dict[str, Any]:
    r = api.client.get(f"/api/records/{rid}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("first,second", [("legacy", "rdm"), ("rdm", "legacy"), ("rdm", "rdm"),
                                          ("legacy", "legacy")])
def test_lifecycle_through_both_apis(api: Api, first: str, second: str) -> None:
    """Create, upload and publish through ``first``; edit and make a new version through ``second``."""
    h = api.auth()
    one: Way = WAYS[first](api.client, h)
    two: Way = WAYS[second](api.client, h)
    marker = uuid.uuid4().hex[:8]
    rid = one.create(f"Sheet {marker}")
    one.upload(rid, "sheet.jpg", b"\xff\xd8 one")
    r = one.publish(rid)
    assert r.status_code == 202, r.text
    published = record(api, rid)
    assert published["title"] == f"Sheet {marker}" and published["metadata"]["keywords"] == ["Biodiversity",
                                                                                              "Herbarium"]
    assert [f["key"] for f in published["files"]] == ["sheet.jpg"]
    two.edit(rid)
    two.retitle(rid, f"Sheet {marker} (edited)")
    assert two.publish(rid).status_code == 202
    edited = record(api, rid)
    assert edited["title"] == f"Sheet {marker} (edited)" and edited["doi"] == published["doi"]
    # Fields the RDM JSON carries come back unchanged through the other API.
    assert edited["metadata"]["related_identifiers"] == published["metadata"]["related_identifiers"]
    assert edited["metadata"]["license"] == published["metadata"]["license"]
    assert edited["metadata"]["resource_type"] == published["metadata"]["resource_type"]
    new_id = two.new_version(rid)
    two.upload(new_id, "sheet-v2.jpg", b"\xff\xd8 two")
    r = two.publish(new_id)  # a new version has no publication date: both APIs refuse it until one is saved
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "metadata.publication_date"
    two.retitle(new_id, f"Sheet {marker} v2")  # a save fills in today's date, as current Zenodo does
    assert two.publish(new_id).status_code == 202
    v2 = record(api, new_id)
    assert v2["conceptdoi"] == published["conceptdoi"] and v2["doi"] != published["doi"]
    assert [f["key"] for f in v2["files"]] == ["sheet-v2.jpg"]
    rdm_v2 = api.client.get(f"/api/records/{new_id}", headers=RDM).json()
    assert rdm_v2["versions"] == {"index": 2, "is_latest": True, "is_latest_draft": True}
    assert rdm_v2["parent"]["pids"]["doi"]["identifier"] == published["conceptdoi"]
    assert rdm_v2["pids"]["doi"]["identifier"] == v2["doi"]
    assert api.client.get(f"/api/records/{rid}", headers=RDM).json()["versions"]["is_latest"] is False


def test_rdm_record_shapes(api: Api) -> None:
    h = {**api.auth(), **RDM}
    c = api.client
    r = c.post("/api/records", json=rdm_body(), headers=h)
    draft = r.json()
    assert r.status_code == 201 and r.headers.get("etag")
    assert set(draft) >= {"id", "pids", "metadata", "access", "files", "status", "is_published", "is_draft",
                          "versions", "parent", "links", "created", "updated", "custom_fields"}
    assert draft["links"]["self"].endswith(f"/api/records/{draft['id']}/draft")
    assert draft["metadata"]["resource_type"]["id"] == "image-photo"
    assert draft["metadata"]["creators"][0]["person_or_org"]["name"] == "The Arctic University Museum of Norway"
    assert draft["access"]["files"] == "public" and draft["pids"] == {}
    # The legacy API sees the same deposit, in its own shape.
    legacy = c.get(f"/api/deposit/depositions/{draft['id']}", headers=h).json()
    assert legacy["metadata"]["upload_type"] == "image" and legacy["metadata"]["image_type"] == "photo"
    assert legacy["metadata"]["license"] == "cc-by-4.0" and legacy["state"] == "unsubmitted"
    # Plain JSON on the draft endpoints is Zenodo's JSON, as current Zenodo answers.
    plain = c.get(f"/api/records/{draft['id']}/draft", headers={**h, "Accept": "application/json"}).json()
    assert plain["id"] == int(draft["id"]) and plain["state"] == "unsubmitted" and plain["status"] == "draft"
    # Reserve the DOI: publish mints that one; a second reservation is InvenioRDM's 400.
    r = c.post(f"/api/records/{draft['id']}/draft/pids/doi", headers=h)
    assert r.status_code == 201 and r.json()["pids"]["doi"]["provider"] == "datacite"
    doi = r.json()["pids"]["doi"]["identifier"]
    again = c.post(f"/api/records/{draft['id']}/draft/pids/doi", headers=h)
    assert again.status_code == 400
    assert again.json()["errors"] == [{"field": "pids.doi", "messages": ["A PID already exists for type doi"]}]
    Rdm(c, h).upload(int(draft["id"]), "sheet.jpg", b"\xff\xd8 x")
    r = c.post(f"/api/records/{draft['id']}/draft/actions/publish", headers=h)
    assert r.status_code == 202, r.text
    rec = r.json()
    assert rec["status"] == "published" and rec["is_published"] is True and rec["pids"]["doi"]["identifier"] == doi
    assert rec["files"]["entries"]["sheet.jpg"]["checksum"].startswith("md5:")
    assert rec["parent"]["pids"]["doi"]["identifier"] and rec["parent"]["access"]["owned_by"]["user"]
    # GET /api/records/{id}: RDM JSON on request, Zenodo JSON for plain JSON (legacy clients keep working).
    r = c.get(f"/api/records/{rec['id']}", headers=RDM)
    assert r.headers["content-type"].startswith("application/vnd.inveniordm.v1+json") and r.json()["id"] == rec["id"]
    plain = c.get(f"/api/records/{rec['id']}").json()
    assert plain["doi"] == doi and plain["recid"] == rec["id"] and plain["state"] == "done"
    # Versions, latest and search answer RDM hits on request too.
    hits = c.get(f"/api/records/{rec['id']}/versions", headers=RDM).json()["hits"]["hits"]
    assert [x["id"] for x in hits] == [rec["id"]] and hits[0]["versions"]["is_latest"] is True
    assert c.get(f"/api/records/{rec['id']}/versions/latest", headers=RDM).json()["pids"] == rec["pids"]
    found = c.get("/api/records", params={"q": f"recid:{rec['id']}"}, headers=RDM).json()["hits"]["hits"]
    assert [x["id"] for x in found] == [rec["id"]] and "parent" in found[0]


def test_files_pending_commit_and_delete(api: Api) -> None:
    h = {**api.auth(), **RDM}
    c = api.client
    rid = c.post("/api/records", json=rdm_body(), headers=h).json()["id"]
    d = f"/api/records/{rid}/draft/files"
    r = c.post(d, json=[{"key": "a.jpg"}, {"key": "b.jpg"}], headers=h)
    assert r.status_code == 201 and [e["key"] for e in r.json()["entries"]] == ["a.jpg", "b.jpg"]
    assert c.post(d, json=[{"key": "a.jpg"}], headers=h).status_code == 400  # already initialised
    assert c.post(d, json={"key": "c.jpg"}, headers=h).status_code == 400  # not a list
    assert c.put(f"{d}/nope.jpg/content", content=b"x", headers={**h, "Content-Type": "application/octet-stream"}
                 ).status_code == 404
    assert c.post(f"{d}/a.jpg/commit", headers=h).status_code == 400  # no content yet
    c.put(f"{d}/a.jpg/content", content=b"\xff\xd8 a", headers={**h, "Content-Type": "application/octet-stream"})
    # A file initialised and not committed stops the publish, whichever API asks.
    for url in (f"/api/records/{rid}/draft/actions/publish", f"/api/deposit/depositions/{rid}/actions/publish"):
        r = c.post(url, headers=h)
        assert r.status_code == 400 and "not completed their transfer" in r.json()["errors"][0]["messages"][0]
    assert c.post(f"{d}/a.jpg/commit", headers=h).json()["status"] == "completed"
    assert c.delete(f"{d}/b.jpg", headers=h).status_code == 204
    assert c.get(f"{d}/b.jpg", headers=h).status_code == 404
    meta = c.get(f"{d}/a.jpg", headers=h).json()
    assert meta["status"] == "completed" and meta["links"]["content"].endswith("/a.jpg/content")
    assert c.get(f"{d}/a.jpg/content", headers=h).content == b"\xff\xd8 a"
    assert [e["key"] for e in c.get(d, headers=h).json()["entries"]] == ["a.jpg"]
    assert c.post(f"/api/records/{rid}/draft/actions/publish", headers=h).status_code == 202
    # Files of a published record are locked on the RDM path as on the legacy one.
    c.post(f"/api/records/{rid}/draft", headers=h)
    assert c.post(d, json=[{"key": "late.jpg"}], headers=h).status_code == 403


def test_metadata_only_record(api: Api) -> None:
    h = {**api.auth(), **RDM}
    c = api.client
    body = rdm_body()
    r = c.post("/api/records", json={**body, "files": {"enabled": False}}, headers=h)
    assert r.status_code == 201 and r.json()["files"]["enabled"] is False
    rid = r.json()["id"]
    assert c.post(f"/api/records/{rid}/draft/files", json=[{"key": "a.jpg"}], headers=h).status_code == 400
    r = c.post(f"/api/records/{rid}/draft/actions/publish", headers=h)
    assert r.status_code == 202, r.text
    assert r.json()["files"] == {"enabled": False, "order": [], "count": 0, "total_bytes": 0, "entries": {},
                                 "default_preview": None}
    assert r.json()["access"]["status"] == "metadata-only"
    # With files enabled, a draft without files is refused with InvenioRDM's message.
    rid = c.post("/api/records", json=body, headers=h).json()["id"]
    r = c.post(f"/api/records/{rid}/draft/actions/publish", headers=h)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "files.enabled"


def test_validation_and_bounds(api: Api) -> None:
    h = {**api.auth(), **RDM}
    c = api.client
    r = c.post("/api/records", json={"metadata": {"creators": "nobody"}}, headers=h)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "metadata.creators"
    r = c.post("/api/records", json=rdm_body(title="x" * 1001), headers=h)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "metadata.title"
    r = c.post("/api/records", content=b"[" * (api.config.json_max_bytes + 1),
               headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 413
    rid = c.post("/api/records", json={}, headers=h).json()["id"]
    r = c.post(f"/api/records/{rid}/draft/actions/publish", headers=h)
    assert r.status_code == 400
    assert {"metadata.title", "metadata.creators", "metadata.resource_type"} <= {e["field"] for e in r.json()["errors"]}
    for bad in ("abc", "010", "99999999999"):
        assert c.get(f"/api/records/{bad}/draft", headers=h).status_code == 404


def test_authz_matrix(api: Api) -> None:
    """Owner, another user, anonymous and an unknown id on every RDM draft endpoint."""
    owner, other = {**api.auth(), **RDM}, {**api.auth(), **RDM}
    c = api.client
    rid = c.post("/api/records", json=rdm_body(), headers=owner).json()["id"]
    c.post(f"/api/records/{rid}/draft/files", json=[{"key": "a.jpg"}], headers=owner)
    octet = {"Content-Type": "application/octet-stream"}
    calls = [
        ("GET", "/draft", None), ("PUT", "/draft", rdm_body()), ("POST", "/draft/pids/doi", None),
        ("GET", "/draft/files", None), ("POST", "/draft/files", [{"key": "b.jpg"}]),
        ("GET", "/draft/files/a.jpg", None), ("PUT", "/draft/files/a.jpg/content", b"\xff\xd8"),
        ("POST", "/draft/files/a.jpg/commit", None), ("DELETE", "/draft/files/a.jpg", None),
        ("POST", "/draft/actions/publish", None), ("DELETE", "/draft", None),
    ]

    def call(method: str, path: str, body: Any, headers: dict[str, str], rec: Any = rid) -> httpx.Response:
        url = f"/api/records/{rec}{path}"
        if isinstance(body, bytes):
            return c.request(method, url, content=body, headers={**headers, **octet})
        return c.request(method, url, json=body, headers=headers)

    for method, path, body in calls:
        assert call(method, path, body, {}).status_code == 403, (method, path)
        assert call(method, path, body, other).status_code == 403, (method, path)
        assert call(method, path, body, owner, rec=2_000_000_000).status_code == 404, (method, path)
    assert c.post("/api/records", json=rdm_body()).status_code == 403
    assert c.get("/api/user/records").status_code == 403
    assert c.post(f"/api/records/{rid}/versions", headers=other).status_code in (403, 404)
    # The owner's calls in order: every one succeeds.
    expected = [200, 200, 201, 200, 201, 200, 200, 200, 204, 400, 204]  # publish: b.jpg is still pending
    got = [call(m, p, b, owner).status_code for m, p, b in calls]
    assert got == expected


def test_user_records(api: Api) -> None:
    h = {**api.auth(), **RDM}
    c = api.client
    marker = uuid.uuid4().hex[:8]
    ids = [c.post("/api/records", json=rdm_body(f"{marker} number {i}"), headers=h).json()["id"] for i in range(3)]
    Rdm(c, h).upload(int(ids[0]), "a.jpg", b"\xff\xd8 a")
    assert c.post(f"/api/records/{ids[0]}/draft/actions/publish", headers=h).status_code == 202
    c.post("/api/records", json=rdm_body("someone else's"), headers=api.auth())
    r = c.get("/api/user/records", params={"size": 2, "sort": "oldest"}, headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["hits"]["total"] == 3 and [x["id"] for x in body["hits"]["hits"]] == ids[:2]
    assert "next" in body["links"] and body["sortBy"] == "oldest"
    page2 = c.get(body["links"]["next"].replace(str(api.client.base_url), ""), headers=h).json()
    assert [x["id"] for x in page2["hits"]["hits"]] == ids[2:] and "prev" in page2["links"]
    assert {x["status"] for x in body["hits"]["hits"]} == {"published", "draft"}
    r = c.get("/api/user/records", params={"q": f'title:"{marker} number 1"'}, headers=h)
    assert [x["id"] for x in r.json()["hits"]["hits"]] == [ids[1]]
    assert c.get("/api/user/records", params={"size": 101}, headers=h).status_code == 400
    assert c.get("/api/user/records", params={"sort": "nonsense"}, headers=h).status_code == 400


def test_delete_draft_and_new_version_import(api: Api) -> None:
    h = {**api.auth(), **RDM}
    c = api.client
    rid = c.post("/api/records", json=rdm_body(), headers=h).json()["id"]
    assert c.delete(f"/api/records/{rid}/draft", headers=h).status_code == 204
    assert c.get(f"/api/deposit/depositions/{rid}", headers=h).status_code == 404
    rid = c.post("/api/records", json=rdm_body(), headers=h).json()["id"]
    Rdm(c, h).upload(int(rid), "a.jpg", b"\xff\xd8 a")
    c.post(f"/api/records/{rid}/draft/actions/publish", headers=h)
    new = c.post(f"/api/records/{rid}/versions", headers=h).json()
    # A second POST returns the same open new-version draft.
    assert c.post(f"/api/records/{rid}/versions", headers=h).json()["id"] == new["id"]
    r = c.post(f"/api/records/{new['id']}/draft/actions/files-import", headers=h)
    assert r.status_code == 201 and [e["key"] for e in r.json()["entries"]] == ["a.jpg"]
    again = c.post(f"/api/records/{new['id']}/draft/actions/files-import", headers=h)
    assert again.status_code == 400 and again.json()["errors"][0]["messages"] == ["Please remove all files first."]


@pytest.mark.parametrize("made_by", ["legacy", "rdm"])
def test_authz_matrix_legacy_api(api: Api, made_by: str) -> None:
    """The same matrix through the legacy API, on a deposit made through either API."""
    owner, other = api.auth(), api.auth()
    c = api.client
    rid = WAYS[made_by](c, owner).create("Authz")
    bucket = c.get(f"/api/deposit/depositions/{rid}", headers=owner).json()["links"]["bucket"]
    dep = "/api/deposit/depositions/{}"
    calls = [
        ("GET", dep, None), ("PUT", dep, {"metadata": metadata()}), ("GET", dep + "/files", None),
        ("PUT", bucket + "/a.jpg", b"\xff\xd8"), ("GET", bucket + "/a.jpg", None),
        ("DELETE", bucket + "/a.jpg", None), ("POST", dep + "/actions/publish", None),
        ("POST", dep + "/actions/discard", None),
    ]

    def call(method: str, path: str, body: Any, headers: dict[str, str], rec: int = rid) -> httpx.Response:
        url = path.format(rec)
        if isinstance(body, bytes):
            return c.request(method, url, content=body, headers={**headers,
                                                                 "Content-Type": "application/octet-stream"})
        return c.request(method, url, json=body, headers=headers)

    for method, path, body in calls:
        assert call(method, path, body, {}).status_code == 403, (method, path)
        assert call(method, path, body, other).status_code == 403, (method, path)
        if "{}" in path:
            assert call(method, path, body, owner, rec=2_000_000_000).status_code == 404, (method, path)
    got = [call(m, p, b, owner).status_code for m, p, b in calls]
    assert got == [200, 200, 200, 201, 200, 204, 400, 204]  # publish: no file
    assert c.get(f"/api/records/{rid}/draft", headers=owner).status_code == 404  # discarded: gone for RDM too


def test_file_keys_as_the_legacy_api_checks_them(api: Api) -> None:
    h = {**api.auth(), **RDM}
    c = api.client
    rid = c.post("/api/records", json=rdm_body(), headers=h).json()["id"]
    d = f"/api/records/{rid}/draft/files"
    for bad in ("../etc/passwd", "a\u202egpj.exe", "", "x" * 256):
        r = c.post(d, json=[{"key": bad}], headers=h)
        assert r.status_code == 400 and r.json()["message"].startswith("Invalid file name"), bad
    nfd = "cafe\u0301.txt"
    assert c.post(d, json=[{"key": nfd}], headers=h).json()["entries"][0]["key"] == "caf\u00e9.txt"
    r = c.put(f"{d}/caf\u00e9.txt/content", content=b"x", headers={**h, "Content-Type": "application/octet-stream"})
    assert r.status_code == 200 and c.post(f"{d}/{nfd}/commit", headers=h).json()["status"] == "completed"
    assert c.post(d, json=[{"key": "x.txt"}] * 101, headers=h).status_code == 400  # at most 100 in one call
