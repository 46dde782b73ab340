"""A ledger remembers the source options its records were planned with (depot.deposit.source_options).

The everyday slip: a `depot sync` run a month later without the first run's --profile, --var or --images.
Before, every published record was planned anew with the default profile and edited in place to match it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from depot.deposit.commands.demo import stage

SOME = 3  # specimens of the bundled archive, enough to see each rule


def depot(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    quiet = ("--progress", "quiet") if args[0] != "check" else ()
    return subprocess.run([sys.executable, "-m", "depot", *args, "--limit", str(SOME), *quiet],
                          capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=300)


def remembered(ledger: Path) -> dict[str, object]:
    with sqlite3.connect(ledger) as conn:
        (options,) = conn.execute("SELECT options FROM source_options WHERE id = 1").fetchone()
    return dict(json.loads(options))


def test_a_sync_without_the_first_runs_options_takes_the_ledgers_and_a_changed_one_is_refused(tmp_path: Path) -> None:
    archive, images = stage(tmp_path)
    ledger = ["--ledger", str(tmp_path / "ledger.sqlite3")]
    first = depot("run", str(archive), "--images", "images", "--path-template", "{images}/{catalogNumber}.png",
                  "--profile", "minimal", "--var", "institution=TROM", *ledger, "--target", "local", "--repo-dir",
                  "repo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert remembered(tmp_path / "ledger.sqlite3")["profile_name"] == "minimal"
    assert remembered(tmp_path / "ledger.sqlite3")["images"] == str(images.resolve())
    status = subprocess.run([sys.executable, "-m", "depot", "status", *ledger], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert (f"source options: --images {images.resolve()} --path-template {{images}}/{{catalogNumber}}.png "
            "--profile minimal --var institution=TROM\n") in status.stdout, status.stdout

    # Nothing but the source: the ledger's options, named, and nothing to do.
    bare = depot("sync", str(archive), *ledger, cwd=tmp_path)
    assert bare.returncode == 0, bare.stderr
    assert (f"options: the ledger's --images {images.resolve()} --path-template {{images}}/{{catalogNumber}}.png "
            "--profile minimal --var institution=TROM") in bare.stderr
    assert f"0 to edit, 0 new versions, {SOME} unchanged" in bare.stderr

    # Another profile, on the command line, in the environment or a config file (named): refused before
    # anything is read or sent.
    (tmp_path / "elsewhere.toml").write_text('[sync]\nprofile = "specimen"\n', encoding="utf-8")
    for args, env, origin in ((("--profile", "specimen"), None, ""), ((), {"DEPOT_PROFILE": "specimen"},
                              " (from DEPOT_PROFILE)"), ((), {"DEPOT_CONFIG": str(tmp_path / "elsewhere.toml")},
                              f" (from {tmp_path / 'elsewhere.toml'})")):
        other = depot("sync", str(archive), *args, *ledger, cwd=tmp_path, env=env)
        assert other.returncode == 2, other.stderr
        assert f"--profile specimen{origin} differs from the ledger's --profile minimal" in other.stderr
        assert "--new-options" in other.stderr and "Traceback" not in other.stderr
    assert remembered(tmp_path / "ledger.sqlite3")["profile_name"] == "minimal"

    # `depot check --ledger` shows what the change would do, and says what a sync would need.
    plan = depot("check", str(archive), "--profile", "specimen", *ledger, "--problems-file", "p.tsv", cwd=tmp_path)
    assert f"edits in place:  {SOME} (3 requests each" in plan.stdout, plan.stdout + plan.stderr
    assert "this plan uses the given one (a run or sync would need --new-options)" in plan.stderr

    # Meant: the given profile becomes the ledger's, the other options stay the ledger's.
    meant = depot("sync", str(archive), "--profile", "specimen", "--new-options", *ledger, cwd=tmp_path)
    assert meant.returncode == 0, meant.stderr
    assert f"{SOME} to edit, 0 new versions, 0 unchanged" in meant.stderr
    options = remembered(tmp_path / "ledger.sqlite3")
    assert (options["profile_name"], options["profile_vars"]) == ("specimen", ["institution=TROM"])
    again = depot("sync", str(archive), *ledger, cwd=tmp_path)
    assert again.returncode == 0 and f"0 to edit, 0 new versions, {SOME} unchanged" in again.stderr, again.stderr


def test_a_moved_image_folder_is_named_and_taken_only_when_meant(tmp_path: Path) -> None:
    archive, images = stage(tmp_path)
    ledger = ["--ledger", str(tmp_path / "ledger.sqlite3")]
    first = depot("run", str(archive), "--images", str(images), "--path-template", "{images}/{catalogNumber}.png",
                  *ledger, "--target", "local", "--repo-dir", "repo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    moved = images.rename(tmp_path / "sheets")
    gone = depot("run", str(archive), *ledger, cwd=tmp_path)
    assert gone.returncode == 2
    assert f"the ledger's --images {images} (remembered from an earlier run) is not a folder any more" in gone.stderr
    refused = depot("run", str(archive), "--images", "sheets", *ledger, cwd=tmp_path)
    assert refused.returncode == 2 and f"--images {moved} differs from the ledger's --images {images}" in \
        refused.stderr
    taken = depot("sync", str(archive), "--images", "sheets", "--new-options", *ledger, cwd=tmp_path)
    assert taken.returncode == 0, taken.stderr
    assert f"0 to edit, 0 new versions, {SOME} unchanged" in taken.stderr  # same files, elsewhere: no version
    assert remembered(tmp_path / "ledger.sqlite3")["images"] == str(moved)


def test_options_are_free_to_change_until_the_ledger_has_sent_anything(tmp_path: Path) -> None:
    """A first run whose every specimen was rejected (a misspelt template) sent nothing: the fixed options
    are taken without --new-options."""
    archive, images = stage(tmp_path)
    ledger = ["--ledger", str(tmp_path / "ledger.sqlite3")]
    wrong = depot("run", str(archive), "--images", str(images), "--path-template", "{images}/{catalogNumbr}.png",
                  *ledger, "--target", "local", "--repo-dir", "repo", cwd=tmp_path)
    assert wrong.returncode == 1, wrong.stderr
    fixed = depot("run", str(archive), "--path-template", "{images}/{catalogNumber}.png", *ledger, cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert "differs from the ledger's --path-template {images}/{catalogNumbr}.png; the ledger takes the given " \
           "one from now on" in fixed.stderr
    assert f"ledger: {SOME} published" in fixed.stderr
    assert remembered(tmp_path / "ledger.sqlite3")["path_template"] == "{images}/{catalogNumber}.png"


def test_a_ledger_from_before_remembers_the_next_runs_options_and_says_so(tmp_path: Path) -> None:
    archive, images = stage(tmp_path)
    ledger = tmp_path / "ledger.sqlite3"
    options = ["--images", str(images), "--path-template", "{images}/{catalogNumber}.png"]
    first = depot("run", str(archive), *options, "--ledger", str(ledger), "--target", "local", "--repo-dir", "repo",
                  cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(ledger) as conn:  # as a ledger written before migration 0010 has it
        conn.execute("DELETE FROM source_options")
    rerun = depot("run", str(archive), *options, "--ledger", str(ledger), cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "this ledger, written by an older Depot, remembers no source options" in rerun.stderr
    assert remembered(ledger)["path_template"] == "{images}/{catalogNumber}.png"
