"""Rate limits: Zenodo's headers on every response, 429 past the limit, a separate search bucket."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.testclient import TestClient

from depot.repository.app import create_app
from depot.repository.config import RepositoryConfig


def make_client(tmp_path: Path, **limits: int) -> tuple[TestClient, str]:
    config = RepositoryConfig(data_dir=tmp_path, base_url="http://testserver", **limits)
    app = create_app(config)
    token = app.context.accounts.create_token("a@example.org", "2026-01-01T00:00:00+00:00")  # type: ignore[attr-defined]
    return TestClient(app, base_url="http://testserver"), token


def test_headers_on_every_response_and_429(tmp_path: Path) -> None:
    client, token = make_client(tmp_path, user_limit_per_minute=3, user_limit_per_hour=100)
    h = {"Authorization": f"Bearer {token}"}
    with client:
        seen = []
        for _ in range(3):
            r = client.get("/api/deposit/depositions", headers=h)
            assert r.status_code == 200
            seen.append(int(r.headers["x-ratelimit-remaining"]))
            assert r.headers["x-ratelimit-limit"] == "3"
            reset = int(r.headers["x-ratelimit-reset"])
            assert time.time() - 1 <= reset <= time.time() + 61
            assert 0 <= int(r.headers["retry-after"]) <= 60
        assert seen == [2, 1, 0]
        r = client.get("/api/deposit/depositions", headers=h)
        assert r.status_code == 429
        assert r.json() == {"status": 429, "message": "3 per 1 minute"}
        assert int(r.headers["retry-after"]) > 0
        # Errors count too (a 404 is a request), and another user has a bucket of their own.
        other = client.app.context.accounts.create_token("b@example.org", "x")  # type: ignore[attr-defined]
        r = client.get("/api/deposit/depositions/1", headers={"Authorization": f"Bearer {other}"})
        assert r.status_code == 404 and r.headers["x-ratelimit-remaining"] == "2"


def test_search_has_its_own_limit(tmp_path: Path) -> None:
    client, token = make_client(tmp_path, user_limit_per_minute=100, search_limit_per_minute=2)
    with client:
        assert [client.get("/api/records").status_code for _ in range(3)] == [200, 200, 429]
        assert client.get("/api/records").headers["x-ratelimit-limit"] == "2"
        # Other endpoints are still within the user limit.
        r = client.get("/api/deposit/depositions", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.headers["x-ratelimit-limit"] == "100"


def test_hourly_limit_applies(tmp_path: Path) -> None:
    client, _ = make_client(tmp_path, user_limit_per_minute=100, user_limit_per_hour=2)
    with client:
        codes = [client.get("/api/communities").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert client.get("/api/communities").json()["message"] == "2 per 1 hour"


def test_preflights_count_and_a_429_is_readable_by_a_browser(tmp_path: Path) -> None:
    """A CORS preflight is a request to the limiter, as on Zenodo; the 429 carries the CORS headers, so a
    page's script can read the status and the Retry-After it must honour."""
    client, _token = make_client(tmp_path, user_limit_per_minute=2, user_limit_per_hour=100)
    preflight = {"Origin": "https://example.org", "Access-Control-Request-Method": "GET"}
    with client:
        assert client.options("/api/records/1", headers=preflight).status_code == 200
        assert client.get("/api/records/1", headers={"Origin": "https://example.org"}).status_code == 404
        r = client.get("/api/records/1", headers={"Origin": "https://example.org"})
        assert r.status_code == 429 and r.headers["access-control-allow-origin"] == "*"
        assert "X-RateLimit-Reset" in r.headers["access-control-expose-headers"]
