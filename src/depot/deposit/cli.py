"""The depositor's commands: check, run, status, report, demo. Errors become fixed exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from depot.deposit.errors import ConfigError, DepotError, ExitCode, LedgerError
from depot.deposit.models import PlannedRecord

F = TypeVar("F", bound=Callable[..., Any])


def source_options(fn: F) -> F:
    """The options that say how to read a source, shared by check, run and sync."""
    options = [
        click.argument("source", type=click.Path(exists=True, path_type=Path)),
        click.option("--kind", type=click.Choice(["dwca", "table", "folder"]), default=None,
                     help="What SOURCE is [detected: a zip or folder with meta.xml is a DwC-A, .csv/.tsv/.txt a "
                          "table, a folder of images a folder]."),
        click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                     help="Folder holding the image files the source refers to."),
        click.option("--path-template", default=None, metavar="TEMPLATE",
                     help="Where a specimen's image is, e.g. '{images}/{catalogNumber}.jpg' [default: the file "
                          "name of the media URL, looked up in --images]."),
        click.option("--key-term", default=None, metavar="TERM",
                     help="Column or term that identifies a specimen [occurrenceID, else catalogNumber]."),
        click.option("--column", "columns", multiple=True, metavar="COLUMN=TERM",
                     help="Map a table's column to a Darwin Core term (repeatable)."),
        click.option("--delimiter", default=None, help="A table's field delimiter [sniffed]."),
        click.option("--profile", "profile_name", default="specimen", show_default=True,
                     help="Mapping profile: a shipped name (depot profiles) or a TOML file."),
        click.option("--var", "profile_vars", multiple=True, metavar="NAME=VALUE",
                     help="Set a profile variable, e.g. --var institution='Meise Botanic Garden' (repeatable)."),
        click.option("--limit", type=int, default=None, help="Only the first N specimens of the source."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _pairs(values: tuple[str, ...], flag: str) -> dict[str | int, str]:
    out: dict[str | int, str] = {}
    for item in values:
        if "=" not in item:
            raise ConfigError(f"{flag} expects NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        out[name.strip()] = value
    return out


def planned_records(source: Path, kind: str | None, images: Path | None, path_template: str | None,
                    key_term: str | None, columns: tuple[str, ...], delimiter: str | None, profile_name: str,
                    profile_vars: tuple[str, ...], limit: int | None) -> tuple[Any, Any]:
    """Open the source and the profile; returns (profile, iterator of PlannedRecord)."""
    import itertools

    from depot.deposit.profiles import load_profile
    from depot.deposit.sources import open_source

    profile = load_profile(profile_name, overrides={str(k): v for k, v in _pairs(profile_vars, "--var").items()})
    # Absolute paths: a relative --images would otherwise be taken relative to the source's own folder.
    src = open_source(source.resolve(), kind=kind, images=images.resolve() if images else None,
                      path_template=path_template, key_term=key_term,
                      columns=_pairs(columns, "--column") or None, delimiter=delimiter)

    def records() -> Iterator[PlannedRecord]:
        # Closing the source removes the unpacked copy of a zipped archive.
        with src:
            yield from (profile.apply(s) for s in itertools.islice(src, limit))

    return profile, records()


def run_with_exit_codes(fn: Callable[[], int]) -> None:
    """Call ``fn`` and exit with its code, turning the depositor's errors into clear messages and codes."""
    from depot.deposit.profiles.errors import ProfileError
    from depot.deposit.sources.errors import SourceError

    try:
        code = fn()
    except (ConfigError, SourceError, ProfileError) as exc:
        click.echo(f"depot: {exc}", err=True)
        code = ExitCode.USAGE
    except LedgerError as exc:
        click.echo(f"depot: {exc}", err=True)
        code = ExitCode.FATAL
    except DepotError as exc:
        click.echo(f"depot: {exc}", err=True)
        code = ExitCode.FATAL
    except KeyboardInterrupt:
        click.echo("depot: interrupted; run the same command again to resume", err=True)
        code = ExitCode.INTERRUPTED
    sys.exit(int(code))


def install_stop_handlers(stop: Callable[[], None]) -> None:
    """First Ctrl-C (or SIGTERM) stops claiming new work and lets requests in flight finish."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, or not supported
            loop.add_signal_handler(sig, stop)
