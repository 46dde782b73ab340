"""The OpenAPI document describes every /api route the app serves (a new endpoint cannot go undocumented)."""

from __future__ import annotations

import re
from pathlib import Path

from depot.repository.app import create_app
from depot.repository.config import RepositoryConfig
from depot.repository.resources.openapi import document

# The document itself, and the IIIF base URI (a 303 redirect to info.json, IIIF §2.1).
UNDOCUMENTED = {"/api/openapi.json", "/api/iiif/{ident}"}


def test_every_api_route_is_documented(tmp_path: Path) -> None:
    app = create_app(RepositoryConfig(data_dir=tmp_path))
    served = {(re.sub(r":\w+}", "}", route.path), method.lower())
              for route in app.app.routes if route.path.startswith("/api/")
              for method in (route.methods or set()) - {"HEAD"}}
    doc = document("http://testserver/api")
    documented = {("/api" + path, method) for path, item in doc["paths"].items() for method in item}
    # One route serves the four actions; the document lists each (they answer different statuses).
    actions = "/api/deposit/depositions/{id}/actions/"
    served = {(p.replace("{action}", a), m) for p, m in served
              for a in (("publish", "edit", "discard", "newversion") if p.endswith("{action}") else ("",))}
    assert (actions + "newversion", "post") in served
    missing = {(path, method) for path, method in served if path not in UNDOCUMENTED} - documented
    assert not missing, sorted(missing)
