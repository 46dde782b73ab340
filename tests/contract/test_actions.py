"""Contract: publish, edit, discard, newversion and what a published deposit refuses (spec §2.4, §2.6)."""

from __future__ import annotations

from conftest import Api
from payloads import create, metadata, published, put_file


def test_publish_mints_dois(api: Api) -> None:
    h = api.auth()
    rec = published(api.client, h)
    assert rec["state"] == "done" and rec["submitted"] is True
    assert rec["doi"] == f"10.5072/depot.{rec['id']}"
    assert rec["conceptdoi"] == f"10.5072/depot.{rec['conceptrecid']}"
    assert rec["doi_url"] == f"https://doi.org/{rec['doi']}"
    assert rec["metadata"]["doi"] == rec["doi"]
    assert rec["links"]["self"].endswith(f"/api/records/{rec['id']}")
    for link in ("record", "record_html", "latest", "latest_html", "badge", "conceptbadge", "parent_doi"):
        assert link in rec["links"]


def test_publish_without_files_is_400_with_rdm_field(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    r = api.client.post(dep["links"]["publish"], headers=h)
    assert r.status_code == 400
    body = r.json()
    assert body["message"] == "A validation error occurred."
    assert any(e["field"] == "files.enabled" for e in body["errors"])
    assert all(isinstance(e["messages"], list) for e in body["errors"])


def test_publish_collects_all_metadata_errors(api: Api) -> None:
    h = api.auth()
    r = api.client.post("/api/deposit/depositions", json={}, headers=h)
    dep = r.json()
    put_file(api.client, h, dep, "a.jpg", b"x")
    r = api.client.post(dep["links"]["publish"], headers=h)
    assert r.status_code == 400
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"metadata.title", "metadata.creators"} <= fields


def test_published_deposit_refuses_changes(api: Api) -> None:
    h = api.auth()
    rec = published(api.client, h)
    dep_url = f"/api/deposit/depositions/{rec['id']}"
    assert api.client.put(dep_url, json={"metadata": metadata()}, headers=h).status_code == 404
    assert api.client.delete(dep_url, headers=h).status_code == 404
    assert api.client.post(f"{dep_url}/actions/publish", headers=h).status_code == 404
    r = api.client.post(f"{dep_url}/files", files={"file": ("b.txt", b"x")}, headers=h)
    assert r.status_code == 404
    file_id = rec["files"][0]["id"]
    assert api.client.delete(f"{dep_url}/files/{file_id}", headers=h).status_code == 403
    r = api.client.get(dep_url, headers=h)
    assert r.status_code == 200 and r.json()["state"] == "done"


def test_edit_then_publish_keeps_the_doi(api: Api) -> None:
    h = api.auth()
    rec = published(api.client, h)
    dep_url = f"/api/deposit/depositions/{rec['id']}"
    r = api.client.post(f"{dep_url}/actions/edit", headers=h)
    assert r.status_code == 201 and r.json()["state"] == "inprogress" and r.json()["submitted"] is True
    assert api.client.post(f"{dep_url}/actions/edit", headers=h).status_code == 201  # current: idempotent
    r = api.client.put(dep_url, json={"metadata": metadata(title="Fucus serratus L. (TROM-A-8528)")}, headers=h)
    assert r.status_code == 200
    r = api.client.post(f"{dep_url}/actions/publish", headers=h)
    assert r.status_code == 202
    assert r.json()["doi"] == rec["doi"] and r.json()["title"] == "Fucus serratus L. (TROM-A-8528)"
    record = api.client.get(f"/api/records/{rec['id']}").json()
    assert record["metadata"]["title"] == "Fucus serratus L. (TROM-A-8528)"


def test_discard_an_edit_restores_the_record(api: Api) -> None:
    h = api.auth()
    rec = published(api.client, h)
    dep_url = f"/api/deposit/depositions/{rec['id']}"
    api.client.post(f"{dep_url}/actions/edit", headers=h)
    api.client.put(dep_url, json={"metadata": metadata(title="Wrong title")}, headers=h)
    r = api.client.post(f"{dep_url}/actions/discard", headers=h)
    assert r.status_code == 204 and r.content == b""
    r = api.client.get(dep_url, headers=h)
    assert r.json()["state"] == "done" and r.json()["title"] == rec["title"]


def test_discard_a_never_published_deposit_deletes_it(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    put_file(api.client, h, dep, "a.jpg", b"x")
    assert api.client.post(dep["links"]["discard"], headers=h).status_code == 204
    assert api.client.get(dep["links"]["self"], headers=h).status_code == 404


def test_edit_of_unpublished_and_unknown_action(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    assert api.client.post(dep["links"]["edit"], headers=h).status_code == 404
    assert api.client.post(dep["links"]["newversion"], headers=h).status_code == 404
    assert api.client.post(f"{dep['links']['self']}/actions/registerconceptdoi", headers=h).status_code == 404


def test_new_version_flow(api: Api) -> None:
    h = api.auth()
    v1 = published(api.client, h, files={"sheet.jpg": b"version one"})
    r = api.client.post(v1["links"]["newversion"], headers=h)
    assert r.status_code == 201
    draft = r.json()
    assert draft["id"] != v1["id"] and draft["conceptrecid"] == v1["conceptrecid"]
    assert draft["state"] == "unsubmitted"
    assert [f["filename"] for f in draft["files"]] == ["sheet.jpg"]
    assert [f["checksum"] for f in draft["files"]] == [v1["files"][0]["checksum"]]
    assert "publication_date" not in draft["metadata"]
    r = api.client.post(v1["links"]["newversion"], headers=h)
    assert r.status_code == 400
    assert r.json()["errors"] == [{"field": "files.enabled", "messages": ["Please remove all files first."]}]
    assert api.client.delete(f"{draft['links']['files']}/{draft['files'][0]['id']}", headers=h).status_code == 204
    assert put_file(api.client, h, draft, "sheet.tif", b"lossless master").status_code == 201
    r = api.client.put(draft["links"]["self"], json={"metadata": metadata()}, headers=h)
    assert r.status_code == 200
    r = api.client.post(draft["links"]["publish"], headers=h)
    assert r.status_code == 202, r.text
    v2 = r.json()
    assert v2["doi"] != v1["doi"] and v2["conceptdoi"] == v1["conceptdoi"]
    # The first version keeps its file; content shared with nothing else stays intact.
    r = api.client.get(f"/api/records/{v1['id']}/files/sheet.jpg/content")
    assert r.content == b"version one"
    versions = api.client.get(f"/api/records/{v1['id']}/versions").json()
    assert [h["id"] for h in versions["hits"]["hits"]] == [v1["id"], v2["id"]]
    latest = api.client.get(f"/api/records/{v1['id']}/versions/latest").json()
    assert latest["id"] == v2["id"]
    assert api.client.get(f"/api/records/{v1['conceptrecid']}/versions/latest").json()["id"] == v2["id"]
