"""End to end: `depot sync` against a real `depot serve` on loopback (issue 6).

A corpus DwC-A goes out with barcode and name only, is enriched in place with the `specimen` profile
(same DOIs), then 10 % of its images change and become new versions (new DOIs, same concept DOIs) while
the rest cost no request; the last step is repeated with kill -9 of the depositor at random moments, under
lost answers, and must end in the same state as an uninterrupted sync.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from depot.deposit.commands.demo import stage

from conftest import serve_repository

KEYS = 24  # specimens in the bundled TROM subset (a corpus archive)
CHANGED = 3  # 10 % of them, rounded up


def depot(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "depot", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def source_args(tmp_path: Path, archive: Path, images: Path, base: str, profile: str) -> list[str]:
    return [str(archive), "--images", str(images), "--path-template", "{images}/{catalogNumber}.png",
            "--target", f"{base}/api", "--ledger", str(tmp_path / "ledger.sqlite3"), "--profile", profile,
            "--var", "institution=The Arctic University Museum of Norway", "--progress", "json"]


def requests_sent(result: subprocess.CompletedProcess[str]) -> int:
    lines = [json.loads(x) for x in result.stderr.splitlines() if x.startswith("{")]
    return int(lines[-1]["requests"])


def report(tmp_path: Path, env: dict[str, str], *extra: str) -> list[dict[str, Any]]:
    out = depot("report", "--ledger", str(tmp_path / "ledger.sqlite3"), "--format", "json", *extra, env=env)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


def all_depositions(base: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in range(1, 100):
        batch = httpx.get(f"{base}/api/deposit/depositions", params={"size": 100, "page": page, "all_versions": 1},
                          headers=headers).json()
        out += batch
        if len(batch) < 100:
            return out
    raise AssertionError("too many depositions")


def change_images(images: Path, names: list[str], seed: int) -> None:
    """A re-scan: new pixels, same file name."""
    for name in names:
        with Image.open(images / name) as img:
            changed = img.convert("RGB").rotate(seed % 360 or 90, expand=True)
        changed.save(images / name, format="PNG")


def server_state(base: str, headers: dict[str, str]) -> dict[str, Any]:
    """Per concept: the DOIs of its versions in order, and the latest version's files and title."""
    deps = all_depositions(base, headers)
    assert [d["id"] for d in deps if not d["submitted"] or d["state"] != "done"] == []  # no draft, no open edit
    concepts: dict[str, Any] = {}
    for d in sorted(deps, key=lambda d: d["id"]):
        entry = concepts.setdefault(d["conceptdoi"], {"dois": []})
        entry["dois"].append(d["doi"])
        entry["files"] = {f["filename"]: f["checksum"] for f in d["files"]}
        entry["title"] = d["metadata"]["title"]
    return concepts


def test_sync_edits_in_place_then_versions_only_what_changed(tmp_path: Path) -> None:
    with serve_repository(tmp_path) as repo:
        base, env, headers = repo.base, repo.env, repo.headers
        archive, images = stage(tmp_path)

        # 1. Barcode and name only.
        first = depot("run", *source_args(tmp_path, archive, images, base, "minimal"), env=env)
        assert first.returncode == 0, first.stderr
        minimal = {r["key"]: r for r in report(tmp_path, env)}
        assert len(minimal) == KEYS
        some = next(iter(minimal.values()))
        record = httpx.get(f"{base}/api/records/{some['deposition_id']}").json()
        assert "custom" not in record["metadata"] and "locations" not in record["metadata"]

        # Before syncing, `depot check --ledger` shows the plan: every record an edit, 3 requests each.
        plan = depot("check", *source_args(tmp_path, archive, images, base, "specimen")[:5], "--profile",
                     "specimen", "--ledger", str(tmp_path / "ledger.sqlite3"), "--problems-file",
                     str(tmp_path / "problems.tsv"), env=env)
        assert f"edits in place:  {KEYS} (3 requests each" in plan.stdout, plan.stdout + plan.stderr
        assert f"requests: {3 * KEYS};" in plan.stdout

        # 2. The rich profile, meant (the ledger remembers the first run's): every record edited in place,
        # exactly 3 requests each, same DOIs.
        rich = depot("sync", *source_args(tmp_path, archive, images, base, "specimen"), "--new-options", env=env)
        assert rich.returncode == 0, rich.stderr
        assert f"{KEYS} to edit, 0 new versions" in rich.stderr
        assert requests_sent(rich) == 3 * KEYS
        enriched = {r["key"]: r for r in report(tmp_path, env)}
        assert {k: (r["doi"], r["concept_doi"]) for k, r in enriched.items()} == \
            {k: (r["doi"], r["concept_doi"]) for k, r in minimal.items()}
        record = httpx.get(f"{base}/api/records/{some['deposition_id']}").json()
        assert record["doi"] == some["doi"]
        assert record["metadata"]["custom"]["dwc:catalogNumber"] and record["metadata"]["locations"]
        versions = httpx.get(f"{base}/api/records/{some['deposition_id']}/versions").json()
        assert versions["hits"]["total"] == 1

        # 3. Re-scans of 10 %: those get new versions; the rest get no request at all.
        names = sorted(p.name for p in images.iterdir())
        rng = random.Random(6)
        changed = rng.sample(names, CHANGED)
        change_images(images, changed, 90)
        (images / next(n for n in names if n not in changed)).touch()  # touched, same content: no version
        again = depot("sync", *source_args(tmp_path, archive, images, base, "specimen"), env=env)
        assert again.returncode == 0, again.stderr
        assert f"0 to edit, {CHANGED} new versions, {KEYS - CHANGED} unchanged" in again.stderr
        assert requests_sent(again) == CHANGED * 5  # newversion, DELETE old image, PUT new, PUT metadata, publish
        after = {r["key"]: r for r in report(tmp_path, env)}
        changed_keys = {k for k, r in after.items() if r["files"][0]["name"] in changed}
        assert len(changed_keys) == CHANGED
        for key, row in after.items():
            if key in changed_keys:
                assert row["doi"] != enriched[key]["doi"] and row["concept_doi"] == enriched[key]["concept_doi"]
                latest = httpx.get(f"{base}/api/records/{row['deposition_id']}").json()
                (f,) = latest["files"]
                assert f["checksum"] == "md5:" + hashlib.md5((images / f["key"]).read_bytes()).hexdigest()
                old = httpx.get(f"{base}/api/records/{enriched[key]['deposition_id']}").json()
                assert old["files"][0]["checksum"] != f["checksum"]  # the old version keeps the old scan
            else:
                assert row["doi"] == enriched[key]["doi"]
        status = json.loads(depot("status", "--ledger", str(tmp_path / "ledger.sqlite3"), "--json", env=env).stdout)
        assert status["versions"] == {"versions": KEYS + CHANGED, "edited_in_place": KEYS, "pending_edits": 0,
                                      "pending_versions": 0}
        history = report(tmp_path, env, "--all-versions")
        assert len(history) == KEYS + CHANGED
        assert sorted(v["version"] for v in history if v["key"] in changed_keys) == [1, 1, 1, 2, 2, 2]

        state = server_state(base, headers)  # no draft or open edit left behind
        assert len(state) == KEYS and sum(len(c["dois"]) for c in state.values()) == KEYS + CHANGED

        # Nothing changed since: a sync sends nothing.
        idle = depot("sync", *source_args(tmp_path, archive, images, base, "specimen"), env=env)
        assert idle.returncode == 0 and requests_sent(idle) == 0


