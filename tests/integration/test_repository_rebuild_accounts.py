"""A rebuild from bags gives records back to their owners and old tokens keep working, from the admin-only
accounts sidecar (DATA_DIR/admin/accounts.json); no bag holds an e-mail or a token hash."""

from __future__ import annotations

import hashlib
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
import sqlalchemy as sa

from contract.payloads import metadata, published
from depot.repository.store.db import Database
from depot.repository.store.tables import users

from conftest import serve_repository, start_server

ADMIN = "admin-secret"


def _token(data: Path, email: str, *scopes: str) -> str:
    flags = [arg for s in scopes for arg in ("--scope", s)]
    return subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", email, "--data-dir", str(data),
                           *flags], capture_output=True, text=True, check=True).stdout.strip()


def _wait_for_bags(client: httpx.Client, expected: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        bags = client.get("/api/admin/fixity", headers={"Authorization": f"Bearer {ADMIN}"}).json()["bags"]
        assert not bags["failed"], bags
        if bags["queued"] == 0 and bags["written"] >= expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"bags not written: {bags}")


def test_rebuild_gives_records_back_to_their_owners_and_old_tokens_keep_working(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPOT_ADMIN_TOKEN", ADMIN)
    with serve_repository(tmp_path) as served:
        museum = {"Authorization": f"Bearer {served.token}"}  # museum@example.org, made by the CLI
        writer_token = _token(served.data, "museum@example.org", "deposit:write")
        other = {"Authorization": f"Bearer {_token(served.data, 'other@example.org')}"}
        with httpx.Client(base_url=served.base, timeout=30) as client:
            mine = published(client, museum, metadata(title="The museum's sheet"))
            theirs = published(client, other, metadata(title="Someone else's sheet"))
            _wait_for_bags(client, 2)
    sidecar = served.data / "admin" / "accounts.json"
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600
    assert stat.S_IMODE(sidecar.parent.stat().st_mode) == 0o700
    doc = orjson.loads(sidecar.read_bytes())
    assert {u["email"] for u in doc["users"]} == {"museum@example.org", "other@example.org"}
    hashes = {t["token_hash"] for t in doc["tokens"]}
    assert hashlib.sha256(writer_token.encode()).hexdigest() in hashes and len(hashes) == 3
    # Never in a bag: no e-mail, no token hash, no token.
    for path in (p for p in (served.data / "bags").rglob("*") if p.is_file()):
        content = path.read_bytes()
        for secret in ["museum@example.org", "other@example.org", writer_token, served.token, *hashes]:
            assert secret.encode() not in content, (path, secret)

    # Only the bags and the sidecar survive; the rebuild finds the sidecar beside the bags.
    old = tmp_path / "old"
    old.mkdir()
    shutil.move(served.data / "bags", old / "bags")
    shutil.move(served.data / "admin", old / "admin")
    shutil.rmtree(served.data)
    new = tmp_path / "rebuilt"
    done = subprocess.run([sys.executable, "-m", "depot", "repo", "rebuild", "--from-bags", str(old / "bags"),
                           "--data-dir", str(new)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "2 user(s), 3 token(s)" in done.stderr
    assert f"2 user(s) and 3 token(s) restored from {old / 'admin' / 'accounts.json'}" in done.stderr
    db = Database.open(f"sqlite:///{new / 'repository.sqlite3'}")
    try:
        with db.read() as conn:
            assert set(conn.execute(sa.select(users.c.email)).scalars()) == {"museum@example.org",
                                                                             "other@example.org"}
    finally:
        db.dispose()
    assert orjson.loads((new / "admin" / "accounts.json").read_bytes())["tokens"] == doc["tokens"]

    proc, base = start_server(new, None, "--rate-limit", "0", "--search-rate-limit", "0")
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            listed = client.get("/api/deposit/depositions", headers=museum)
            assert listed.status_code == 200 and [d["id"] for d in listed.json()] == [mine["id"]]
            assert [d["id"] for d in client.get("/api/deposit/depositions", headers=other).json()] == [theirs["id"]]
            dep = f"/api/deposit/depositions/{mine['id']}"
            assert client.post(f"{dep}/actions/edit", headers=museum).status_code == 201
            r = client.put(dep, json={"metadata": metadata(title="Edited after the rebuild")}, headers=museum)
            assert r.status_code == 200, r.text
            # The write-only token kept its scope: it may not publish the edit, the museum's full token may.
            writer = {"Authorization": f"Bearer {writer_token}"}
            assert client.post(f"{dep}/actions/publish", headers=writer).status_code == 403
            r = client.post(f"{dep}/actions/publish", headers=museum)
            assert r.status_code == 202 and r.json()["title"] == "Edited after the rebuild"
            assert client.put(f"/api/deposit/depositions/{theirs['id']}", json={"metadata": metadata()},
                              headers=museum).status_code == 403
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_broken_sidecar_stops_the_rebuild_with_its_name(tmp_path: Path) -> None:
    bags = tmp_path / "bags"
    (bags / "1").mkdir(parents=True)
    bad = tmp_path / "accounts.json"
    bad.write_text('{"schema": "depot-accounts/1", "users": [{"id": "one"}], "tokens": []}')
    done = subprocess.run([sys.executable, "-m", "depot", "repo", "rebuild", "--from-bags", str(bags),
                           "--data-dir", str(tmp_path / "new"), "--accounts", str(bad)], capture_output=True, text=True)
    assert done.returncode == 1
    assert f"{bad}: users[0].id is missing or not an integer" in done.stderr and "Traceback" not in done.stderr
