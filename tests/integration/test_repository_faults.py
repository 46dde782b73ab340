"""Fault injection in the repository: before/after-commit errors, drops, resets, outages, 429 storms, logged."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from depot.repository.faults.profile import FaultProfileError, endpoint_of, load

from conftest import start_server

META = {"title": "Fucus vesiculosus", "upload_type": "image", "image_type": "photo",
        "creators": [{"name": "TROM"}], "description": "A sheet."}


def serve_with(tmp_path: Path, profile: str) -> tuple[object, str, dict[str, str], Path]:
    data = tmp_path / "repo"
    data.mkdir()
    path = tmp_path / "faults.toml"
    path.write_text(profile)
    proc, base = start_server(data, None, "--rate-limit", "0", "--faults", str(path))
    from depot.repository.services.accounts import AccountService
    from depot.repository.store.db import Database

    db = Database.open(f"sqlite:///{data / 'repository.sqlite3'}")
    token = AccountService(db).create_token("f@example.org", "2026-01-01T00:00:00+00:00")
    db.dispose()
    return proc, base, {"Authorization": f"Bearer {token}"}, data / "faults.log"


def events(log: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in log.read_bytes().splitlines()] if log.exists() else []


def test_endpoint_classification() -> None:
    assert endpoint_of("POST", "/api/deposit/depositions") == "create"
    assert endpoint_of("POST", "/api/deposit/depositions/7/actions/publish") == "publish"
    assert endpoint_of("PUT", "/api/files/b-1/sheet.jpg") == "upload"
    assert endpoint_of("GET", "/api/deposit/depositions") == "list"
    assert endpoint_of("GET", "/api/records/3") == "records"
    # The InvenioRDM API's steps are the same endpoints, so one profile covers both APIs.
    assert endpoint_of("POST", "/api/records") == "create"
    assert endpoint_of("PUT", "/api/records/3/draft") == "update"
    assert endpoint_of("PUT", "/api/records/3/draft/files/sheet.jpg/content") == "upload"
    assert endpoint_of("POST", "/api/records/3/draft/files/sheet.jpg/commit") == "files"
    assert endpoint_of("POST", "/api/records/3/draft/actions/publish") == "publish"
    assert endpoint_of("POST", "/api/records/3/draft") == "edit"
    assert endpoint_of("POST", "/api/records/3/versions") == "newversion"
    assert endpoint_of("GET", "/api/records/3/versions") == "records"


@pytest.mark.parametrize("text, fragment", [
    ("seed = 1\n[rules.create]\nbefore = { 999 = 0.1 }", "not an HTTP status"),
    ("[rules.create]\nbefore = { 500 = 2 }", "between 0 and 1"),
    ("[rules.nope]\nbefore = {}", "unknown endpoint"),
    ("[rules.create]\nbeforee = {}", "unknown key"),
    ("[[outages]]\nstatus = 404", "start and duration"),
    ('[[outages]]\nstart = 0\nduration = 1\nafter = "creat"', "after: unknown endpoint 'creat'"),
    ("this is = = not toml", "not valid TOML"),
])
def test_bad_profiles_are_explained(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(FaultProfileError, match=fragment):
        load(str(path))


def test_shipped_profile_loads() -> None:
    profile = load("zenodo-2019")
    assert profile.seed == 2019 and profile.outages[0].status == 404
    assert set(profile.rules["publish"].after) == {504, 502}
    with pytest.raises(FaultProfileError, match="no fault profile"):
        load("zenodo-1999")


def test_before_and_after_commit_faults(tmp_path: Path) -> None:
    proc, base, h, log = serve_with(tmp_path, """
[rules.create]
after = { 504 = 1.0 }
[rules.publish]
before = { 502 = 1.0 }
""")
    try:
        r = httpx.post(base + "/api/deposit/depositions", json={"metadata": META}, headers=h)
        assert r.status_code == 504 and r.json()["status"] == 504
        # The create committed although the client saw 504: the lost-response case.
        listed = httpx.get(base + "/api/deposit/depositions", headers=h).json()
        assert len(listed) == 1
        # a listing omits links.bucket, as Zenodo's does: the deposition itself gives it
        dep = httpx.get(listed[0]["links"]["self"], headers=h).json()
        assert httpx.put(f"{dep['links']['bucket']}/a.jpg", content=b"x", headers=h).status_code == 201
        r = httpx.post(dep["links"]["publish"], headers=h)
        assert r.status_code == 502
        assert httpx.get(dep["links"]["self"], headers=h).json()["state"] == "unsubmitted"
        log_events = events(log)
        assert [e["fault"] for e in log_events] == ["after-504", "before-502"]
        assert log_events[0]["real_status"] == 201 and log_events[0]["real_id"] == dep["id"]
    finally:
        proc.terminate()  # type: ignore[attr-defined]
        proc.wait(10)  # type: ignore[attr-defined]


def test_dropped_answer_after_publish_and_reset_upload(tmp_path: Path) -> None:
    proc, base, h, log = serve_with(tmp_path, """
[rules.publish]
drop_after = 1.0
[rules.upload]
reset_body = 1.0
""")
    try:
        dep = httpx.post(base + "/api/deposit/depositions", json={"metadata": META}, headers=h).json()
        with pytest.raises(httpx.TransportError):
            httpx.put(f"{dep['links']['bucket']}/a.jpg", content=b"y" * 300_000, headers=h)
        assert httpx.get(dep["links"]["self"], headers=h).json()["files"] == []
        # Put the file through the multipart endpoint (not faulted), then publish: committed, answer cut.
        r = httpx.post(dep["links"]["files"], files={"file": ("a.jpg", b"jpeg")}, headers=h)
        assert r.status_code == 201
        with pytest.raises(httpx.TransportError):
            httpx.post(dep["links"]["publish"], headers=h)
        state = httpx.get(dep["links"]["self"], headers=h).json()
        assert state["state"] == "done" and state["doi"]
        assert [e["fault"] for e in events(log)] == ["reset-body", "drop-after"]
    finally:
        proc.terminate()  # type: ignore[attr-defined]
        proc.wait(10)  # type: ignore[attr-defined]


def test_outage_window_and_storm(tmp_path: Path) -> None:
    proc, base, h, log = serve_with(tmp_path, """
[[storms]]
start = 0.0
duration = 3600.0
probability = 1.0
[[outages]]
start = 0.0
duration = 3600.0
status = 404
""")
    try:
        r = httpx.post(base + "/api/deposit/depositions", json={}, headers=h)
        assert r.status_code == 404  # outages win over storms
        assert events(log)[-1]["fault"].startswith("outage-404")  # type: ignore[union-attr]
    finally:
        proc.terminate()  # type: ignore[attr-defined]
        proc.wait(10)  # type: ignore[attr-defined]


def test_an_outage_counted_from_the_first_create(tmp_path: Path) -> None:
    """``after = "create"``: the window opens at the first create, however long the client took to start."""
    proc, base, h, log = serve_with(tmp_path, """
[[outages]]
start = 0.0
duration = 3600.0
status = 404
after = "create"
""")
    try:
        assert httpx.get(base + "/api/deposit/depositions", headers=h).status_code == 200  # before any create
        assert httpx.post(base + "/api/deposit/depositions", json={}, headers=h).status_code == 404
        assert httpx.get(base + "/api/deposit/depositions", headers=h).status_code == 404  # every endpoint now
        assert events(log)[-1]["fault"] == "outage-404"  # type: ignore[index]
    finally:
        proc.terminate()  # type: ignore[attr-defined]
        proc.wait(10)  # type: ignore[attr-defined]
