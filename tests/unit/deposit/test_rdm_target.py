"""Which API a run speaks: ``--api`` chosen, detected from the target (an InvenioRDM without the legacy
deposit API), and remembered in the ledger for the next commands."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_runner import serve

from depot.deposit.errors import ConfigError
from depot.deposit.ledger import Ledger
from depot.deposit.preflight import judge_rdm, preflight
from depot.deposit.targets import Target

from conftest import png_image


class RdmOnly:
    """ASGI middleware: an InvenioRDM-shaped target, which has no /api/deposit/... (404, as InvenioRDM)."""

    def __init__(self, app: Any, body: bytes = b'{"status": 404, "message": "Not found."}') -> None:
        self.app, self.body = app, body
        self.legacy_asked = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(("/api/deposit/", "/api/files/")):
            self.legacy_asked += 1
            kind = b"application/json" if self.body.startswith(b"{") else b"text/html"
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", kind)]})
            await send({"type": "http.response.body", "body": self.body})
            return
        await self.app(scope, receive, send)


def test_judge_rdm() -> None:
    kw: dict[str, Any] = {"api_url": "https://rdm.example/api", "name": "https://rdm.example/api",
                          "token_source": "DEPOT_TOKEN"}
    assert judge_rdm(200, "application/json", orjson.dumps({"hits": {"hits": [], "total": 0}}), **kw).ok
    assert judge_rdm(404, "application/json", b'{"message": "Not found."}', **kw).no_api
    assert judge_rdm(200, "application/json", b"[]", **kw).no_api
    refused = judge_rdm(403, "application/json", b'{"message": "Permission denied."}', **kw)
    assert not refused.ok and "refused the token" in refused.message and not refused.no_api
    assert judge_rdm(503, "text/plain", b"", **kw).transient


def _target(api_url: str, token: str, api: str) -> Target:
    return Target(api_url, api_url, token, None, None, api=api)


def test_auto_detects_each_api_and_a_forced_one_must_be_there(tmp_path: Path) -> None:
    (tmp_path / "both").mkdir()
    (tmp_path / "rdm").mkdir()
    with serve(tmp_path / "both") as (api_url, token):
        assert asyncio.run(preflight(_target(api_url, token, "auto"))) == "legacy"  # fewer requests a record
        assert asyncio.run(preflight(_target(api_url, token, "rdm"))) == "rdm"
    with serve(tmp_path / "rdm", RdmOnly) as (api_url, token):
        # A JSON 404 to the legacy probe: an outage, or no legacy API; the records API tells them apart.
        assert asyncio.run(preflight(_target(api_url, token, "auto"))) == "rdm"
    (tmp_path / "html").mkdir()
    with serve(tmp_path / "html", lambda app: RdmOnly(app, b"<html>Not Found</html>")) as (api_url, token):
        assert asyncio.run(preflight(_target(api_url, token, "auto"))) == "rdm"
        with pytest.raises(ConfigError, match="no Zenodo deposit API there"):
            asyncio.run(preflight(_target(api_url, token, "legacy")))


def test_a_run_against_an_invenio_rdm_target_detects_and_remembers_rdm(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    rows = ["occurrenceID,catalogNumber,scientificName,institutionCode"]
    for i in range(3):
        (images / f"R{i}.png").write_bytes(png_image(("rdm", i)))
        rows.append(f"urn:catalog:RDM:{i},R{i},Fucus vesiculosus L.,RDM")
    csv = tmp_path / "specimens.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ledger = tmp_path / "ledger.sqlite3"
    wrapped: list[RdmOnly] = []

    def rdm_only(app: Any) -> RdmOnly:
        wrapped.append(RdmOnly(app))
        return wrapped[0]

    (tmp_path / "repo").mkdir()
    with serve(tmp_path / "repo", rdm_only) as (api_url, token):
        env = {**os.environ, "DEPOT_TOKEN": token}
        run = subprocess.run([sys.executable, "-m", "depot", "run", str(csv), "--images", str(images),
                              "--path-template", "{images}/{catalogNumber}.png", "--profile", "specimen", "--var",
                              "license=cc-by-4.0", "--target", api_url, "--ledger", str(ledger), "--progress",
                              "quiet"], env=env, capture_output=True, text=True, timeout=240)
        assert run.returncode == 0, run.stderr
        assert "using --api rdm" in run.stderr
        opened = Ledger.open(ledger, create=False)
        remembered = opened.target()
        assert remembered is not None and (remembered.name, remembered.api) == (api_url, "rdm")
        assert opened.counts_by_state() == {"published": 3}
        opened.close()
        asked = wrapped[0].legacy_asked
        verify = subprocess.run([sys.executable, "-m", "depot", "verify", "--ledger", str(ledger)], env=env,
                                capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0 and "verified 3 of 3" in verify.stdout, verify.stdout + verify.stderr
        assert wrapped[0].legacy_asked == asked  # the remembered API: no legacy probe this time
