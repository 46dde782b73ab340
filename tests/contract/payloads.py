"""Request bodies and small helpers the contract tests share."""

from __future__ import annotations

from typing import Any

import httpx

from conftest import Api


def metadata(**overrides: Any) -> dict[str, Any]:
    """Valid legacy deposit metadata for one herbarium sheet (seed Table 3 style)."""
    body: dict[str, Any] = {
        "title": "Fucus vesiculosus L. (TROM-A-8528)",
        "upload_type": "image",
        "image_type": "photo",
        "description": "Herbarium specimen image of the TROM algae herbarium.",
        "creators": [{"name": "The Arctic University Museum of Norway"}],
        "access_right": "open",
        "license": "cc-by-4.0",
        "keywords": ["Biodiversity", "Herbarium"],
        "related_identifiers": [{"identifier": "urn:catalog:TROM:A:8528", "relation": "isAlternateIdentifier",
                                 "scheme": "urn"}],
    }
    body.update(overrides)
    return body


def create(client: httpx.Client, headers: dict[str, str], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    r = client.post("/api/deposit/depositions", json={"metadata": meta or metadata()}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def put_file(client: httpx.Client, headers: dict[str, str], deposit: dict[str, Any], name: str,
             content: bytes) -> httpx.Response:
    return client.put(f"{deposit['links']['bucket']}/{name}", content=content,
                      headers={**headers, "Content-Type": "application/octet-stream"})


def published(client: httpx.Client, headers: dict[str, str], meta: dict[str, Any] | None = None,
              files: dict[str, bytes] | None = None) -> dict[str, Any]:
    deposit = create(client, headers, meta)
    for name, content in (files or {"sheet.jpg": b"\xff\xd8\xff fake jpeg"}).items():
        assert put_file(client, headers, deposit, name, content).status_code == 201
    r = client.post(deposit["links"]["publish"], headers=headers)
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def stored_files(api: Api) -> set[str]:
    """The blobs in the repository's store; a loopback server is shared by tests (conftest.ServerPool), so
    tests compare with what was there before they ran."""
    root = api.config.data_dir / "files"
    return {p.name for p in root.rglob("*") if p.is_file()}
