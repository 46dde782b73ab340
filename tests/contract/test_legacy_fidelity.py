"""Contract: the legacy API's answers as current Zenodo gives them (issue 12, item 5; research/zenodo-api.md
§2.2, §2.3, §3.3, §3.4; the related-identifier messages are zenodo-rdm's test_malformed_related_identifiers)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import Api
from payloads import create, metadata, published


def test_listed_depositions_have_no_bucket_link(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    assert "bucket" in dep["links"]  # read from the database: the bucket is there
    assert "bucket" in api.client.get(dep["links"]["self"], headers=h).json()["links"]
    listed = api.client.get("/api/deposit/depositions", headers=h).json()
    assert [d["id"] for d in listed] == [dep["id"]]
    assert "bucket" not in listed[0]["links"] and listed[0]["links"]["self"] == dep["links"]["self"]


def test_search_pages_link_back(api: Api) -> None:
    marker = uuid.uuid4().hex[:8]
    h = api.auth()
    for n in range(3):
        published(api.client, h, metadata(title=f"Sheet {n} {marker}"))
    pages = [api.client.get("/api/records", params={"q": f"title:{marker}", "size": 1, "page": p}).json()["links"]
             for p in (1, 2, 3)]
    assert "prev" not in pages[0] and "next" in pages[0]
    assert "page=1" in pages[1]["prev"] and "page=3" in pages[1]["next"]
    assert "page=2" in pages[2]["prev"] and "next" not in pages[2]
    prev = urlsplit(pages[2]["prev"])
    back = api.client.get(f"{prev.path}?{prev.query}")
    assert back.json()["links"]["self"] == pages[1]["self"]


def test_imprint_publisher_defaults_to_the_repository(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    assert dep["metadata"]["imprint_publisher"] == "Depot"
    own = create(api.client, h, metadata(imprint_publisher="Meise Botanic Garden"))
    assert own["metadata"]["imprint_publisher"] == "Meise Botanic Garden"
    # A body without metadata stores none, so nothing is defaulted (as Zenodo applies defaults to metadata).
    empty = api.client.post("/api/deposit/depositions", json={}, headers=h).json()
    assert "imprint_publisher" not in empty["metadata"]


def test_thesis_supervisors_become_contributors(api: Api) -> None:
    h = api.auth()
    meta = metadata(thesis_supervisors=[{"name": "Doe, Jane", "affiliation": "Meise", "orcid": "0000-0002-1694-233X"}],
                    contributors=[{"name": "Roe, Rick", "type": "DataCollector"}])
    dep = create(api.client, h, meta)
    assert "thesis_supervisors" not in dep["metadata"]
    assert dep["metadata"]["contributors"] == [
        {"name": "Doe, Jane", "affiliation": "Meise", "orcid": "0000-0002-1694-233X", "type": "Supervisor"},
        {"name": "Roe, Rick", "type": "DataCollector"}]
    # An update folds them the same way, and a published record shows them as contributors.
    updated = api.client.put(dep["links"]["self"], headers=h, json={"metadata": metadata(
        thesis_supervisors=[{"name": "Poe, Ann"}])}).json()
    assert updated["metadata"]["contributors"] == [{"name": "Poe, Ann", "type": "Supervisor"}]
    rec = published(api.client, h, meta)
    record = api.client.get(f"/api/records/{rec['id']}").json()
    assert record["metadata"]["contributors"][0]["type"] == "Supervisor"
    assert "thesis_supervisors" not in record["metadata"]


@pytest.mark.parametrize(("related", "field", "message"), [
    ("not-a-list", "metadata.related_identifiers", "related_identifiers must be a list"),
    (["not-a-dict"], "metadata.related_identifiers.0", "Each related identifier must be an object"),
    ([{"identifier": "10.1234/foo", "relation": 123}], "metadata.related_identifiers.0.relation",
     "relation must be a string"),
    ([{"identifier": "10.1234/foo", "relation": "isCitedBy"}, 7], "metadata.related_identifiers.1",
     "Each related identifier must be an object"),
])
def test_malformed_related_identifiers(api: Api, related: Any, field: str, message: str) -> None:
    h = api.auth()
    r = api.client.post("/api/deposit/depositions", headers=h,
                        json={"metadata": metadata(related_identifiers=related)})
    assert r.status_code == 400
    body = r.json()
    assert body["message"] == "A validation error occurred."
    assert body["errors"] == [{"field": field, "messages": [message]}]
    assert api.client.get("/api/deposit/depositions", headers=h).json() == []  # nothing was created
