"""A record the repository would refuse is rejected before any request; depot check finds the same problems."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import png_image, serve_repository


@pytest.fixture
def served(tmp_path: Path) -> Any:
    with serve_repository(tmp_path) as repo:
        yield repo.base, repo.env, repo.headers


def table(tmp_path: Path) -> tuple[Path, Path]:
    images = tmp_path / "images"
    images.mkdir()
    for barcode in ("BR001", "BR002", "BR003"):
        (images / f"{barcode}.png").write_bytes(png_image(barcode))
    csv = tmp_path / "sheets.csv"
    # BR002's name is too short for a title: the repository refuses to publish that record.
    csv.write_text("catalogNumber,scientificName,family\n"
                   "BR001,Quercus robur L.,Fagaceae\n"
                   "BR002,Qu,Fagaceae\n"
                   "BR003,Betula pendula Roth,Betulaceae\n", encoding="utf-8")
    return csv, images


PROFILE = """
[profile]
name = "titles-only"
[metadata]
upload_type = "image"
image_type = "photo"
title = "{{ scientificName }}"
creators = [{ name = "Test Herbarium" }]
[[metadata.related_identifiers]]
identifier = "{{ key }}"
relation = "isAlternateIdentifier"
scheme = "other"
"""


def test_record_the_repository_would_refuse_is_rejected_locally_without_a_draft(served: Any, tmp_path: Path) -> None:
    base, env, headers = served
    csv, images = table(tmp_path)
    ledger = tmp_path / "ledger.sqlite3"
    profile = tmp_path / "titles.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "depot", "run", str(csv), "--images", str(images),
                             "--path-template", "{images}/{catalogNumber}.png", "--profile", str(profile),
                             "--target", f"{base}/api", "--ledger", str(ledger), "--progress", "quiet"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1, result.stderr  # RECORDS_FAILED
    status = json.loads(subprocess.run([sys.executable, "-m", "depot", "status", "--ledger", str(ledger), "--json"],
                                       capture_output=True, text=True, check=True).stdout)
    assert status["states"] == {"published": 2, "rejected": 1}
    (rejected,) = status["rejected"]
    assert rejected["key"] == "BR002" and rejected["row"] == 2  # the second data row
    assert "title" in rejected["reason"] and "minimum length 3" in rejected["reason"]
    deps = httpx.get(f"{base}/api/deposit/depositions", headers=headers).json()
    # Nothing was sent for BR002: no draft, no refused request.
    assert sorted(d["title"] for d in deps) == ["Betula pendula Roth", "Quercus robur L."]
    assert all(d["submitted"] for d in deps) and status["errors_by_status"] == {}
    # The data manager fixes the name: the rerun deposits it.
    csv.write_text(csv.read_text(encoding="utf-8").replace("BR002,Qu,", "BR002,Quercus petraea (Matt.) Liebl.,"),
                   encoding="utf-8")
    again = subprocess.run([sys.executable, "-m", "depot", "run", str(csv), "--images", str(images),
                            "--path-template", "{images}/{catalogNumber}.png", "--profile", str(profile),
                            "--target", f"{base}/api", "--ledger", str(ledger), "--progress", "quiet"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    after = httpx.get(f"{base}/api/deposit/depositions", headers=headers).json()
    assert len(after) == 3 and all(d["submitted"] for d in after)
    assert "Quercus petraea (Matt.) Liebl." in {d["title"] for d in after}


def test_check_reports_problems_and_budget_without_sending(tmp_path: Path) -> None:
    csv, images = table(tmp_path)
    (images / "BR003.png").unlink()  # a missing image
    problems = tmp_path / "problems.tsv"
    profile = tmp_path / "titles.toml"
    profile.write_text(PROFILE, encoding="utf-8")
    # Relative paths, as a data manager types them in the dataset's folder.
    result = subprocess.run([sys.executable, "-m", "depot", "check", csv.name, "--images", images.name,
                             "--path-template", "{images}/{catalogNumber}.png", "--profile", str(profile),
                             "--problems-file", str(problems)], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert result.returncode == 5, result.stdout + result.stderr  # CHECK_FAILED
    out = result.stdout
    assert "3 rows read" in out and "3 specimens, 1 ready" in out
    assert "requests: " in out and "duration at 100/5000" in out
    listing = problems.read_text().splitlines()
    assert listing[0] == "key\trow\tkind\tfile\tmessage"
    kinds: dict[str, set[str]] = {}
    for line in listing[1:]:
        key, _row, kind, _file, _message = line.split("\t")
        kinds.setdefault(key, set()).add(kind)
    assert kinds["BR002"] == {"metadata"} and "record" in kinds["BR003"] and "BR001" not in kinds
