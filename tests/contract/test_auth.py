"""Contract: the authorisation matrix — owner, other user, no token, bad token (spec §1.3)."""

from __future__ import annotations

import pytest

from conftest import Api
from payloads import create, put_file

DENIED = {"status": 403, "message": "Permission denied."}


@pytest.mark.parametrize("who", ["none", "bad", "other"])
def test_someone_else_cannot_touch_a_draft(api: Api, who: str) -> None:
    owner = api.auth()
    dep = create(api.client, owner)
    put_file(api.client, owner, dep, "a.jpg", b"secret draft")
    headers = {"none": {}, "bad": {"Authorization": "Bearer not-a-token"}, "other": api.auth()}[who]
    file_id = api.client.get(dep["links"]["files"], headers=owner).json()[0]["id"]
    calls = [
        ("GET", dep["links"]["self"], None), ("PUT", dep["links"]["self"], {"metadata": {"title": "x"}}),
        ("DELETE", dep["links"]["self"], None), ("GET", dep["links"]["files"], None),
        ("GET", f"{dep['links']['files']}/{file_id}", None), ("DELETE", f"{dep['links']['files']}/{file_id}", None),
        ("POST", dep["links"]["publish"], None), ("POST", dep["links"]["discard"], None),
        ("GET", f"{dep['links']['bucket']}/a.jpg", None), ("DELETE", f"{dep['links']['bucket']}/a.jpg", None),
        ("GET", dep["links"]["bucket"], None),
    ]
    for method, url, body in calls:
        r = api.client.request(method, url, json=body, headers=headers)
        assert r.status_code == 403, (method, url, r.status_code)
        assert r.json() == DENIED
    r = api.client.put(f"{dep['links']['bucket']}/b.jpg", content=b"x",
                       headers={**headers, "Content-Type": "application/octet-stream"})
    assert r.status_code == 403
    # The owner still sees the draft untouched.
    r = api.client.get(dep["links"]["self"], headers=owner)
    assert r.status_code == 200 and len(r.json()["files"]) == 1


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}])
def test_anonymous_list_and_create_are_403(api: Api, headers: dict[str, str]) -> None:
    assert api.client.get("/api/deposit/depositions", headers=headers).json() == DENIED
    r = api.client.post("/api/deposit/depositions", json={}, headers=headers)
    assert r.status_code == 403 and r.json() == DENIED


def test_token_as_query_parameter(api: Api) -> None:
    token = api.token()
    r = api.client.post("/api/deposit/depositions", params={"access_token": token}, json={})
    assert r.status_code == 201
    r = api.client.get("/api/deposit/depositions", params={"access_token": token})
    assert r.status_code == 200 and len(r.json()) == 1


def test_users_only_list_their_own(api: Api) -> None:
    a, b = api.auth(), api.auth()
    create(api.client, a)
    assert api.client.get("/api/deposit/depositions", headers=b).json() == []
    assert len(api.client.get("/api/deposit/depositions", headers=a).json()) == 1
