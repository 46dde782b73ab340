"""The source options of run, sync and check meet the ledger's remembered ones (depot.deposit.source_options)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from depot.deposit.config import CONFIG_PATH_KEY
from depot.deposit.errors import ConfigError
from depot.deposit.source_options import NEW_OPTIONS, Resolved, resolve

if TYPE_CHECKING:
    from depot.deposit.ledger import Ledger

new_options_option = click.option(
    "--new-options", "new_options", is_flag=True,
    help="Make the source options given here (--profile, --var, --images, --path-template, --file-name, ...) the "
         "ledger's from now on; the others stay the ledger's ('' for a text option: back to its default). Without "
         "it, an option not given takes the ledger's value, and one given with another value than the ledger's is "
         "refused once the ledger has sent records.")


def given_names() -> dict[str, str]:
    """The options the user set, each with where, if not on the command line: `` (from DEPOT_PROFILE)``, ``
    (from the config file)``."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return {}
    given: dict[str, str] = {}
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name or "")
        if source is ParameterSource.ENVIRONMENT:
            given[param.name or ""] = f" (from {param.envvar})"
        elif source is ParameterSource.DEFAULT_MAP:
            given[param.name or ""] = f" (from {ctx.meta.get(CONFIG_PATH_KEY, 'the config file')})"
        elif source in (ParameterSource.COMMANDLINE, ParameterSource.PROMPT):
            given[param.name or ""] = ""
    return given


def meet(ledger: Ledger | None, values: Mapping[str, Any], given: Mapping[str, str], *, new_options: bool,
         dry_run: bool = False) -> Resolved:
    """The options to use, said on stderr where they come from the ledger or change it. ``dry_run``
    (check): a changed option is shown, not refused."""
    remembered = ledger.source_options() if ledger is not None else None
    sent = ledger.has_sent() if ledger is not None else False
    resolved = resolve(values, given, remembered, sent=sent and not dry_run, new_options=new_options)
    if ledger is not None and remembered is None and sent and not dry_run:
        click.echo("options: this ledger, written by an older Depot, remembers no source options; it takes this "
                   "command's from now on", err=True)
    gone = resolved.gone()
    if gone is not None:
        raise ConfigError(gone)
    if resolved.taken:
        click.echo(f"options: the ledger's {resolved.described()} (as its records were planned; give others with "
                   f"{NEW_OPTIONS})", err=True)
    for change in resolved.changed:
        if dry_run:
            later = f" (a run or sync would need {NEW_OPTIONS})" if sent else ""
            click.echo(f"options: {change}; this plan uses the given one{later}", err=True)
        else:
            click.echo(f"options: {change}; the ledger takes the given one from now on", err=True)
    return resolved
