"""``depot demo``: deposit 24 real TROM herbarium specimens into a local repository and show the DOIs."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from importlib.resources import as_file, files
from pathlib import Path

import click

from depot.deposit.cli import run_with_exit_codes
from depot.deposit.errors import ExitCode

INSTITUTION = "The Arctic University Museum of Norway"
NOTE = ("Depot demo: the image is a stand-in herbarium sheet of the Royal Botanic Garden Edinburgh "
        "(CC BY 4.0), not this specimen; the label data are from TROM (CC BY 4.0).")


@click.command("demo")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True, help="Folder for the demo's repository, ledger and report (replaced).")
@click.option("--transfers", type=int, default=4, show_default=True, help="Records in flight.")
def demo(output: Path, transfers: int) -> None:
    """Deposit a bundled real dataset (TROM algae herbarium, 24 specimens) into a local repository."""
    run_with_exit_codes(lambda: run_demo(output, transfers))


def stage(output: Path) -> tuple[Path, Path]:
    """Copy the bundled archive and give every specimen a stand-in image named by its catalogue number."""
    data = files("depot.demo") / "data"
    with as_file(data / "dwca-trom-algae-subset.zip") as archive_path:
        archive = output / "dwca-trom-algae-subset.zip"
        shutil.copyfile(archive_path, archive)
    images = output / "images"
    images.mkdir()
    stand_ins = sorted(p.name for p in (data / "images").iterdir() if p.name.endswith(".png"))
    with zipfile.ZipFile(archive) as zf, zf.open("occurrence.txt") as fh:
        reader = csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE)
        for i, row in enumerate(reader):
            with as_file(data / "images" / stand_ins[i % len(stand_ins)]) as src:
                shutil.copyfile(src, images / f"{row['catalogNumber']}.png")
    return archive, images


def run_demo(output: Path, transfers: int) -> int:
    from depot.deposit.commands.run import deposit
    from depot.deposit.commands.status import record_site, write_report
    from depot.deposit.ledger import Ledger
    from depot.deposit.links import on_target
    from depot.deposit.targets import remembered_port

    output = output.resolve()
    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    archive, images = stage(output)
    ledger = output / "ledger.sqlite3"
    click.echo(f"depot demo: depositing {archive.name} (24 specimens of TROM; label data CC BY 4.0, images CC "
               "BY-SA 4.0, so the records take the images' licence, as the profile says) into a local repository "
               f"in {output / 'repository'}", err=True)
    code = deposit(ledger_path=str(ledger), target="local", token_file=None, repo_dir=output / "repository",
                   rate_limit=None, transfers=transfers, retries=3, low_level_retries=5, progress_mode="quiet",
                   source=archive, kind="dwca", images=images, path_template="{images}/{catalogNumber}.png",
                   key_term=None, columns=(), delimiter=None, profile_name="specimen",
                   profile_vars=(f"institution={INSTITUTION}", f"note={NOTE}"),
                   limit=None)
    report = output / "report.csv"
    with report.open("w", encoding="utf-8", newline="") as fh:
        write_report(str(ledger), "csv", fh)
    led = Ledger.open(str(ledger), create=False)
    try:
        site = record_site(led)
        for claim, record_url, _concept in led.iter_report():
            shown = on_target(record_url, site) if site else record_url
            click.echo(f"{claim.doi or claim.state:<24} {shown or '':<40} {claim.key}")
    finally:
        led.close()
    click.echo(f"report: {report}", err=True)
    port = remembered_port(output / "repository") or 5000
    click.echo(f"browse the records: depot serve --data-dir {output / 'repository'} --port {port}, then open "
               f"http://127.0.0.1:{port}/search (landing pages) or /api/records (the API)", err=True)
    return int(code) if code != ExitCode.OK else ExitCode.OK
