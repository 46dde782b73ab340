"""A dataset's checksum file (--checksums) through the command line, on the local target: an image that was
swapped for another sound one, or damaged, is refused before anything is sent, the others are published, and
a rerun remembers the checksum file."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from depot.deposit.commands.demo import stage

SOME = 4


def depot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "depot", *args, "--limit", str(SOME)], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ}, timeout=300)


def published(ledger: Path) -> list[str]:
    with sqlite3.connect(ledger) as conn:
        return sorted(key for (key,) in conn.execute("SELECT key FROM specimens WHERE state = 'published'"))


def first_catalog_numbers(archive: Path, n: int) -> list[str]:
    import csv
    import io
    import zipfile

    with zipfile.ZipFile(archive) as zf, zf.open("occurrence.txt") as fh:
        rows = csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE)
        return [row["catalogNumber"] for _, row in zip(range(n), rows, strict=False)]


def test_a_swapped_image_is_refused_by_its_checksum_and_a_rerun_remembers_the_file(tmp_path: Path) -> None:
    archive, images = stage(tmp_path)
    names = [f"{c}.png" for c in first_catalog_numbers(archive, SOME)]
    # md5sum run inside the images folder, written beside it: names relative to --images
    (tmp_path / "delivery.md5").write_text("".join(f"{hashlib.md5((images / n).read_bytes()).hexdigest()}  {n}\n"
                                                   for n in names), encoding="utf-8")
    source = (str(archive), "--images", "images", "--path-template", "{images}/{catalogNumber}.png")
    check = depot("check", *source, "--checksums", "delivery.md5", cwd=tmp_path)
    assert check.returncode == 0 and f"{SOME} ready, 0 with problems" in check.stdout, check.stdout + check.stderr

    # One specimen's image replaced by another one (both decode: only the checksum tells them apart).
    victim = names[1]
    original = (images / victim).read_bytes()
    other = next(p.read_bytes() for p in sorted(images.iterdir()) if p.read_bytes() != original)
    (images / victim).write_bytes(other)

    ledger = tmp_path / "ledger.sqlite3"
    run = depot("run", *source, "--checksums", "delivery.md5", "--ledger", str(ledger), "--target", "local",
                "--repo-dir", "repo", "--progress", "quiet", cwd=tmp_path)
    said = run.stdout + run.stderr
    assert f"{victim}: its md5 is {hashlib.md5(other).hexdigest()}, but delivery.md5 line 2 says " \
           f"{hashlib.md5(original).hexdigest()}" in said, said
    with sqlite3.connect(ledger) as conn:
        sent = conn.execute("SELECT count(*) FROM specimens WHERE deposition_id IS NOT NULL").fetchone()[0]
        (options,) = conn.execute("SELECT options FROM source_options WHERE id = 1").fetchone()
    assert len(published(ledger)) == SOME - 1 and sent == SOME - 1  # nothing was sent for the refused one
    assert json.loads(options)["checksums"] == [str((tmp_path / "delivery.md5").resolve())]

    # A rerun given only the source and the ledger checks against the remembered file, and says so.
    rerun = depot("run", str(archive), "--ledger", str(ledger), "--progress", "quiet", cwd=tmp_path)
    assert f"--checksums {(tmp_path / 'delivery.md5').resolve()}" in rerun.stderr, rerun.stderr
    assert "its md5 is" in rerun.stdout + rerun.stderr and len(published(ledger)) == SOME - 1

    (images / victim).write_bytes(original)  # copied again from the original
    fixed = depot("run", str(archive), "--ledger", str(ledger), "--progress", "quiet", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert len(published(ledger)) == SOME
