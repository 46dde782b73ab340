"""End to end on the InvenioRDM records API (issue 12 item 2): `depot run --api rdm` against a real
`depot serve` on loopback, then verify, reconcile, a sync that edits every record in place and one that
makes new versions of the changed images; each step's requests are counted (the README's figures)."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import httpx
from test_sync_e2e import CHANGED, KEYS, change_images, depot, report, requests_sent, server_state, source_args

from depot.deposit.commands.demo import stage
from depot.deposit.ledger import Ledger

from conftest import serve_repository


def test_rdm_run_verify_reconcile_edit_and_new_version(tmp_path: Path) -> None:
    with serve_repository(tmp_path) as repo:
        base, env, headers = repo.base, repo.env, repo.headers
        archive, images = stage(tmp_path)
        ledger = str(tmp_path / "ledger.sqlite3")

        # `depot check --api rdm` estimates the same: two requests a record, three a file.
        plan = depot("check", *source_args(tmp_path, archive, images, base, "minimal")[:5], "--profile", "minimal",
                     "--api", "rdm", "--problems-file", str(tmp_path / "problems.tsv"), env=env)
        assert f"requests: {5 * KEYS} (5.00 per record on the rdm API" in plan.stdout, plan.stdout + plan.stderr

        # 1. A deposit through /api/records: create, init + content + commit of the one image, publish.
        first = depot("run", *source_args(tmp_path, archive, images, base, "minimal"), "--api", "rdm", env=env)
        assert first.returncode == 0, first.stderr
        assert requests_sent(first) == 5 * KEYS + 1  # + the new ledger's look for its first specimens
        remembered = Ledger.open(ledger, create=False)
        assert remembered.target() is not None and remembered.target().api == "rdm"  # type: ignore[union-attr]
        remembered.close()
        minimal = {r["key"]: r for r in report(tmp_path, env)}
        assert len(minimal) == KEYS and all(r["doi"] and r["state"] == "published" for r in minimal.values())
        some = next(iter(minimal.values()))
        record = httpx.get(f"{base}/api/records/{some['deposition_id']}",
                           headers={"Accept": "application/vnd.inveniordm.v1+json"}).json()
        assert record["metadata"]["identifiers"][-1]["identifier"] == some["key"]  # the key, an alternate id
        (entry,) = record["files"]["entries"].values()
        assert entry["checksum"] == "md5:" + hashlib.md5((images / entry["key"]).read_bytes()).hexdigest()

        # 2. verify and reconcile take the ledger's API without being told.
        verify = depot("verify", "--ledger", ledger, env=env)
        assert verify.returncode == 0 and f"verified {KEYS} of {KEYS}" in verify.stdout, verify.stdout + verify.stderr
        reconcile = depot("reconcile", "--ledger", ledger, env=env)
        assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
        assert reconcile.stdout.splitlines()[-1] == f"= {KEYS} + 0 - 0 * 0 ! 0"

        # 3. The rich profile, meant (the ledger remembers the first run's): every record edited in place (new
        # draft of the record, PUT, publish), same DOIs.
        rich = depot("sync", *source_args(tmp_path, archive, images, base, "specimen"), "--new-options", env=env)
        assert rich.returncode == 0, rich.stderr
        assert f"{KEYS} to edit, 0 new versions" in rich.stderr
        assert requests_sent(rich) == 3 * KEYS
        enriched = {r["key"]: r for r in report(tmp_path, env)}
        assert {k: r["doi"] for k, r in enriched.items()} == {k: r["doi"] for k, r in minimal.items()}
        legacy = httpx.get(f"{base}/api/records/{some['deposition_id']}").json()
        assert legacy["metadata"]["custom"]["dwc:catalogNumber"] and legacy["metadata"]["locations"]

        # 4. Re-scans: a new version each (POST /versions, the new image's three steps, PUT, publish).
        names = sorted(p.name for p in images.iterdir())
        changed = random.Random(12).sample(names, CHANGED)
        change_images(images, changed, 90)
        again = depot("sync", *source_args(tmp_path, archive, images, base, "specimen"), env=env)
        assert again.returncode == 0, again.stderr
        assert f"0 to edit, {CHANGED} new versions, {KEYS - CHANGED} unchanged" in again.stderr
        assert requests_sent(again) == CHANGED * 6
        after = {r["key"]: r for r in report(tmp_path, env)}
        for key, row in after.items():
            if row["files"][0]["name"] in changed:
                assert row["doi"] != enriched[key]["doi"] and row["concept_doi"] == enriched[key]["concept_doi"]
                latest = httpx.get(f"{base}/api/records/{row['deposition_id']}").json()
                (f,) = latest["files"]
                assert f["checksum"] == "md5:" + hashlib.md5((images / f["key"]).read_bytes()).hexdigest()
            else:
                assert row["doi"] == enriched[key]["doi"]
        state = server_state(base, headers)  # no draft or open edit left behind
        assert len(state) == KEYS and sum(len(c["dois"]) for c in state.values()) == KEYS + CHANGED
        verify = depot("verify", "--ledger", ledger, "--again", env=env)
        assert verify.returncode == 0 and f"verified {KEYS} of {KEYS}" in verify.stdout, verify.stdout + verify.stderr
