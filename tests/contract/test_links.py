"""Contract: every link Depot hands out resolves (issue 12, item 3; docs/api.md "Links").

The walk collects every ``links`` value of every kind of answer (depositions: draft, published, in edit,
a new version's draft; their files; the deposition listing; records, record files, a file's metadata,
versions and the record search; and the InvenioRDM API's drafts, file listings and entries, records, a
new version's draft, an edit and the user's records, in RDM and in Zenodo JSON) and asks for each, as the
owner, as another user and anonymously.
Each answer is 2xx, or a 3xx that leads to a 2xx, or one of the documented refusals:
- an action link (publish, edit, discard, newversion; RDM reserve_doi and a file's commit) is POST-only: GET
  answers 405 with ``Allow: POST``;
- ``links.draft`` of a record with no open draft is 404 for its owner (POST there opens one on Zenodo);
- a caller without the right gets 403; an anonymous one gets 401 from the draft page (``/deposit/{id}``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from conftest import Api
from payloads import create, metadata, put_file

ACTIONS = {"publish", "edit", "discard", "newversion", "reserve_doi", "commit"}  # POST-only links
RDM = {"Accept": "application/vnd.inveniordm.v1+json"}
EXTERNAL = ("https://doi.org/",)


def walk_links(body: Any, where: str = "") -> Iterator[tuple[str, str, str]]:
    """(where, name, url) for every string in every ``links`` object anywhere in ``body``."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "links" and isinstance(value, dict):
                for name, url in value.items():
                    if isinstance(url, str):
                        yield where, name, url
            else:
                yield from walk_links(value, f"{where}.{key}" if where else key)
    elif isinstance(body, list):
        for i, item in enumerate(body):
            yield from walk_links(item, f"{where}[{i}]")


def local(url: str) -> str:
    """The link as a path on the server under test (links carry the configured public base URL)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def ask(client: httpx.Client, url: str, headers: dict[str, str]) -> httpx.Response:
    return client.get(local(url), headers=headers, follow_redirects=True)


def scenario(api: Api, h: dict[str, str]) -> dict[str, Any]:
    """Answers of every kind, from one owner's deposits: returns {label: JSON body}."""
    c = api.client
    marker = uuid.uuid4().hex[:8]
    bodies: dict[str, Any] = {}
    draft = create(c, h, metadata(title=f"Draft {marker}"))
    assert put_file(c, h, draft, "draft sheet.jpg", b"\xff\xd8 draft").status_code == 201
    bodies["draft"] = c.get(f"/api/deposit/depositions/{draft['id']}", headers=h).json()
    bodies["draft files"] = c.get(f"/api/deposit/depositions/{draft['id']}/files", headers=h).json()

    v1 = create(c, h, metadata(title=f"Versioned {marker}"))
    assert put_file(c, h, v1, "sheet.jpg", b"\xff\xd8 v1").status_code == 201
    bodies["published deposition"] = c.post(v1["links"]["publish"], headers=h).json()
    v2 = c.post(v1["links"]["newversion"], headers=h).json()
    assert c.put(v2["links"]["self"], json={"metadata": metadata(title=f"Versioned {marker} v2")},
                 headers=h).status_code == 200
    assert c.delete(f"{v2['links']['bucket']}/sheet.jpg", headers=h).status_code == 204
    assert put_file(c, h, v2, "sheet.jpg", b"\xff\xd8 v2").status_code == 201
    bodies["new version draft"] = c.get(v2["links"]["self"], headers=h).json()
    c.post(v2["links"]["publish"], headers=h).raise_for_status()
    bodies["in edit"] = c.post(f"/api/deposit/depositions/{v2['id']}/actions/edit", headers=h).json()

    bodies["record v1"] = c.get(f"/api/records/{v1['id']}").json()
    bodies["record v2"] = c.get(f"/api/records/{v2['id']}").json()
    bodies["record files"] = c.get(f"/api/records/{v1['id']}/files").json()
    bodies["file metadata"] = c.get(f"/api/records/{v1['id']}/files/sheet.jpg").json()
    bodies["versions"] = c.get(f"/api/records/{v1['id']}/versions").json()
    for page in (1, 2):  # two hits, one a page: page 1 has links.next, page 2 links.prev
        bodies[f"search page {page}"] = c.get("/api/records", params={
            "q": f"title:{marker}", "all_versions": "true", "size": 1, "page": page}).json()
    bodies["listing"] = c.get("/api/deposit/depositions", params={"q": f"title:{marker}"}, headers=h).json()
    bodies.update(rdm_scenario(api, {**h, **RDM}, marker))
    return bodies


