"""Contract: token scopes as Zenodo's (spec §1.2). deposit:write uploads but cannot publish; deposit:actions
publishes but cannot write; a token without either still reads its owner's depositions."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from depot.repository.services.accounts import AccountService
from depot.repository.store.db import Database

from conftest import Api
from payloads import create, metadata, put_file

MISSING_SCOPE = {"status": 403, "message": "You don't have the permission to access the requested resource. "
                                           "It is either read-protected or not readable by the server."}
WRITE, ACTIONS, EMAIL = "deposit:write", "deposit:actions", "user:email"


def _multipart(api: Api, headers: dict[str, str], dep: dict[str, object], name: str) -> int:
    links = dep["links"]
    assert isinstance(links, dict)
    return api.client.post(links["files"], headers=headers, files={"file": (name, b"\xff\xd8 label")}).status_code


def test_a_write_only_token_uploads_but_cannot_publish(api: Api) -> None:
    email = f"writer-{uuid.uuid4().hex[:8]}@example.org"  # the PostgreSQL database is shared
    w = api.auth(email, (WRITE,))
    dep = create(api.client, w)
    assert api.client.put(dep["links"]["self"], json={"metadata": metadata(title="Edited")},
                          headers=w).status_code == 200
    assert put_file(api.client, w, dep, "sheet.jpg", b"\xff\xd8 sheet").status_code == 201
    assert _multipart(api, w, dep, "label.jpg") == 201
    assert api.client.get(dep["links"]["self"], headers=w).status_code == 200
    assert [d["id"] for d in api.client.get("/api/deposit/depositions", headers=w).json()] == [dep["id"]]
    for action in ("publish", "discard"):
        r = api.client.post(dep["links"][action], headers=w)
        assert (r.status_code, r.json()) == (403, MISSING_SCOPE), action
    # Nothing happened: still an unpublished draft with both files.
    after = api.client.get(dep["links"]["self"], headers=w).json()
    assert (after["state"], after["submitted"], len(after["files"])) == ("unsubmitted", False, 2)
    # The same user's token with deposit:actions publishes it; the write-only token then cannot edit or
    # make a new version, and a published deposit's files stay locked whatever the scope.
    r = api.client.post(dep["links"]["publish"], headers=api.auth(email, (ACTIONS,)))
    assert r.status_code == 202, r.text
    for action in ("edit", "newversion"):
        r = api.client.post(dep["links"][action], headers=w)
        assert (r.status_code, r.json()) == (403, MISSING_SCOPE), action


def test_an_actions_only_token_publishes_but_cannot_write(api: Api) -> None:
    email = f"publisher-{uuid.uuid4().hex[:8]}@example.org"  # the PostgreSQL database is shared
    full, a = api.auth(email), api.auth(email, (ACTIONS,))
    dep = create(api.client, full)
    assert put_file(api.client, full, dep, "sheet.jpg", b"\xff\xd8 sheet").status_code == 201
    file_id = api.client.get(dep["links"]["files"], headers=a).json()[0]["id"]
    refused = [
        api.client.post("/api/deposit/depositions", json={"metadata": metadata()}, headers=a),
        api.client.put(dep["links"]["self"], json={"metadata": metadata(title="x")}, headers=a),
        put_file(api.client, a, dep, "other.jpg", b"\xff\xd8 other"),
        api.client.delete(f"{dep['links']['bucket']}/sheet.jpg", headers=a),
        api.client.delete(f"{dep['links']['files']}/{file_id}", headers=a),
        api.client.delete(dep["links"]["self"], headers=a),
        api.client.post(dep["links"]["files"], headers=a, files={"file": ("x.jpg", b"\xff\xd8")}),
    ]
    for r in refused:
        assert (r.status_code, r.json()) == (403, MISSING_SCOPE), (r.request.method, r.request.url)
    assert len(api.client.get(dep["links"]["self"], headers=a).json()["files"]) == 1
    r = api.client.post(dep["links"]["publish"], headers=a)
    assert r.status_code == 202, r.text
    assert api.client.post(dep["links"]["edit"], headers=a).status_code == 201
    assert api.client.post(dep["links"]["discard"], headers=a).status_code == 204


def test_a_token_without_deposit_scopes_only_reads(api: Api) -> None:
    email = f"reader-{uuid.uuid4().hex[:8]}@example.org"  # the PostgreSQL database is shared
    dep = create(api.client, api.auth(email))
    r_only = api.auth(email, (EMAIL,))
    assert api.client.get(dep["links"]["self"], headers=r_only).status_code == 200
    assert len(api.client.get("/api/deposit/depositions", headers=r_only).json()) == 1
    r = api.client.post("/api/deposit/depositions", json={}, headers=r_only)
    assert (r.status_code, r.json()) == (403, MISSING_SCOPE)


def test_an_unknown_id_is_404_and_someone_elses_deposit_403_before_the_owner_check(api: Api) -> None:
    w = api.auth(scopes=(WRITE,))
    r = api.client.post("/api/deposit/depositions/999999/actions/publish", headers=w)
    assert r.status_code == 404
    theirs = create(api.client, api.auth())
    r = api.client.post(theirs["links"]["publish"], headers=w)
    assert (r.status_code, r.json()) == (403, MISSING_SCOPE)
    r = api.client.put(theirs["links"]["self"], json={"metadata": metadata()}, headers=api.auth(scopes=(ACTIONS,)))
    assert (r.status_code, r.json()) == (403, MISSING_SCOPE)


def test_create_token_scope_flag(tmp_path: Path) -> None:
    data = tmp_path / "repo"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "cli@example.org",
                               "--data-dir", str(data), *args], capture_output=True, text=True)

    db = None
    try:
        made = {name: run(*flags).stdout.strip() for name, flags in {
            "default": (), "write": ("--scope", WRITE), "both": ("--scope", ACTIONS, "--scope", f"{WRITE},{EMAIL}"),
        }.items()}
        db = Database.open(f"sqlite:///{data / 'repository.sqlite3'}")
        accounts = AccountService(db)
        scopes = {name: getattr(accounts.identity_for_token(t), "scopes", None) for name, t in made.items()}
        assert scopes == {"default": {WRITE, ACTIONS}, "write": {WRITE}, "both": {WRITE, ACTIONS, EMAIL}}
    finally:
        if db is not None:
            db.dispose()
    bad = run("--scope", "deposit:read")
    assert bad.returncode == 2 and bad.stdout == ""
    assert "--scope" in bad.stderr and "deposit:read" in bad.stderr and "deposit:write" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_scopes_hold_on_the_invenio_rdm_api_too(api: Api) -> None:
    """The RDM drafts API goes through the same scope checks: deposit:write saves drafts and files,
    deposit:actions publishes, and neither does the other's work."""
    from test_rdm import RDM, rdm_body

    email = f"rdm-{uuid.uuid4().hex[:8]}@example.org"  # the PostgreSQL database is shared
    w, a = {**api.auth(email, (WRITE,)), **RDM}, {**api.auth(email, (ACTIONS,)), **RDM}
    c = api.client
    r = c.post("/api/records", json=rdm_body(), headers=a)
    assert (r.status_code, r.json()) == (403, MISSING_SCOPE)
    rid = c.post("/api/records", json=rdm_body(), headers=w).json()["id"]
    files = f"/api/records/{rid}/draft/files"
    assert c.post(files, json=[{"key": "a.jpg"}], headers=a).status_code == 403
    assert c.post(files, json=[{"key": "a.jpg"}], headers=w).status_code == 201
    octets = {"Content-Type": "application/octet-stream"}
    assert c.put(f"{files}/a.jpg/content", content=b"\xff\xd8 a", headers={**a, **octets}).status_code == 403
    assert c.put(f"{files}/a.jpg/content", content=b"\xff\xd8 a", headers={**w, **octets}).status_code == 200
    assert c.post(f"{files}/a.jpg/commit", headers=a).status_code == 403
    assert c.post(f"{files}/a.jpg/commit", headers=w).status_code == 200
    assert c.put(f"/api/records/{rid}/draft", json=rdm_body("Edited"), headers=a).status_code == 403
    r = c.post(f"/api/records/{rid}/draft/actions/publish", headers=w)
    assert (r.status_code, r.json()) == (403, MISSING_SCOPE)
    assert c.post(f"/api/records/{rid}/draft/actions/publish", headers=a).status_code == 202
    assert c.post(f"/api/records/{rid}/versions", headers=w).status_code == 403
