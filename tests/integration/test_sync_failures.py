"""`depot sync` when the repository refuses a change: the draft is discarded, the published record stays
as it was, the specimen is reported failed with the repository's message, and a fixed source syncs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from conftest import png_image, serve_repository

PROFILE = """
[profile]
name = "titled"
[metadata]
upload_type = "image"
image_type = "photo"
title = "{title}"
description = "Specimen {{{{ catalogNumber }}}}."
creators = [{{ name = "Test Herbarium" }}]
license = "cc-by-4.0"
[[metadata.related_identifiers]]
identifier = "{{{{ key }}}}"
relation = "isAlternateIdentifier"
scheme = "urn"
"""


def source(folder: Path) -> tuple[Path, Path]:
    images = folder / "images"
    images.mkdir()
    rows = ["occurrenceID,catalogNumber,scientificName"]
    for i in range(3):
        (images / f"S{i}.png").write_bytes(png_image(i))
        rows.append(f"urn:catalog:SYNC:{i},S{i},Fucus vesiculosus L.")
    csv = folder / "specimens.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return csv, images


def sync(tmp_path: Path, base: str, env: dict[str, str], title: str, command: str = "sync") -> \
        subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(title)}.toml"
    profile.write_text(PROFILE.format(title=title), encoding="utf-8")
    csv, images = (tmp_path / "specimens.csv", tmp_path / "images")
    return subprocess.run([sys.executable, "-m", "depot", command, str(csv), "--images", str(images),
                           "--path-template", "{images}/{catalogNumber}.png", "--profile", str(profile),
                           "--target", f"{base}/api", "--ledger", str(tmp_path / "ledger.sqlite3"),
                           "--progress", "quiet", "--retries", "0", "--new-options"],  # each title its own profile
                          capture_output=True, text=True, env=env, timeout=120)


def test_a_refused_edit_is_discarded_and_the_published_record_is_untouched(tmp_path: Path) -> None:
    source(tmp_path)
    with serve_repository(tmp_path) as repo:
        first = sync(tmp_path, repo.base, repo.env, "Specimen {{ catalogNumber }} of Fucus", command="run")
        assert first.returncode == 0, first.stderr
        # A mapping bug: a two-letter title, which the repository would refuse at publish. The verdict
        # finds it first: no edit is sent, the published records stay as they are, the reason is kept.
        bad = sync(tmp_path, repo.base, repo.env, "Xy")
        assert bad.returncode == 1, bad.stderr  # RECORDS_FAILED
        status = json.loads(subprocess.run([sys.executable, "-m", "depot", "status", "--ledger",
                                            str(tmp_path / "ledger.sqlite3"), "--json"], capture_output=True,
                                           text=True, env=repo.env).stdout)
        assert status["states"] == {"published": 3} and status["errors_by_status"] == {}
        assert len(status["rejected"]) == 3 and all(r["state"] == "published" for r in status["rejected"])
        deps = httpx.get(f"{repo.base}/api/deposit/depositions", headers=repo.headers,
                         params={"all_versions": 1}).json()
        assert len(deps) == 3
        for d in deps:
            assert d["state"] == "done"  # the edit draft was discarded: nothing half-edited
            assert d["metadata"]["title"].startswith("Specimen S")
        report = subprocess.run([sys.executable, "-m", "depot", "report", "--ledger", str(tmp_path / "ledger.sqlite3"),
                                 "--format", "json"], capture_output=True, text=True, env=repo.env)
        rows = json.loads(report.stdout)
        assert all("title" in r["error"] and r["doi"] for r in rows)
        # The mapping fixed: the same records are edited, same DOIs.
        fixed = sync(tmp_path, repo.base, repo.env, "Fucus vesiculosus, specimen {{ catalogNumber }}")
        assert fixed.returncode == 0, fixed.stderr
        after = httpx.get(f"{repo.base}/api/deposit/depositions", headers=repo.headers,
                          params={"all_versions": 1}).json()
        assert sorted(d["doi"] for d in after) == sorted(r["doi"] for r in rows)
        assert all(d["state"] == "done" and d["metadata"]["title"].startswith("Fucus vesiculosus") for d in after)


def test_a_leftover_new_version_draft_is_found_and_finished(tmp_path: Path) -> None:
    """Zenodo allows one unpublished new version per concept; one left by an earlier tool or run is adopted."""
    _csv, images = source(tmp_path)
    with serve_repository(tmp_path) as repo:
        first = sync(tmp_path, repo.base, repo.env, "Specimen {{ catalogNumber }} of Fucus", command="run")
        assert first.returncode == 0, first.stderr
        deps = httpx.get(f"{repo.base}/api/deposit/depositions", headers=repo.headers).json()
        target = next(d for d in deps if d["files"][0]["filename"] == "S1.png")
        leftover = httpx.post(f"{repo.base}/api/deposit/depositions/{target['id']}/actions/newversion",
                              headers=repo.headers)
        assert leftover.status_code == 201
        (images / "S1.png").write_bytes(png_image("rescanned"))
        again = sync(tmp_path, repo.base, repo.env, "Specimen {{ catalogNumber }} of Fucus")
        assert again.returncode == 0, again.stderr
        after = httpx.get(f"{repo.base}/api/deposit/depositions", headers=repo.headers,
                          params={"all_versions": 1}).json()
        assert len(after) == 4 and all(d["state"] == "done" for d in after)  # 3 records + 1 new version, no draft
        new = next(d for d in after if d["conceptrecid"] == target["conceptrecid"] and d["id"] != target["id"])
        assert new["id"] == leftover.json()["id"]  # the leftover draft became the new version
        assert [f["filename"] for f in new["files"]] == ["S1.png"]
        assert new["files"][0]["checksum"] != target["files"][0]["checksum"]