def rdm_scenario(api: Api, h: dict[str, str], marker: str) -> dict[str, Any]:
    """The InvenioRDM API's answers: drafts (RDM and Zenodo JSON), file listings and entries (one
    uploaded and not committed), a published record, a new version's draft, an edit, the user's records."""
    c = api.client
    bodies: dict[str, Any] = {}
    rdm_meta = {"title": f"RDM {marker}", "resource_type": {"id": "image-photo"},
                "creators": [{"person_or_org": {"type": "personal", "name": "Lid, Johannes"}}]}
    draft = c.post("/api/records", json={"metadata": rdm_meta}, headers=h).json()
    bodies["rdm draft"] = c.post(f"/api/records/{draft['id']}/draft/pids/doi", headers=h).json()
    files = f"/api/records/{draft['id']}/draft/files"
    c.post(files, json=[{"key": "a.jpg"}, {"key": "b.jpg"}], headers=h).raise_for_status()
    for key in ("a.jpg", "b.jpg"):
        c.put(f"{files}/{key}/content", content=b"\xff\xd8 " + key.encode(),
              headers={**h, "Content-Type": "application/octet-stream"}).raise_for_status()
    bodies["rdm file committed"] = c.post(f"{files}/a.jpg/commit", headers=h).json()
    bodies["rdm draft files"] = c.get(files, headers=h).json()  # b.jpg still pending
    bodies["zenodo json draft"] = c.get(f"/api/records/{draft['id']}/draft",
                                        headers={**h, "Accept": "application/json"}).json()
    c.post(f"{files}/b.jpg/commit", headers=h).raise_for_status()
    bodies["rdm record"] = c.post(f"/api/records/{draft['id']}/draft/actions/publish", headers=h).json()
    bodies["rdm record read"] = c.get(f"/api/records/{draft['id']}", headers=RDM).json()
    bodies["rdm new version draft"] = c.post(f"/api/records/{draft['id']}/versions", headers=h).json()
    bodies["rdm edit draft"] = c.post(f"/api/records/{draft['id']}/draft", headers=h).json()
    bodies["user records"] = c.get("/api/user/records", params={"q": f"title:{marker}", "size": 1, "page": 2},
                                   headers=h).json()
    bodies["user records plain"] = c.get("/api/user/records", params={"size": 1, "page": 2},
                                         headers={**h, "Accept": "application/json"}).json()
    return bodies


def test_every_link_resolves(api: Api) -> None:
    owner = api.auth()
    bodies = scenario(api, owner)
    links = [(label, where, name, url) for label, body in bodies.items() for where, name, url in walk_links(body)]
    kinds = {name for _, _, name, _ in links}
    assert {"self", "html", "files", "bucket", "latest_draft", "latest_draft_html", "parent", "draft", "badge",
            "conceptbadge", "latest", "latest_html", "versions", "record_html", "self_html", "download",
            "content", "prev", "next"} <= kinds, kinds
    callers = {"owner": owner, "another user": api.auth(), "anonymous": {}}
    problems = []
    asked = 0
    for label, where, name, url in links:
        if url.startswith(EXTERNAL):
            continue
        for caller, headers in callers.items():
            r = ask(api.client, url, headers)
            asked += 1
            if not documented(r, name, caller):
                problems.append(f"{label} {where}.links.{name} as {caller}: GET {local(url)} -> {r.status_code}")
            if label in ("draft", "draft files") and caller != "owner" and r.is_success:
                problems.append(f"{label} {where}.links.{name} as {caller}: an unpublished draft is shown")
    assert not problems, "\n".join(problems)
    assert asked > 150


