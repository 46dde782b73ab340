"""``depot profiles``: the mapping profiles shipped with Depot (list them, show one's TOML)."""

from __future__ import annotations

import sys
from importlib.resources import files
from typing import TextIO

import click

from depot.deposit.cli import run_with_exit_codes
from depot.deposit.errors import ConfigError, ExitCode


@click.group("profiles", invoke_without_command=True)
@click.pass_context
def profiles(ctx: click.Context) -> None:
    """The shipped mapping profiles (for run/check/sync --profile NAME); a TOML file of your own works too
    (docs/profiles.md). Without a command: the list."""
    if ctx.invoked_subcommand is None:
        run_with_exit_codes(lambda: list_profiles_to(sys.stdout))


@profiles.command("list")
def list_command() -> None:
    """One line per shipped profile: its name and what it is for."""
    run_with_exit_codes(lambda: list_profiles_to(sys.stdout))


@profiles.command("show")
@click.argument("name")
def show_command(name: str) -> None:
    """Print the TOML of the shipped profile NAME (save it, edit it, and pass the file to --profile)."""
    run_with_exit_codes(lambda: show_profile_to(name, sys.stdout))


def list_profiles_to(out: TextIO) -> int:
    from depot.deposit.profiles import list_profiles, load_profile

    names = list_profiles()
    width = max(map(len, names), default=0)
    for name in names:
        out.write(f"{name:<{width}}  {load_profile(name).description}\n")
    return ExitCode.OK


def show_profile_to(name: str, out: TextIO) -> int:
    from depot.deposit.profiles import list_profiles

    shipped = list_profiles()
    if name not in shipped:
        hint = " (a profile file is used as it is: --profile PATH.toml)" if name.endswith(".toml") else ""
        raise ConfigError(f"no shipped profile {name!r}; shipped: {', '.join(shipped)}{hint}")
    out.write(files("depot.deposit.profiles").joinpath("data", f"{name}.toml").read_text(encoding="utf-8"))
    return ExitCode.OK
