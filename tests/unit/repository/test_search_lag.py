"""search_lag_seconds: Zenodo lists and searches from an index that trails writes; the double can too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from contract.payloads import create, published
from depot.repository.app import build_context, create_app
from depot.repository.config import RepositoryConfig, from_env


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_new_deposition_is_listed_only_once_the_index_caught_up(tmp_path: Path) -> None:
    config = RepositoryConfig(data_dir=tmp_path, base_url="http://testserver", search_lag_seconds=1.5,
                              user_limit_per_minute=0, user_limit_per_hour=0, search_limit_per_minute=0,
                              bags=False, fixity_cycle=False)
    clock = Clock()
    ctx = build_context(config, clock=clock)
    with TestClient(create_app(config, context=ctx), base_url="http://testserver") as client:
        h = {"Authorization": f"Bearer {ctx.accounts.create_token('lag@example.org', clock.now.isoformat())}"}
        made = create(client, h)
        q = {"q": 'alternate.identifier:"urn:catalog:TROM:A:8528"', "all_versions": "1"}
        assert client.get("/api/deposit/depositions", params=q, headers=h).json() == []  # not indexed yet
        assert client.get(f"/api/deposit/depositions/{made['id']}", headers=h).status_code == 200  # but it exists
        clock.now += timedelta(seconds=2)
        assert [d["id"] for d in client.get("/api/deposit/depositions", params=q, headers=h).json()] == [made["id"]]
        record = published(client, h)
        assert record["id"] not in [r["id"] for r in client.get("/api/records").json()["hits"]["hits"]]
        clock.now += timedelta(seconds=2)
        assert record["id"] in [r["id"] for r in client.get("/api/records").json()["hits"]["hits"]]


def test_numbers_from_the_environment_are_checked() -> None:
    assert from_env({"DEPOT_SEARCH_LAG_SECONDS": "0.5"}).search_lag_seconds == 0.5
    with pytest.raises(ValueError, match="DEPOT_OAI_PAGE_SIZE must be a number, got 'fifty'"):
        from_env({"DEPOT_OAI_PAGE_SIZE": "fifty"})