def test_sync_killed_at_random_moments_ends_as_an_uninterrupted_one(tmp_path: Path) -> None:
    # Slow, lossy actions: kill -9 lands mid-way, and some answers are lost after the server acted.
    faults = tmp_path / "sync-faults.toml"
    faults.write_text("seed = 6\nscale = 1.0\n"
                      "[rules.newversion]\ndrop_after = 0.3\nlatency = { median_ms = 200, sigma = 0.2 }\n"
                      "[rules.publish]\ndrop_after = 0.3\nlatency = { median_ms = 200, sigma = 0.2 }\n"
                      "[rules.update]\nlatency = { median_ms = 150, sigma = 0.2 }\n"
                      "[rules.upload]\nlatency = { median_ms = 150, sigma = 0.2 }\n")
    with serve_repository(tmp_path, "--faults", str(faults)) as repo:
        base, env, headers = repo.base, repo.env, repo.headers
        archive, images = stage(tmp_path)
        args = source_args(tmp_path, archive, images, base, "specimen")
        for _ in range(6):  # lost publish answers may leave records to settle on a rerun
            if depot("run", *args, env=env).returncode == 0:
                break
        before = server_state(base, headers)
        assert len(before) == KEYS and all(len(c["dois"]) == 1 for c in before.values())

        rng = random.Random(9)
        changed = rng.sample(sorted(p.name for p in images.iterdir()), CHANGED * 2)
        change_images(images, changed, 180)
        # Deposition JSON gives a file's MD5 without the "md5:" prefix (spec §2.5.1).
        expected = {concept: {"files": {n: hashlib.md5((images / n).read_bytes()).hexdigest() for n in c["files"]},
                              "versions": len(c["dois"]) + bool(set(c["files"]) & set(changed))}
                    for concept, c in before.items()}

        for _ in range(3):
            runner = subprocess.Popen([sys.executable, "-m", "depot", "sync", *args, "--transfers", "2"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(1.0, 3.0))
            runner.send_signal(signal.SIGKILL)
            runner.wait(10)
        codes = []
        for _ in range(6):
            codes.append(depot("sync", *args, env=env).returncode)
            if codes[-1] == 0:
                break
        assert codes[-1] == 0, codes

        after = server_state(base, headers)
        assert set(after) == set(before)  # no concept lost, none added
        got = {concept: {"files": c["files"], "versions": len(c["dois"])} for concept, c in after.items()}
        assert got == expected  # one new version per changed specimen, the others untouched
        for concept, c in after.items():
            assert c["dois"][:len(before[concept]["dois"])] == before[concept]["dois"]
            assert len(set(c["dois"])) == len(c["dois"])
        ledger = {r["key"]: r for r in report(tmp_path, env)}
        assert {r["concept_doi"] for r in ledger.values()} == set(after)
        assert {r["doi"] for r in ledger.values()} == {c["dois"][-1] for c in after.values()}
        assert all(r["state"] in ("published", "verified") for r in ledger.values())
        # Reconciliation sees each specimen's versions as one record, matching the ledger's latest.
        check = depot("reconcile", "--ledger", str(tmp_path / "ledger.sqlite3"), "--target", f"{base}/api", env=env)
        assert check.returncode == 0 and check.stdout.splitlines()[-1] == f"= {KEYS} + 0 - 0 * 0 ! 0", check.stdout
