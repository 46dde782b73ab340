"""Contract: the records search's ``aggregations``, as current Zenodo returns them (issue 12, item 5):
access status, resource type (nested by subtype), subject (keywords) and file type."""

from __future__ import annotations

import uuid

from conftest import Api
from payloads import metadata, published


def test_search_aggregations(api: Api) -> None:
    h = api.auth()
    c = api.client
    marker = uuid.uuid4().hex[:8]
    published(c, h, metadata(title=f"A {marker}", keywords=["Herbarium", "Algae"]), {"a.jpg": b"\xff\xd8 a"})
    published(c, h, metadata(title=f"B {marker}", keywords=["Herbarium"]), {"b.jpg": b"\xff\xd8 b",
                                                                            "b.txt": b"label"})
    published(c, h, metadata(title=f"C {marker}", upload_type="dataset", access_right="restricted",
                             keywords=[]), {"c.csv": b"x,y"})
    rdm = {**h, "Accept": "application/vnd.inveniordm.v1+json"}
    draft = c.post("/api/records", headers=rdm, json={"files": {"enabled": False}, "metadata": {
        "title": f"D {marker}", "resource_type": {"id": "publication-article"},
        "creators": [{"person_or_org": {"type": "personal", "name": "Lid, Johannes"}}]}}).json()
    assert c.post(f"/api/records/{draft['id']}/draft/actions/publish", headers=rdm).status_code == 202
    c.post("/api/deposit/depositions", headers=h, json={"metadata": metadata(title=f"E {marker}")})  # a draft
    r = c.get("/api/records", params={"q": f"title:{marker}", "size": 1})
    assert r.status_code == 200 and r.json()["hits"]["total"] == 4
    aggs = r.json()["aggregations"]  # over every hit, not the page
    assert set(aggs) == {"access_status", "resource_type", "subject", "file_type"}

    def counts(facet: str) -> dict[str, int]:
        return {b["key"]: b["doc_count"] for b in aggs[facet]["buckets"]}

    assert counts("access_status") == {"open": 2, "restricted": 1, "metadata-only": 1}
    assert counts("subject") == {"Herbarium": 2, "Algae": 1}
    assert counts("file_type") == {"jpg": 2, "txt": 1, "csv": 1}
    assert [b["key"] for b in aggs["file_type"]["buckets"]] == ["jpg", "csv", "txt"]  # by count, then key
    types = {b["key"]: b for b in aggs["resource_type"]["buckets"]}
    assert {k: b["doc_count"] for k, b in types.items()} == {"image": 2, "dataset": 1, "publication": 1}
    assert types["image"]["label"] == "Image" and types["image"]["is_selected"] is False
    assert types["image"]["inner"]["buckets"] == [{"key": "photo", "doc_count": 2, "label": "Photo",
                                                   "is_selected": False}]
    assert aggs["resource_type"]["label"] == "Resource types" and aggs["file_type"]["buckets"][0]["label"] == "JPG"


def test_search_filters_by_facets(api: Api) -> None:
    """``f=facet:value`` (InvenioRDM) and ``facet=value`` (Zenodo) filter the hits: any value of a facet,
    every facet; the aggregations mark the chosen buckets."""
    h = api.auth()
    c = api.client
    marker = uuid.uuid4().hex[:8]
    published(c, h, metadata(title=f"A {marker}", keywords=["Herbarium", "Algae"]), {"a.jpg": b"\xff\xd8 a"})
    published(c, h, metadata(title=f"B {marker}", keywords=["Herbarium"]), {"b.png": b"\x89PNG b"})
    published(c, h, metadata(title=f"C {marker}", upload_type="dataset", keywords=["Algae"]), {"c.csv": b"x,y"})

    def titles(params: list[tuple[str, str]]) -> list[str]:
        r = c.get("/api/records", params=[("q", f"title:{marker}"), ("sort", "title"), *params])
        assert r.status_code == 200, r.text
        return [hit["metadata"]["title"].split()[0] for hit in r.json()["hits"]["hits"]]

    assert titles([("f", "subject:Herbarium")]) == ["A", "B"]
    assert titles([("subject", "Herbarium")]) == ["A", "B"]
    assert titles([("f", "subject:Herbarium"), ("f", "subject:Algae")]) == ["A", "B", "C"]  # any of a facet
    assert titles([("f", "subject:Algae"), ("f", "file_type:jpg")]) == ["A"]  # and every facet
    assert titles([("f", "resource_type:image::photo")]) == ["A", "B"]
    assert titles([("resource_type", "dataset")]) == ["C"]
    r = c.get("/api/records", params=[("q", f"title:{marker}"), ("f", "subject:Algae")])
    aggs = r.json()["aggregations"]
    assert [(b["key"], b["is_selected"]) for b in aggs["subject"]["buckets"]] == [("Algae", True), ("Herbarium", False)]
    r = c.get("/api/records", params={"f": "colour:red"})
    assert r.status_code == 400 and "f='colour:red'" in r.text and "access_status" in r.text
