"""Contract: the public records API and communities (spec §4.1, §4.2, §2.6 communities)."""

from __future__ import annotations

import uuid

from conftest import Api
from payloads import create, metadata, published


def test_record_has_zenodo_json_shape(api: Api) -> None:
    rec = published(api.client, api.auth(), files={"sheet.jpg": b"\xff\xd8 bytes"})
    r = api.client.get(f"/api/records/{rec['id']}")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == rec["id"] and body["recid"] == str(rec["id"])
    assert body["doi"] == rec["doi"] and body["conceptdoi"] == rec["conceptdoi"]
    assert body["status"] == "published" and body["state"] == "done"
    assert body["files"][0]["key"] == "sheet.jpg" and body["files"][0]["checksum"].startswith("md5:")
    assert set(body["stats"]) >= {"downloads", "unique_downloads", "views", "unique_views"}
    assert body["metadata"]["title"] == rec["title"]
    r = api.client.get(f"/api/records/{rec['id']}/files")
    assert [e["key"] for e in r.json()["entries"]] == ["sheet.jpg"]


def test_unpublished_is_not_a_record(api: Api) -> None:
    dep = create(api.client, api.auth())
    assert api.client.get(f"/api/records/{dep['id']}").status_code == 404
    assert api.client.get("/api/records/abc").status_code == 404


def test_search_records(api: Api) -> None:
    h = api.auth()
    marker = uuid.uuid4().hex[:8]
    rec = published(api.client, h, metadata(title=f"Ascophyllum nodosum {marker}", related_identifiers=[
        {"identifier": f"urn:catalog:TROM:A:{marker}", "relation": "isAlternateIdentifier", "scheme": "urn"}]))
    create(api.client, h, metadata(title=f"Draft only {marker}"))
    r = api.client.get("/api/records", params={"q": f"title:{marker}"})
    assert r.status_code == 200
    assert [hit["id"] for hit in r.json()["hits"]["hits"]] == [rec["id"]] and r.json()["hits"]["total"] == 1
    r = api.client.get("/api/records", params={"q": f'alternate.identifier:"urn:catalog:TROM:A:{marker}"'})
    assert r.json()["hits"]["total"] == 1
    r = api.client.get("/api/records", params={"size": 26})
    assert r.status_code == 400 and "25" in r.json()["errors"][0]["messages"][0]
    assert api.client.get("/api/records", params={"size": 100}, headers=h).status_code == 200
    assert api.client.get("/api/records", params={"size": 101}, headers=h).status_code == 400


def test_communities_owned_are_accepted_others_pending_unknown_refused(api: Api) -> None:
    slug = f"herb-{uuid.uuid4().hex[:6]}"
    owner_email = f"curator-{slug}@example.org"
    api.accounts.create_community(slug, "Belgium herbarium", owner_email, "2026-01-01T00:00:00+00:00")
    mine = published(api.client, api.auth(owner_email), metadata(communities=[{"identifier": slug}]))
    theirs = published(api.client, api.auth(), metadata(communities=[{"identifier": slug}]))
    # An unknown community is refused when the deposit is saved, as Zenodo's legacy API did (not dropped).
    refused = api.client.post("/api/deposit/depositions", headers=api.auth(),
                              json={"metadata": metadata(communities=[{"identifier": "no-such-community"}])})
    assert refused.status_code == 400 and "Invalid communities: no-such-community" in refused.json()["message"]
    assert refused.json()["errors"][0]["field"] == "communities"
    draft = api.client.post("/api/deposit/depositions", headers=(h := api.auth()), json={"metadata": metadata()})
    refused = api.client.put(f"/api/deposit/depositions/{draft.json()['id']}", headers=h,
                             json={"metadata": metadata(communities=[{"identifier": slug}, {"identifier": "nope"}])})
    assert refused.status_code == 400 and refused.json()["message"] == "Invalid communities: nope"
    r = api.client.get("/api/records", params={"communities": slug, "size": 25})
    assert [hit["id"] for hit in r.json()["hits"]["hits"]] == [mine["id"]]
    assert api.client.get(f"/api/records/{mine['id']}").json()["metadata"]["communities"] == [{"id": slug}]
    assert "communities" not in api.client.get(f"/api/records/{theirs['id']}").json()["metadata"]
    r = api.client.get(f"/api/communities/{slug}")
    assert r.status_code == 200 and r.json()["slug"] == slug
    assert api.client.get("/api/communities/nope").status_code == 404


def test_openapi_document(api: Api) -> None:
    r = api.client.get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    for path in ("/deposit/depositions", "/deposit/depositions/{id}/actions/publish", "/files/{bucket}/{key}",
                 "/records/{id}", "/records", "/communities/{id}/listing"):
        assert path in doc["paths"], path


def test_community_listing_streams_every_record(api: Api) -> None:
    import csv
    import io

    slug = f"list-{uuid.uuid4().hex[:6]}"
    owner = f"owner-{slug}@example.org"
    api.accounts.create_community(slug, "Listing test", owner, "2026-01-01T00:00:00+00:00")
    h = api.auth(owner)
    recs = [published(api.client, h, metadata(title=f"Sheet {i} {slug}", communities=[{"identifier": slug}],
                                               related_identifiers=[{"identifier": f"urn:x:{slug}:{i}",
                                                                     "relation": "isAlternateIdentifier"}]),
                      files={f"s{i}.jpg": b"jpeg" * (i + 1)}) for i in range(3)]
    published(api.client, api.auth(), metadata(communities=[{"identifier": slug}]))  # pending: not listed
    r = api.client.get(f"/api/communities/{slug}/listing")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    rows = r.json()
    assert [row["doi"] for row in rows] == [rec["doi"] for rec in recs]
    assert rows[1]["keys"] == [f"urn:x:{slug}:1"] and rows[1]["files"][0]["key"] == "s1.jpg"
    assert rows[1]["files"][0]["size"] == 8 and rows[1]["files"][0]["checksum"].startswith("md5:")
    r = api.client.get(f"/api/communities/{slug}/listing", params={"format": "csv"})
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [t["doi"] for t in table] == [rec["doi"] for rec in recs] and table[2]["file"] == "s2.jpg"
    assert api.client.get(f"/api/communities/{slug}/listing", params={"format": "xml"}).status_code == 400
    assert api.client.get("/api/communities/nope/listing").status_code == 404
