"""The ``depot`` command: the depositor's commands and the repository's, in one group."""

from __future__ import annotations

import click

from depot import __version__
from depot.deposit.commands.check import check
from depot.deposit.commands.demo import demo
from depot.deposit.commands.reconcile import reconcile, verify
from depot.deposit.commands.run import run, sync
from depot.deposit.commands.status import report, status
from depot.repository.cli import repo, serve


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="depot")
def main() -> None:
    """Deposit natural-history specimens as citable records, and run the repository that keeps them."""


for command in (check, run, sync, status, report, reconcile, verify, demo, serve, repo):
    main.add_command(command)
