"""Contract: no request answers 5xx. Ids are Zenodo's (ASCII digits, positive, in range) or a 404; the query
parser answers 400 past its depth and term limits (issue 13, part 1)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from conftest import Api
from payloads import create, published

INPROCESS = pytest.mark.parametrize("api", ["inprocess-sqlite", "inprocess-postgres"], indirect=True)

# Past SQLite's 64-bit integers, past PostgreSQL's 32-bit integer column, written with an underscore, in
# Arabic-Indic and full-width digits, a superscript, a sign, a leading zero, zero.
HOSTILE_IDS = ["99999999999999999999", str(2**31), str(2**63), "1_0", "\u0661\u0660", "\uff11\uff10", "\u00b2",
               "+10", "-1", "010", "0", " 10"]


def _paths(raw: str) -> list[str]:
    rid = quote(raw, safe="")
    return [f"/api/records/{rid}", f"/api/records/{rid}/versions", f"/api/records/{rid}/versions/latest",
            f"/api/records/{rid}/files", f"/api/records/{rid}/files/sheet.jpg/content",
            f"/api/records/{rid}/draft/files/sheet.jpg/content", f"/records/{rid}", f"/records/{rid}/latest",
            f"/records/{rid}/export/json", f"/api/iiif/record:{rid}:sheet.jpg/info.json",
            f"/api/deposit/depositions/{rid}", f"/api/deposit/depositions/{rid}/files",
            f"/api/records/{rid}/draft", f"/api/records/{rid}/draft/files", f"/api/records/{rid}/draft/files/a.jpg"]


@INPROCESS
@pytest.mark.parametrize("raw", HOSTILE_IDS)
def test_hostile_ids_are_404_everywhere(api: Api, raw: str) -> None:
    h = api.auth()
    for path in _paths(raw):
        r = api.client.get(path, headers=h)
        assert r.status_code == 404, (path, r.status_code, r.text[:200])
    r = api.client.get("/oai2d", params={"verb": "GetRecord", "metadataPrefix": "oai_dc",
                                         "identifier": f"oai:testserver:{raw}"})
    assert r.status_code == 200 and "idDoesNotExist" in r.text


@INPROCESS
def test_ids_that_python_reads_as_ten_never_reach_deposit_10(api: Api) -> None:
    h = api.auth()
    target = create(api.client, h)
    while target["id"] < 10:  # ids of two digits or more, so that one can be written as 1_0
        target = create(api.client, h)
    digits = str(target["id"])
    for raw in (digits[:1] + "_" + digits[1:], "".join(chr(0x0660 + int(c)) for c in digits), "0" + digits):
        for method, path in (("POST", f"/api/deposit/depositions/{quote(raw)}/actions/publish"),
                             ("PUT", f"/api/deposit/depositions/{quote(raw)}"),
                             ("DELETE", f"/api/deposit/depositions/{quote(raw)}"),
                             ("POST", f"/api/records/{quote(raw)}/draft/actions/publish"),
                             ("PUT", f"/api/records/{quote(raw)}/draft"),
                             ("DELETE", f"/api/records/{quote(raw)}/draft")):
            r = api.client.request(method, path, headers=h, json={"metadata": {}} if method == "PUT" else None)
            assert r.status_code == 404, (method, raw, r.status_code, r.text[:200])
    assert api.client.get(f"/api/deposit/depositions/{digits}", headers=h).json()["state"] == "unsubmitted"


@INPROCESS
@pytest.mark.parametrize("q", ["recid:99999999999999999999", f"recid:{2**31}", "recid:[1 TO 99999999999999999999]",
                               f"conceptrecid:{2**40}", "recid:1_0", "recid:\u0661\u0660"])
def test_id_queries_out_of_range_are_400_not_500(api: Api, q: str) -> None:
    for path in ("/api/records", "/api/deposit/depositions", "/api/user/records"):
        r = api.client.get(path, params={"q": q}, headers=api.auth())
        assert r.status_code == 400, (path, q, r.status_code, r.text[:200])
        assert r.json()["errors"][0]["field"] == "q"


@INPROCESS
def test_valid_recid_query_still_finds_the_record(api: Api) -> None:
    rec = published(api.client, api.auth())
    r = api.client.get("/api/records", params={"q": f"recid:{rec['id']}"})
    assert r.status_code == 200 and [hit["id"] for hit in r.json()["hits"]["hits"]] == [rec["id"]]
    assert api.client.get(f"/api/records/{rec['id']}").status_code == 200


@INPROCESS
@pytest.mark.parametrize("q", ["(" * 300 + "a" + ")" * 300, "- " * 300 + "a", "NOT " * 300 + "a",
                               " OR ".join(f'alternate.identifier:"k{i}"' for i in range(1000)),
                               " ".join(f"w{i}" for i in range(1000)), "x:(" * 300 + "a" + ")" * 300])
def test_deep_or_long_queries_are_400(api: Api, q: str) -> None:
    for path in ("/api/records", "/api/deposit/depositions", "/api/user/records"):
        r = api.client.get(path, params={"q": q}, headers=api.auth())
        assert r.status_code == 400, (path, r.status_code, r.text[:200])
        assert r.json()["errors"][0]["field"] == "q" and "limit" in r.json()["errors"][0]["messages"][0]


@INPROCESS
def test_depositor_sized_query_is_accepted(api: Api) -> None:
    # The depositor probes 20 keys an OR query; a nesting of 20 is far from the limits.
    q = " OR ".join(f'alternate.identifier:"k{i}"' for i in range(250))  # the limit, on SQLite too
    assert api.client.get("/api/deposit/depositions", params={"q": q}, headers=api.auth()).status_code == 200
    assert api.client.get("/api/records", params={"q": "(" * 20 + "a" + ")" * 20}).status_code == 200
    # Bare words compile to two clauses each: 250 of them OR-ed stay within SQLite's expression depth (1,000).
    bare = " OR ".join(f"w{i}" for i in range(250))
    assert api.client.get("/api/deposit/depositions", params={"q": bare}, headers=api.auth()).status_code == 200
    nested = "(" * 32 + " AND ".join(f"w{i}" for i in range(250)) + ")" * 32
    assert api.client.get("/api/records", params={"q": nested}).status_code == 200