def documented(r: httpx.Response, name: str, caller: str) -> bool:
    """Whether ``r`` is an answer the module docstring (and docs/api.md) allows for this link."""
    if r.is_success:
        return all(step.is_redirect for step in r.history)
    if name in ACTIONS:
        return r.status_code == 405 and "POST" in r.headers.get("allow", "")
    if name == "draft" and caller == "owner":
        return r.status_code == 404  # the record has no open draft
    if caller == "owner":
        return False
    if r.url.path.startswith("/deposit/") and caller == "anonymous":
        return r.status_code == 401 and r.headers.get("www-authenticate", "").startswith("Bearer")
    return r.status_code == 403


def test_public_links_are_public(api: Api) -> None:
    """Everything a published record links to, but its draft, answers an anonymous caller."""
    bodies = scenario(api, api.auth())
    for label in ("record v1", "record v2", "record files", "file metadata", "versions", "search page 1",
                  "search page 2", "rdm record", "rdm record read"):
        for where, name, url in walk_links(bodies[label]):
            if url.startswith(EXTERNAL) or name == "draft":
                continue
            r = ask(api.client, url, {})
            assert r.is_success, f"{label} {where}.links.{name}: GET {local(url)} -> {r.status_code}"


def test_concept_id_redirects_to_the_newest_version(api: Api) -> None:
    bodies = scenario(api, api.auth())
    v1, v2 = bodies["record v1"], bodies["record v2"]
    r = api.client.get(f"/api/records/{v1['conceptrecid']}", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"].endswith(f"/api/records/{v2['id']}")
    assert local(v1["links"]["parent"]) == f"/api/records/{v1['conceptrecid']}"
    assert ask(api.client, v1["links"]["parent"], {}).json()["id"] == v2["id"]
    assert api.client.get("/api/records/999999").status_code == 404  # neither a record nor a concept


def test_badges_are_svg_for_minted_dois_only(api: Api) -> None:
    bodies = scenario(api, api.auth())
    rec = bodies["record v1"]
    for url, doi in ((rec["links"]["badge"], rec["doi"]),
                     (bodies["published deposition"]["links"]["conceptbadge"], rec["conceptdoi"])):
        r = ask(api.client, url, {})
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert r.text.startswith("<svg") and doi in r.text
    assert api.client.get("/badge/doi/10.5072%2Fnot-ours.1.svg").status_code == 404
    assert api.client.get(f"/badge/doi/{rec['doi']}").status_code == 404  # no .svg: no such badge
    for hostile in ("%00.svg", ".svg", "%FF%FE.svg", "x" * 300 + ".svg", "10.5072%2Fa%0Ab.svg"):
        assert api.client.get(f"/badge/doi/{hostile}").status_code == 404, hostile


def test_draft_page_is_the_owners(api: Api) -> None:
    owner = api.auth()
    dep = create(api.client, owner, metadata(title="Laminaria <b>digitata</b>"))
    page = local(dep["links"]["html"])
    assert page == f"/deposit/{dep['id']}" and local(dep["links"]["latest_draft_html"]) == page
    r = api.client.get(page, headers=owner)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Laminaria &lt;b&gt;digitata&lt;/b&gt;" in r.text and "unsubmitted" in r.text
    token = owner["Authorization"].split()[1]
    assert api.client.get(page, params={"access_token": token}).status_code == 200
    anonymous = api.client.get(page)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    assert "access_token" in anonymous.text and "digitata" not in anonymous.text
    other = api.client.get(page, headers=api.auth())
    assert other.status_code == 403 and "digitata" not in other.text
    assert api.client.get("/deposit/999999", headers=owner).status_code == 404


def test_file_metadata_by_key_and_by_file_id(api: Api) -> None:
    bodies = scenario(api, api.auth())
    rec = bodies["record v1"]
    entry = bodies["file metadata"]
    assert entry["key"] == "sheet.jpg" and entry["checksum"] == rec["files"][0]["checksum"]
    assert entry["links"]["content"].endswith("/files/sheet.jpg/content") and entry["status"] == "completed"
    by_id = ask(api.client, bodies["published deposition"]["files"][0]["links"]["self"], {})
    assert by_id.status_code == 200 and by_id.json()["key"] == "sheet.jpg"
    assert api.client.get(f"/api/records/{rec['id']}/files/nope.jpg").status_code == 404
