"""Against a real `depot serve`: a local problem never leaves a draft, duplicates are never deposited,
unknown communities stop the run before anything is created, and --file-name names the files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from depot.deposit.commands.demo import stage

from conftest import serve_repository

KEYS = 24  # specimens in the bundled TROM subset


def depot(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "depot", *args], capture_output=True, text=True, env=env,
                          timeout=180, cwd=cwd)


@pytest.fixture
def served(tmp_path: Path) -> Any:
    with serve_repository(tmp_path) as repo:
        yield repo


def depositions(repo: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    page = 1
    while True:
        batch = httpx.get(f"{repo.base}/api/deposit/depositions", params={"size": 100, "page": page},
                          headers=repo.headers).json()
        out += batch
        if len(batch) < 100:
            return out
        page += 1


def catalog_numbers(deps: list[dict[str, Any]]) -> set[str]:
    return {r["identifier"].rsplit(":", 1)[1] for d in deps for r in d["metadata"].get("related_identifiers", [])
            if r["identifier"].startswith("urn:catalog:TROM")}


def run(repo: Any, tmp_path: Path, source: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return depot("run", str(source), "--target", f"{repo.base}/api", "--ledger", str(tmp_path / "ledger.sqlite3"),
                 "--profile", "specimen", "--var", "institution=The Arctic University Museum of Norway",
                 "--progress", "quiet", *extra, env=repo.env)


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


def test_local_problems_send_nothing_and_leave_no_draft(served: Any, tmp_path: Path) -> None:
    archive, images = stage(tmp_path)
    (images / "8528.png").write_bytes(b"")  # zero bytes
    (images / "8512.png").write_text("this is a text file, not an image\n")  # text named as an image
    images_arg = ("--images", str(images), "--path-template", "{images}/{catalogNumber}.png")
    result = run(served, tmp_path, archive, *images_arg)
    no_traceback(result)
    assert result.returncode == 1, result.stderr
    assert "2 rejected" in result.stderr
    deps = depositions(served)
    assert len(deps) == KEYS - 2 and all(d["submitted"] for d in deps)
    assert not {"8528", "8512"} & catalog_numbers(deps)
    status = json.loads(depot("status", "--ledger", str(tmp_path / "ledger.sqlite3"), "--json").stdout)
    assert status["states"] == {"published": KEYS - 2, "rejected": 2}
    reasons = {r["key"]: r for r in status["rejected"]}
    assert "empty" in reasons["urn:catalog:TROM:A:8528"]["reason"]
    assert reasons["urn:catalog:TROM:A:8512"]["file"].endswith("8512.png")
    assert reasons["urn:catalog:TROM:A:8528"]["row"] == 1
    # Fixed: the next run deposits both, and only them.
    for name in ("8528.png", "8512.png"):
        (images / name).write_bytes((images / "7007.png").read_bytes())
    again = run(served, tmp_path, archive, *images_arg)
    assert again.returncode == 0, again.stderr
    assert len(depositions(served)) == KEYS


def test_media_only_as_web_links_create_no_deposition(served: Any, tmp_path: Path) -> None:
    archive, _images = stage(tmp_path)
    result = run(served, tmp_path, archive)  # no --images: the archive's media are URLs on unimus.no
    no_traceback(result)
    assert result.returncode == 1 and f"{KEYS} rejected" in result.stderr
    assert "--fetch-media" in result.stderr
    assert depositions(served) == []


def test_duplicate_keys_are_rejected_with_their_rows_and_never_deposited(served: Any, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    _archive, staged = stage(tmp_path / "stage" if (tmp_path / "stage").mkdir() is None else tmp_path)
    sample = next(staged.iterdir()).read_bytes()
    rows = ["catalogNumber,scientificName,license"]
    for i in range(1, 521):
        (images / f"BR{i:04d}.png").write_bytes(sample)
        rows.append(f"BR{i:04d},Quercus robur L.,CC-BY-4.0")
    rows.insert(3, "BR0002,Quercus petraea (Matt.) Liebl.,CC-BY-4.0")  # next to its twin (data rows 2 and 3)
    rows.append("BR0010,Fagus sylvatica L.,CC-BY-4.0")  # 511 rows after its twin
    table = tmp_path / "sheets.csv"
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    check = depot("check", str(table), "--images", str(images), "--key-term", "catalogNumber",
                  "--var", "institution=Meise", "--problems-file", str(tmp_path / "p.tsv"))
    no_traceback(check)
    assert check.returncode == 5 and "duplicate: 2" in check.stdout, check.stdout + check.stderr
    listing = (tmp_path / "p.tsv").read_text()
    assert "rows 2, 3 " in listing and "rows 11, 522 " in listing  # BR0010 is data row 11 after the inserted twin
    result = depot("run", str(table), "--images", str(images), "--key-term", "catalogNumber", "--var",
                   "institution=Meise", "--target", f"{served.base}/api", "--ledger", str(tmp_path / "l.sqlite3"),
                   "--progress", "quiet", "--transfers", "16", env=served.env)
    no_traceback(result)
    assert result.returncode == 1 and "2 duplicate keys" in result.stderr, result.stderr
    titles = [d["title"] for d in depositions(served)]
    assert len(titles) == 518 and not any("BR0002" in t or "BR0010" in t for t in titles)
    status = depot("status", "--ledger", str(tmp_path / "l.sqlite3")).stdout
    assert "rejected BR0002 (row 2): duplicate key 'BR0002': rows 2, 3" in status


def test_unknown_community_stops_the_run_before_any_deposition(served: Any, tmp_path: Path) -> None:
    archive, images = stage(tmp_path)
    images_arg = ("--images", str(images), "--path-template", "{images}/{catalogNumber}.png")
    result = run(served, tmp_path, archive, *images_arg, "--var", "community=trom-algae")
    no_traceback(result)
    assert result.returncode == 2 and "'trom-algae'" in result.stderr, result.stderr
    assert depositions(served) == []
    made = depot("repo", "create-community", "trom-algae", "--owner", "museum@example.org",
                 "--data-dir", str(served.data))
    assert made.returncode == 0, made.stderr
    again = run(served, tmp_path, archive, *images_arg, "--var", "community=trom-algae")
    assert again.returncode == 0, again.stderr
    assert len(depositions(served)) == KEYS


def test_file_name_template_names_the_deposited_files(served: Any, tmp_path: Path) -> None:
    archive, images = stage(tmp_path)
    result = run(served, tmp_path, archive, "--images", str(images), "--path-template",
                 "{images}/{catalogNumber}.png", "--file-name", "TROM-A-{catalogNumber}{ext}", "--limit", "3")
    assert result.returncode == 0, result.stderr
    names = sorted(f["filename"] for d in depositions(served) for f in d["files"])
    assert len(names) == 3 and all(n.startswith("TROM-A-") and n.endswith(".png") for n in names)
    bad = depot("check", str(archive), "--images", str(images), "--path-template", "{images}/{catalogNumber}.png",
                "--file-name", "{catalogNumber}/{stem}.png", "--problems-file", str(tmp_path / "p.tsv"), "--limit", "3",
                "--var", "institution=X")
    no_traceback(bad)
    assert bad.returncode == 5
    assert "cannot be a file name: it holds a slash" in bad.stdout, bad.stdout
