"""The depositor's commands: check, run, status, report, demo. Errors become fixed exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
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


def file_name_option(fn: F) -> F:
    """``--file-name TEMPLATE``, shared by check, run and sync (see depot.deposit.file_names)."""
    return click.option(
        "--file-name", "file_name", default=None, metavar="TEMPLATE",
        help="Name the deposited files after the specimen, e.g. '{catalogNumber}.jpg' or '{catalogNumber}_{n}{ext}' "
             "(fields: any term, key, stem, ext, n) [default: the file's own name].")(fn)


def judged(records: Iterable[PlannedRecord], file_name: str | None) -> Iterator[PlannedRecord]:
    """The records with their files named by ``--file-name`` (a malformed template is a ConfigError)."""
    from depot.deposit.file_names import FileNameTemplateError, name_files, parse

    if file_name is None:
        yield from records
        return
    try:
        parse(file_name)
    except FileNameTemplateError as exc:
        raise ConfigError(str(exc)) from exc
    for record in records:
        yield name_files(record, file_name)


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
    except Exception as exc:  # the last resort: never a traceback on the terminal
        code = internal_error(exc)
    sys.exit(int(code))


def internal_error(exc: BaseException, folder: Path | None = None) -> ExitCode:
    """Report an unexpected error in one line; the traceback goes to a log file whose path is printed.

    Nothing the ledger committed is lost: every transition is its own transaction, so running the same
    command again carries on."""
    import traceback
    from datetime import UTC, datetime

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    text = "".join(traceback.format_exception(exc))
    summary = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no message'}"
    log: Path | None = None
    for where in (folder or Path.cwd(), Path(tempfile_dir())):
        candidate = where / f"depot-error-{stamp}.log"
        try:
            candidate.write_text(f"depot {' '.join(sys.argv[1:])}\n{text}", encoding="utf-8")
        except OSError:
            continue
        log = candidate
        break
    where_logged = f"the traceback is in {log}" if log else f"could not write a log file:\n{text}"
    click.echo(f"depot: unexpected error ({summary}); this is a bug in Depot, please report it with the log: "
               f"{where_logged}. The ledger is intact: running the same command again carries on.", err=True)
    return ExitCode.INTERNAL


def tempfile_dir() -> str:
    import tempfile

    return tempfile.gettempdir()


def install_stop_handlers(stop: Callable[[], None]) -> None:
    """First Ctrl-C (or SIGTERM) stops claiming new work and lets requests in flight finish."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, or not supported
            loop.add_signal_handler(sig, stop)
