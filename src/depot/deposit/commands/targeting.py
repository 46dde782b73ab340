"""Which repository a command works on: the one its ledger remembers, else the flags' (local by default).

A ledger remembers its target (name or API URL, and the folder of a local repository). Every later
command defaults to it, so a plain `depot verify --ledger L` after a run against a server checks that
server, not a new empty local repository. A different ``--target`` is taken only if it holds the
ledger's deposits (see depot.deposit.preflight.confirm_same_server). Before any work, one request
checks the target and the token (depot.deposit.preflight).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from depot.deposit.errors import ConfigError
from depot.deposit.targets import Target, open_target, same_target

if TYPE_CHECKING:  # the ledger (SQLAlchemy, Alembic) is imported only by commands that use it
    from depot.deposit.ledger import Ledger
    from depot.deposit.ledger.remembered import RememberedTarget, Sample

DEFAULT_REPO_DIR = Path("depot-data")


def target_options(fn: Any) -> Any:
    for option in reversed([
        click.option("--target", default=None,
                     help="local (an embedded Depot repository), zenodo, sandbox, or an API URL "
                          "(https://host/api) [default: the ledger's target; for a new ledger, local]."),
        click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="File holding the access token [the token is read from DEPOT_TOKEN first]."),
        click.option("--repo-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Data folder of the embedded repository (--target local) [default: the ledger's; "
                          "for a new ledger, depot-data]."),
        click.option("--rate-limit", default=None, metavar="PER_MIN[/PER_HOUR]",
                     help="Requests to allow [Zenodo: 100/5000; learnt from the server's headers as it answers]."),
        click.option("--api", type=click.Choice(["auto", "legacy", "rdm"]), default=None,
                     help="The target's API: legacy (/api/deposit/depositions) or rdm (InvenioRDM's /api/records); "
                          "auto: legacy for zenodo, sandbox and local (fewer requests a record), else legacy if the "
                          "target has it, else rdm [default: the ledger's; for a new ledger, auto]."),
    ]):
        fn = option(fn)
    return fn


def existing_ledger(ledger_path: str) -> Ledger | None:
    """The ledger if it exists (migrated), else None; a file that is not a ledger is a ConfigError."""
    from depot.deposit.ledger import Ledger
    from depot.deposit.ledger.remembered import LedgerMissing

    try:
        return Ledger.open(ledger_path, create=False)
    except LedgerMissing:
        return None


def choose_target(ledger: Ledger | None, target: str | None, repo_dir: Path | None,
                  api: str | None = None) -> tuple[RememberedTarget, RememberedTarget | None]:
    """(the target to use, the ledger's remembered one if the chosen one differs from it). Its ``api`` is
    ``--api``'s, else the ledger's, else None (detected by the preflight)."""
    from depot.deposit.ledger.remembered import RememberedTarget

    remembered = ledger.target() if ledger is not None else None
    name = target if target is not None else (remembered.name if remembered is not None else "local")
    if name == "local":
        folder = repo_dir or (remembered.repo_dir if remembered is not None and remembered.name == "local"
                              else None) or DEFAULT_REPO_DIR
        chosen = RememberedTarget("local", folder.expanduser().resolve())
    else:
        if repo_dir is not None:
            whose = "this ledger's" if target is None else "the"
            raise ConfigError(f"--repo-dir is for --target local; {whose} target is {name}")
        chosen = RememberedTarget(name.rstrip("/"))
    same = remembered is None or same_target(remembered.name, remembered.repo_dir, chosen.name, chosen.repo_dir)
    if api in ("legacy", "rdm"):
        chosen = replace(chosen, api=api)
    elif api is None and remembered is not None:  # the ledger's API, on its target or where it moved
        chosen = replace(chosen, api=remembered.api)
    return (chosen, None) if same else (chosen, remembered)


@contextlib.asynccontextmanager
async def checked_target(ledger: Ledger | None, target: str | None, repo_dir: Path | None, token_file: Path | None,
                         rate: tuple[int | None, int | None], *, read_only: bool, remember: bool,
                         api: str | None = None) -> Any:
    """Open the command's target and check it (async commands: verify, reconcile). Yields (Target, chosen).

    ``remember``: a target confirmed to hold the ledger's deposits becomes the ledger's (commands that write
    the ledger anyway; a plain listing leaves it as it is)."""
    chosen, previous = choose_target(ledger, target, repo_dir, api)
    sample = ledger.sample_deposit() if ledger is not None else None
    with opened(chosen, token_file, rate, must_exist=read_only or sample is not None) as opened_target:
        opened_target = await check(opened_target, chosen, previous, sample if previous is not None else None)
        detected = replace(chosen, api=opened_target.api)
        if remember and ledger is not None and (previous is not None or ledger.target() != detected):
            ledger.remember_target(detected)
        yield opened_target, detected


@contextlib.contextmanager
def opened(chosen: RememberedTarget, token_file: Path | None, rate: tuple[int | None, int | None], *,
           must_exist: bool) -> Iterator[Target]:
    """The target, served for local; ``must_exist``: a local folder that is gone is an error, not a new
    empty repository (a read-only command, or a ledger with deposits in it)."""
    folder = chosen.repo_dir or DEFAULT_REPO_DIR
    if chosen.name == "local" and must_exist and not folder.is_dir():
        raise ConfigError(f"the local repository {folder} does not exist: give --repo-dir the folder the run "
                          "deposited into, or --target the repository it used")
    with open_target(chosen.name, token_file=token_file, repo_dir=folder, per_minute=rate[0],
                     per_hour=rate[1], api=chosen.api or "auto") as target:
        yield target


async def check(target: Target, chosen: RememberedTarget, previous: RememberedTarget | None,
                sample: Sample | None) -> Target:
    """The preflight request, and for a target other than the ledger's, that it holds the ledger's deposits.
    Returns the target with its API known (``auto`` resolved)."""
    from depot.deposit.preflight import confirm_same_server, preflight
    from depot.deposit.rdm_client import make_client

    target = replace(target, api=await preflight(target))
    if previous is None:
        return target
    async with make_client(target.api, target.api_url, target.token) as client:
        await confirm_same_server(client, sample, remembered=previous.describe(), given=chosen.describe())
    if sample is not None:
        click.echo(f"depot: {chosen.describe()} holds this ledger's deposits (the ledger said "
                   f"{previous.describe()}): going on there", err=True)
    return target
