"""Usage counts through the real app: landing-page views and downloads reach the records API ``stats``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from contract.payloads import metadata, published
from depot.repository.app import build_context, create_app
from depot.repository.config import RepositoryConfig
from depot.repository.store.tables import usage_events

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(params=["sqlite", "postgres"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Clock]]:
    db_url = str(request.getfixturevalue("postgres_database")) if request.param == "postgres" else None
    config = RepositoryConfig(data_dir=tmp_path, db_url=db_url, base_url="http://testserver", user_limit_per_minute=0,
                              user_limit_per_hour=0, search_limit_per_minute=0, fsync=False)
    clock = Clock()
    ctx = build_context(config, clock=clock)
    app = create_app(config, context=ctx)
    token = ctx.accounts.create_token("u@example.org", "2026-01-01T00:00:00+00:00")
    with TestClient(app, base_url="http://testserver", headers={"user-agent": FIREFOX}) as client:
        yield client, {"Authorization": f"Bearer {token}"}, clock


def stats(client: TestClient, recid: int) -> dict[str, int]:
    return client.get(f"/api/records/{recid}").json()["stats"]  # type: ignore[no-any-return]


def test_views_and_downloads_with_double_clicks_robots_and_versions(
        repo: tuple[TestClient, dict[str, str], Clock]) -> None:
    client, h, clock = repo
    v1 = published(client, h, metadata(), files={"a.jpg": b"one"})
    assert stats(client, v1["id"])["views"] == 0
    assert client.get(f"/records/{v1['id']}").status_code == 200
    clock.advance(10)
    client.get(f"/records/{v1['id']}")  # a double click: not counted
    clock.advance(40)
    client.get(f"/records/{v1['id']}")
    client.head(f"/records/{v1['id']}")  # HEAD is no view
    client.get(f"/records/{v1['id']}", headers={"user-agent": "python-requests/2.32.3"})
    client.get(f"/records/{v1['id']}", headers={"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
    assert client.get(f"/api/records/{v1['id']}/files/a.jpg/content").content == b"one"
    client.get(f"/api/records/{v1['id']}/files/a.jpg/content", headers={"range": "bytes=1-"})  # partial
    assert client.get(f"/api/records/{v1['id']}/files/missing.jpg/content").status_code == 404
    s = stats(client, v1["id"])
    assert (s["views"], s["unique_views"], s["downloads"], s["unique_downloads"]) == (2, 1, 1, 1)
    assert s["version_views"] == 2 and s["version_downloads"] == 1
    assert client.get(f"/records/{v1['id']}/export/json").json()["stats"] == s  # the JSON export shows them too

    # A new version: its own version counts start at zero, the concept's carry on.
    dep = client.post(f"/api/deposit/depositions/{v1['id']}/actions/newversion", headers=h).json()
    draft = client.get(dep["links"]["latest_draft"], headers=h).json()
    client.put(draft["links"]["self"], json={"metadata": metadata(version="2")}, headers=h)
    assert client.post(draft["links"]["publish"], headers=h).status_code == 202
    clock.advance(3600)  # next hour: a new COUNTER session
    client.get(f"/records/{draft['id']}")
    s2 = stats(client, draft["id"])
    assert (s2["version_views"], s2["version_unique_views"], s2["views"], s2["unique_views"]) == (1, 1, 3, 2)
    assert stats(client, v1["id"])["version_views"] == 2


def test_only_a_hash_of_the_session_is_stored(repo: tuple[TestClient, dict[str, str], Clock]) -> None:
    client, h, _ = repo
    rec = published(client, h)
    client.get(f"/records/{rec['id']}")
    with client.app.context.deposits.db.read() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(sa.select(usage_events).where(usage_events.c.record_id == rec["id"])).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.kind == "view" and row.record_id == rec["id"] and len(row.session) == 32
    assert "testclient" not in str(tuple(row)) and "Firefox" not in str(tuple(row))


def test_cached_counts_match_a_recount_even_when_events_arrive_out_of_order(
        repo: tuple[TestClient, dict[str, str], Clock]) -> None:
    from depot.repository.services.usage import usage_service
    from depot.repository.usage.counter import stats as recount

    client, h, clock = repo
    rec = published(client, h)
    ctx = client.app.context  # type: ignore[attr-defined]
    service = usage_service(ctx.deposits.db, ctx.config.data_dir, clock)
    deposit = ctx.records.read(rec["id"])
    steps = [0, 10, 40, 3600, -3000, 20, 25, 31]  # the -3000 is a late event from a skewed clock
    for n, step in enumerate(steps):
        clock.advance(step)
        client.get(f"/records/{rec['id']}", headers={"user-agent": f"{FIREFOX} {n % 3}"})
        cached = service.stats(deposit)
        assert cached == recount([e for _, e in service.events(deposit.concept_id)], deposit.id), n
    assert cached["views"] == 8 and cached["unique_views"] == 4  # three agents at 10h, one of them again at 11h
