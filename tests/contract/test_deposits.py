"""Contract: /api/deposit/depositions create, read, update, delete, list (spec §2.1-2.4)."""

from __future__ import annotations

from conftest import Api
from payloads import create, metadata, published


def test_create_empty_gives_zenodo_shape(api: Api) -> None:
    h = api.auth()
    r = api.client.post("/api/deposit/depositions", json={}, headers=h)
    assert r.status_code == 201
    body = r.json()
    assert body["title"] == ""
    assert isinstance(body["id"], int) and body["record_id"] == body["id"]
    assert isinstance(body["conceptrecid"], str) and body["conceptrecid"]
    assert "doi" not in body
    assert body["metadata"]["prereserve_doi"] == {"doi": f"10.5072/depot.{body['id']}", "recid": body["id"]}
    assert body["state"] == "unsubmitted" and body["submitted"] is False
    assert isinstance(body["owner"], int)
    assert body["files"] == []
    for link in ("self", "html", "files", "bucket", "publish", "edit", "discard", "newversion", "latest_draft"):
        assert link in body["links"]


def test_create_without_body_and_content_type(api: Api) -> None:
    r = api.client.post("/api/deposit/depositions", headers=api.auth())
    assert r.status_code == 201


def test_create_with_metadata_applies_defaults(api: Api) -> None:
    body = create(api.client, api.auth(), {"title": "A sheet", "upload_type": "image", "image_type": "photo"})
    meta = body["metadata"]
    assert meta["title"] == "A sheet" and body["title"] == "A sheet"
    assert meta["access_right"] == "open"
    assert len(meta["publication_date"]) == 10


def test_create_unknown_top_level_key_is_400_and_creates_nothing(api: Api) -> None:
    h = api.auth()
    r = api.client.post("/api/deposit/depositions", json={"unknownkey": "data", "metadata": {}}, headers=h)
    assert r.status_code == 400
    assert r.json()["status"] == 400 and r.json()["errors"][0]["field"] == "unknownkey"
    assert api.client.get("/api/deposit/depositions", headers=h).json() == []


def test_create_with_wrong_content_type_is_415(api: Api) -> None:
    r = api.client.post("/api/deposit/depositions", content=b"x=1", headers={
        **api.auth(), "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    assert r.json() == {"status": 415, "message": "Invalid 'Content-Type' header. Expected one of: application/json"}


def test_create_with_broken_json_is_400(api: Api) -> None:
    r = api.client.post("/api/deposit/depositions", content=b"{nope", headers={
        **api.auth(), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["status"] == 400


def test_read_update_delete(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    r = api.client.get(dep["links"]["self"], headers=h)
    assert r.status_code == 200 and r.json()["id"] == dep["id"]
    r = api.client.put(dep["links"]["self"], json={"metadata": metadata(title="Renamed sheet")}, headers=h)
    assert r.status_code == 200 and r.json()["metadata"]["title"] == "Renamed sheet"
    assert r.json()["title"] == "Renamed sheet"
    assert api.client.delete(dep["links"]["self"], headers=h).status_code == 204
    assert api.client.get(dep["links"]["self"], headers=h).status_code == 404
    # Second delete: current Zenodo answers 404 (legacy 410).
    assert api.client.delete(dep["links"]["self"], headers=h).status_code == 404


def test_update_requires_metadata_key(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    r = api.client.put(dep["links"]["self"], json={"title": "x"}, headers=h)
    assert r.status_code == 400


def test_unknown_id_is_404_with_body(api: Api) -> None:
    r = api.client.get("/api/deposit/depositions/999999", headers=api.auth())
    assert r.status_code == 404
    assert r.json()["status"] == 404 and r.json()["message"]


def test_trailing_slash_is_404(api: Api) -> None:
    r = api.client.get("/api/deposit/depositions/", headers=api.auth())
    assert r.status_code == 404


def test_list_pages_and_limits(api: Api) -> None:
    h = api.auth()
    ids = [create(api.client, h, metadata(title=f"Sheet {i}"))["id"] for i in range(3)]
    r = api.client.get("/api/deposit/depositions", params={"size": 2}, headers=h)
    assert r.status_code == 200 and [d["id"] for d in r.json()] == ids[::-1][:2]  # newest first
    r = api.client.get("/api/deposit/depositions", params={"size": 2, "page": 2}, headers=h)
    assert [d["id"] for d in r.json()] == [ids[0]]
    r = api.client.get("/api/deposit/depositions", params={"sort": "-mostrecent"}, headers=h)
    assert [d["id"] for d in r.json()] == ids
    r = api.client.get("/api/deposit/depositions", params={"size": 101}, headers=h)
    assert r.status_code == 400 and "100" in r.text
    r = api.client.get("/api/deposit/depositions", params={"size": 100, "page": 101}, headers=h)
    assert r.status_code == 400 and r.json()["message"] == "Invalid querystring parameters."


def test_list_finds_a_deposit_by_alternate_identifier(api: Api) -> None:
    h = api.auth()
    a = create(api.client, h, metadata(related_identifiers=[
        {"identifier": "urn:catalog:TROM:A:1", "relation": "isAlternateIdentifier", "scheme": "urn"}]))
    b = create(api.client, h, metadata(related_identifiers=[
        {"identifier": "urn:catalog:TROM:A:2", "relation": "isAlternateIdentifier", "scheme": "urn"}]))
    create(api.client, h, metadata(related_identifiers=[
        {"identifier": "urn:catalog:TROM:A:3", "relation": "isAlternateIdentifier", "scheme": "urn"}]))
    q = 'alternate.identifier:"urn:catalog:TROM:A:1" OR alternate.identifier:"urn:catalog:TROM:A:2"'
    r = api.client.get("/api/deposit/depositions", params={"q": q}, headers=h)
    assert r.status_code == 200 and sorted(d["id"] for d in r.json()) == sorted([a["id"], b["id"]])
    r = api.client.get("/api/deposit/depositions", params={"q": "title:vesiculosus"}, headers=h)
    assert len(r.json()) == 3
    r = api.client.get("/api/deposit/depositions", params={"q": 'title:"("'}, headers=h)
    assert r.status_code == 200
    r = api.client.get("/api/deposit/depositions", params={"q": "title:(unclosed"}, headers=h)
    assert r.status_code == 400


def test_list_shows_latest_version_unless_all_versions(api: Api) -> None:
    h = api.auth()
    first = published(api.client, h)
    r = api.client.post(first["links"]["newversion"], headers=h)
    assert r.status_code == 201
    ids = [d["id"] for d in api.client.get("/api/deposit/depositions", headers=h).json()]
    assert ids == [r.json()["id"]]
    ids = [d["id"] for d in api.client.get("/api/deposit/depositions", params={"all_versions": ""},
                                           headers=h).json()]
    assert sorted(ids) == sorted([first["id"], r.json()["id"]])
