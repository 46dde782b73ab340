"""Withdrawal (an operator's takedown) over a real `depot serve`: the DOI resolves to a tombstone (410), the
content is no longer served or found, OAI-PMH announces the deletion (deletedRecord "persistent"), and
nothing stored is erased."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import bagit
import httpx
import pytest
from lxml import etree

from contract.payloads import metadata, published
from depot.repository.app import build_context
from depot.repository.config import RepositoryConfig
from depot.repository.errors import GoneError

from conftest import serve_repository

NS = {"o": "http://www.openarchives.org/OAI/2.0/"}
REASON = "Takedown request: the label shows a collector's home address."


def depot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "depot", *args], capture_output=True, text=True, timeout=60)


def oai(client: httpx.Client, **params: str) -> etree._Element:
    r = client.get("/oai2d", params=params)
    assert r.status_code == 200
    return etree.fromstring(r.content)


def test_a_withdrawn_version_is_a_tombstone_everywhere(tmp_path: Path) -> None:
    with serve_repository(tmp_path) as repo, httpx.Client(base_url=repo.base, timeout=30) as client:
        depot("repo", "create-community", "trom", "--owner", "museum@example.org", "--data-dir", str(repo.data))
        h = repo.headers
        v1 = published(client, h, metadata(title="Fucus vesiculosus L. (TROM-A-1)",
                                           communities=[{"identifier": "trom"}]))
        draft = client.post(f"/api/deposit/depositions/{v1['id']}/actions/newversion", headers=h).json()
        client.put(f"/api/deposit/depositions/{draft['id']}", json={"metadata": metadata(
            title="Fucus vesiculosus L. (TROM-A-1)", communities=[{"identifier": "trom"}])}, headers=h)
        v2 = client.post(f"/api/deposit/depositions/{draft['id']}/actions/publish", headers=h).json()
        other = published(client, h, metadata(title="Ascophyllum nodosum (TROM-A-2)"))
        key = v2["files"][0]["filename"]
        assert client.get(f"/api/records/{v2['id']}/files/{key}/content").status_code == 200

        missing = depot("repo", "withdraw", str(v2["id"]), "--reason", "  ", "--data-dir", str(repo.data))
        assert missing.returncode == 1 and "needs a reason" in missing.stderr
        done = depot("repo", "withdraw", str(v2["id"]), "--reason", REASON, "--data-dir", str(repo.data))
        assert done.returncode == 0 and done.stdout.split() == [str(v2["id"])], done.stderr

        # The records API, files, IIIF and exports answer 410 Gone.
        gone = client.get(f"/api/records/{v2['id']}")
        assert gone.status_code == 410 and gone.json() == {"status": 410, "message": "The record has been deleted."}
        assert client.get(f"/api/records/{v2['id']}/files/{key}/content").status_code == 410
        assert client.get(f"/records/{v2['id']}/export/datacite-xml").status_code == 410
        # The landing page is a tombstone with the DOI and the reason.
        page = client.get(f"/records/{v2['id']}")
        assert page.status_code == 410 and v2["doi"] in page.text and "collector&#39;s home address" in page.text
        # The concept falls back to the version before; search and the community listing forget v2.
        assert client.get(f"/api/records/{v1['id']}/versions/latest").json()["id"] == v1["id"]
        assert [v["id"] for v in client.get(f"/api/records/{v1['id']}/versions").json()["hits"]["hits"]] == [v1["id"]]
        hits = client.get("/api/records", params={"size": 25}).json()["hits"]["hits"]
        assert sorted(r["id"] for r in hits) == sorted([v1["id"], other["id"]])
        community = client.get("/api/communities")
        slug_id = community.json()["hits"]["hits"][0]["id"]
        listing = client.get(f"/api/communities/{slug_id}/listing", params={"format": "json"}).json()
        assert [row["recid"] for row in listing] == [v1["id"]]
        # No new version of a withdrawn record.
        assert client.post(f"/api/deposit/depositions/{v2['id']}/actions/newversion", headers=h).status_code == 410

        # OAI-PMH: Identify promises persistent deletions, and v2 is announced as deleted, without metadata.
        assert oai(client, verb="Identify").findtext("o:Identify/o:deletedRecord", namespaces=NS) == "persistent"
        listed = oai(client, verb="ListRecords", metadataPrefix="oai_dc")
        deleted = listed.xpath("o:ListRecords/o:record[o:header/@status='deleted']", namespaces=NS)
        assert [r.findtext("o:header/o:identifier", namespaces=NS) for r in deleted] == \
            [f"oai:127.0.0.1:{v2['id']}"]
        assert deleted[0].find("o:metadata", NS) is None
        assert len(listed.findall("o:ListRecords/o:record/o:metadata", NS)) == 2
        got = oai(client, verb="GetRecord", metadataPrefix="oai_datacite", identifier=f"oai:127.0.0.1:{v2['id']}")
        assert got.find("o:GetRecord/o:record/o:header", NS).get("status") == "deleted"

        # Nothing erased: the owner still sees the deposition; the stored file is intact.
        own = client.get(f"/api/deposit/depositions/{v2['id']}", headers=h)
        assert own.status_code == 200 and own.json()["doi"] == v2["doi"]
        # The AIP records the withdrawal: a bag of the withdrawn state, beside the bag of the published one.
        bags = sorted((repo.data / "bags" / str(v2["id"])).iterdir())
        states = [json.loads((b / "metadata" / "depot-aip.json").read_text())["record"] for b in bags]
        assert [s.get("withdrawal_reason") for s in states] == [None, REASON]
        assert all(bagit.Bag(str(b)).is_valid() for b in bags)
        again = depot("repo", "withdraw", str(v2["id"]), "--reason", REASON, "--data-dir", str(repo.data))
        assert again.returncode == 0 and "already withdrawn" in again.stderr
    audit = depot("repo", "audit", "--data-dir", str(repo.data))
    assert audit.returncode == 0, audit.stdout + audit.stderr
    # Rebuilt from the bags alone, the repository still has the tombstone, not a resurrected record.
    rebuilt = tmp_path / "rebuilt"
    result = depot("repo", "rebuild", "--from-bags", str(repo.data / "bags"), "--data-dir", str(rebuilt))
    assert result.returncode == 0, result.stdout + result.stderr
    ctx = build_context(RepositoryConfig(data_dir=rebuilt))
    try:
        with pytest.raises(GoneError):
            ctx.records.read(v2["id"])
        assert ctx.records.read(v1["id"]).doi == v1["doi"]
    finally:
        ctx.deposits.db.dispose()
