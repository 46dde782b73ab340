"""The ``depot`` command: the depositor's commands and the repository's, in one group.

Global options: ``-v``/``-q`` (logging levels) and ``--config`` (a TOML file of option defaults, see
depot.deposit.config). Every depositor option also reads ``DEPOT_<OPTION>`` from the environment.
"""

from __future__ import annotations

from pathlib import Path

import click

from depot import __version__
from depot.deposit.commands.check import check
from depot.deposit.commands.demo import demo
from depot.deposit.commands.profiles import profiles
from depot.deposit.commands.reconcile import reconcile, verify
from depot.deposit.commands.run import run, sync
from depot.deposit.commands.status import report, status
from depot.deposit.config import CONFIG_PATH_KEY, bind_environment, config_path, default_map, read_config, set_verbosity
from depot.deposit.errors import ConfigError, ExitCode
from depot.repository.cli import repo, serve, worker
from depot.repository.config import SETTINGS

# The depositor's commands whose options take DEPOT_* variables and config-file values.
DEPOSITOR = (check, run, sync, status, report, reconcile, verify)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="depot")
@click.option("-v", "--verbose", count=True,
              help="More detail: -v logs each record as it is published, fails or retries; -vv debug logs.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors: no progress display, warnings are not logged.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              envvar="DEPOT_CONFIG", show_envvar=True,
              help="TOML file of option defaults, a [section] per command (docs/config.md) [./depot.toml if "
                   "present].")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool, config_file: Path | None) -> None:
    """Deposit natural-history specimens as citable records, and run the repository that keeps them."""
    set_verbosity(ctx, verbose, quiet)
    path = config_path(config_file)
    if path is None:
        return
    try:
        ctx.default_map = default_map(read_config(path), {c.name: c for c in DEPOSITOR if c.name}, str(path))
        ctx.meta[CONFIG_PATH_KEY] = str(path)  # so a message can name the file an option came from
    except ConfigError as exc:
        click.echo(f"depot: {exc}", err=True)
        ctx.exit(int(ExitCode.USAGE))


for command in (check, run, sync, status, report, reconcile, verify, profiles, demo, serve, worker, repo):
    main.add_command(command)
bind_environment(DEPOSITOR, reserved=(f"DEPOT_{s.name}" for s in SETTINGS))
