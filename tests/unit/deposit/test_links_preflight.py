"""Pure parts of resume-anywhere and the preflight: links kept as paths, target choice, answers judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from depot.deposit.ledger.remembered import Sample
from depot.deposit.links import host_port, on_target, server_path, site_of
from depot.deposit.preflight import holds, judge, suggest_api
from depot.deposit.targets import same_target, site_url, token_help


def test_the_ledger_keeps_paths_and_requests_take_the_targets_host() -> None:
    bucket = "http://127.0.0.1:41234/api/files/8f1c-uuid"
    assert server_path(bucket) == "/api/files/8f1c-uuid"
    assert server_path(None) is None and server_path("") is None
    # A path written now, and an absolute URL written by an older Depot, both land on today's port.
    assert on_target("/api/files/8f1c-uuid", "http://127.0.0.1:5555/api") == "http://127.0.0.1:5555/api/files/8f1c-uuid"
    assert on_target(bucket, "http://127.0.0.1:5555/api") == "http://127.0.0.1:5555/api/files/8f1c-uuid"
    assert on_target("/records/7?x=1", "https://zenodo.org") == "https://zenodo.org/records/7?x=1"
    assert on_target(None, "https://zenodo.org/api") is None
    assert site_of("https://zenodo.org/api/") == "https://zenodo.org"
    assert host_port("https://zenodo.org/api") == "zenodo.org:443" and host_port("http://h:81/api") == "h:81"


def test_same_target_compares_api_urls_and_local_folders(tmp_path: Path) -> None:
    assert same_target("zenodo", None, "https://zenodo.org/api/", None)
    assert not same_target("zenodo", None, "sandbox", None)
    assert same_target("local", tmp_path / "a", "local", tmp_path / "a" / ".." / "a")
    assert not same_target("local", tmp_path / "a", "local", tmp_path / "b")
    assert not same_target("local", tmp_path / "a", "http://127.0.0.1:5000/api", None)
    assert site_url("sandbox", None) == "https://sandbox.zenodo.org"
    (tmp_path / "embedded-port").write_text("43210\n")
    assert site_url("local", tmp_path) == "http://127.0.0.1:43210"
    assert site_url("local", tmp_path / "none") is None


@pytest.mark.parametrize(("given", "meant"), [
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000/api"),
    ("http://127.0.0.1:5000/", "http://127.0.0.1:5000/api"),
    ("https://zenodo.org/api/deposit/depositions", "https://zenodo.org/api"),
    ("https://host/zenodo", "https://host/zenodo/api"),
])
def test_a_url_without_api_gets_a_suggestion(given: str, meant: str) -> None:
    assert suggest_api(given) == meant


def judged(status: int, body: bytes, api_url: str = "http://h:5000/api", ctype: str = "application/json",
           name: str = "http://h:5000/api") -> tuple[bool, bool, str]:
    v = judge(status, ctype, body, api_url=api_url, name=name, token_source="DEPOT_TOKEN")
    return v.ok, v.transient, v.message


def test_preflight_answers_are_judged_with_a_way_out() -> None:
    assert judged(200, b"[]")[0] and judged(200, b'[{"id": 3, "metadata": {}}]')[0]
    ok, _, message = judged(404, b"<html>Not found</html>", api_url="http://h:5000", ctype="text/html")
    assert not ok and "did you mean --target http://h:5000/api" in message
    ok, _, message = judged(200, b"<html>home page</html>", api_url="http://h:5000", ctype="text/html")
    assert not ok and "not a Zenodo-compatible deposit API" in message and "http://h:5000/api" in message
    ok, _, message = judged(200, b'{"hits": {"hits": []}}')
    assert not ok and "not a list of depositions" in message
    ok, transient, message = judged(403, b'{"status": 403, "message": "Permission denied."}')
    assert not ok and not transient
    assert "refused the token (HTTP 403: Permission denied)" in message and "DEPOT_TOKEN" in message
    assert "depot repo create-token" in message and "deposit:write and deposit:actions" in message
    _, _, message = judged(401, b"", api_url="https://zenodo.org/api", name="zenodo")
    assert "https://zenodo.org/account/settings/applications/tokens/new/" in message
    assert "create-token" not in token_help("zenodo", None)
    assert judged(503, b"")[1] and judged(429, b"")[1]
    # A JSON 404 from a URL ending in /api is a repository in an outage (Zenodo, 2019): the run goes on and waits.
    ok, _, message = judged(404, b'{"status": 404, "message": "Not found"}')
    assert ok and "outage" in message
    ok, _, message = judged(404, b"<html>Not Found</html>", ctype="text/html")
    assert not ok and "no Zenodo deposit API there" in message


def test_a_server_holds_the_ledgers_deposit_only_if_doi_and_bucket_agree() -> None:
    sample = Sample("K1", 2, "10.5072/depot.2", "Sheet K1", "/api/files/aaaa")
    here = {"id": 2, "doi": "10.5072/depot.2", "metadata": {"title": "Sheet K1"},
            "links": {"bucket": "http://127.0.0.1:6000/api/files/aaaa"}}
    assert holds(here, sample)
    # Another Depot repository fed the same data: same id, same DOI, another bucket.
    assert not holds({**here, "links": {"bucket": "http://127.0.0.1:7000/api/files/bbbb"}}, sample)
    assert not holds({**here, "doi": "10.5072/depot.9"}, sample)
    assert not holds(None, sample)
    draft = Sample("K1", 2, None, "Sheet K1", None)
    assert holds({"id": 2, "metadata": {"title": "Sheet K1"}}, draft)
    assert not holds({"id": 2, "metadata": {"title": "Sheet K2"}}, draft)
