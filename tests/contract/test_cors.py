"""Contract: CORS as on Zenodo, ``Allow`` on 405 and ``OPTIONS``, ``ETag`` on depositions and records
(issue 12, item 4; research/zenodo-api.md §5.2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Api
from payloads import create, published

ORIGIN = {"Origin": "https://collections.example.org"}


def test_api_answers_carry_cors_headers(api: Api) -> None:
    for path in ("/api/records", "/api/deposit/depositions", "/api/records/999999"):
        r = api.client.get(path, headers=ORIGIN)
        assert r.headers["access-control-allow-origin"] == "*", path
        exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "etag"} <= exposed, path
    # The landing pages are not API answers: no CORS grant there.
    assert "access-control-allow-origin" not in api.client.get("/search").headers


def test_preflight_is_answered(api: Api) -> None:
    r = api.client.options("/api/deposit/depositions", headers={
        **ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status_code == 200 and r.content == b""
    assert r.headers["access-control-allow-origin"] == "*"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "authorization, content-type"
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}


def test_plain_options_lists_the_paths_methods(api: Api) -> None:
    r = api.client.options("/api/deposit/depositions/1")
    assert r.status_code == 200 and set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT", "DELETE",
                                                                            "OPTIONS"}
    assert api.client.options("/api/no/such/path").status_code == 404


def test_405_says_what_is_allowed(api: Api) -> None:
    r = api.client.patch("/api/deposit/depositions", headers=api.auth())
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}
    assert r.json() == {"status": 405, "message": "The method is not allowed for the requested URL."}
    # A 405 a handler raises itself (multipart uploads to a bucket object) gets the full list too.
    dep = create(api.client, h := api.auth())
    r = api.client.post(f"{dep['links']['bucket']}/a.jpg", headers=h)
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT", "DELETE",
                                                                            "POST", "OPTIONS"}
    r = api.client.get(dep["links"]["publish"], headers=h)
    assert r.status_code == 405 and r.headers["allow"] == "OPTIONS, POST"


def test_depositions_and_records_carry_an_etag(api: Api) -> None:
    h = api.auth()
    r = api.client.post("/api/deposit/depositions", json={}, headers=h)
    assert r.status_code == 201 and r.headers["etag"].startswith('"')  # the 2019 uploader reads it here
    created = r.headers["etag"]
    dep_id = r.json()["id"]
    read = api.client.get(f"/api/deposit/depositions/{dep_id}", headers=h)
    assert read.headers["etag"] == created  # the same representation, the same tag
    changed = api.client.put(f"/api/deposit/depositions/{dep_id}", json={"metadata": {"title": "Changed"}},
                             headers=h)
    assert changed.status_code == 200 and changed.headers["etag"] != created
    rec = published(api.client, h)
    for path in (f"/api/records/{rec['id']}", f"/api/records/{rec['id']}/versions/latest"):
        assert api.client.get(path).headers["etag"].startswith('"'), path


def test_a_500_carries_cors_headers_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Starlette answers an unexpected error outside every middleware: without the headers a browser script
    sees a CORS failure instead of Zenodo's 500 body with its error id."""
    from starlette.testclient import TestClient

    from depot.repository.app import create_app
    from depot.repository.config import RepositoryConfig

    config = RepositoryConfig(data_dir=tmp_path / "repo", base_url="http://testserver")
    config.data_dir.mkdir()
    app = create_app(config)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.context.records, "search", broken)  # type: ignore[attr-defined]
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        r = client.get("/api/records", headers=ORIGIN)
        page = client.get("/search")
    assert r.status_code == 500 and r.json()["error_id"]
    assert r.headers["access-control-allow-origin"] == "*"
    assert "x-ratelimit-remaining" in r.headers["access-control-expose-headers"].lower()
    assert page.status_code == 500 and "access-control-allow-origin" not in page.headers
