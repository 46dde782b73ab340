"""The depositor's commands: check, run, status, report, demo. Errors become fixed exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from depot.deposit.errors import ConfigError, DepotError, ExitCode, LedgerError
from depot.deposit.models import PlannedRecord, Specimen

F = TypeVar("F", bound=Callable[..., Any])


def _delimiter(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from depot.deposit.sources.table import parse_delimiter

    try:
        return None if value is None else parse_delimiter(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc).removeprefix("--delimiter ")) from None


def source_options(fn: F) -> F:
    """The options that say how to read a source, shared by check, run and sync."""
    options = [
        click.argument("source", type=click.Path(exists=True, path_type=Path)),
        click.option("--kind", type=click.Choice(["dwca", "table", "folder"]), default=None,
                     help="What SOURCE is [detected: a zip or folder with meta.xml is a DwC-A, .csv/.tsv/.txt a "
                          "table, a folder of images a folder]."),
        click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                     help="Folder holding the image files the source refers to. No file outside it is ever "
                          "deposited [default: the archive, or the table's folder]."),
        click.option("--path-template", default=None, metavar="TEMPLATE",
                     help="Where a specimen's image is, e.g. '{images}/{catalogNumber}.jpg' [default: the file "
                          "name of the media URL, looked up in --images]."),
        click.option("--key-term", default=None, metavar="TERM",
                     help="Column or term that identifies a specimen [occurrenceID, else catalogNumber]."),
        click.option("--column", "columns", multiple=True, metavar="COLUMN=TERM",
                     help="Map a table's column (by header name, or by 1-based position) to a Darwin Core term "
                          "(repeatable). A table without a header line: --no-header --column 1=catalogNumber "
                          "--column 2=scientificName."),
        click.option("--header/--no-header", "header", default=None,
                     help="Whether a table's first line names its columns [yes, unless every --column is a "
                          "position]."),
        click.option("--delimiter", default=None, callback=_delimiter, metavar="CHAR",
                     help="A table's field delimiter: ',', ';', '|', tab (or '\\t') [sniffed]."),
        click.option("--encoding", default=None, metavar="NAME",
                     help="A table's text encoding, e.g. cp1252, latin-1 [detected: UTF-8 with or without a "
                          "byte-order mark, or cp1252]."),
        click.option("--quotes/--no-quotes", "quoted", default=None,
                     help="Whether a table's double quotes enclose fields, or are data [enclose, except in "
                          "tab-separated tables]."),
        click.option("--license", "data_license", default=None, metavar="LICENCE",
                     help="The data licence (a URL or an id such as cc-by-4.0) of a table, or in place of "
                          "the one an archive's EML states (e.g. prose Depot cannot read)."),
        click.option("--checksums", "checksums", multiple=True, metavar="FILE",
                     type=click.Path(dir_okay=False, path_type=Path),
                     help="A checksum file that came with the images (md5sum or sha256sum output, with or without "
                          "--tag, or a BagIt manifest; paths relative to its folder). Each image must hash to its "
                          "line, and one no line lists is a problem, before anything is sent (repeatable)."),
        click.option("--recursive/--no-recursive", default=False,
                     help="A folder source: take images in sub-folders too [no]."),
        click.option("--group-pattern", default=None, metavar="REGEX",
                     help="A folder source: regular expression on the file name whose group 'key' (or group 1) "
                          "makes files one specimen, e.g. '^(?P<key>[^_]+)'."),
        click.option("--fetch-media/--no-fetch-media", default=False,
                     help="Download the media URLs of specimens that have no local file into --media-cache "
                          "(resumable; only http and https)."),
        click.option("--media-cache", type=click.Path(file_okay=False, path_type=Path), default=None,
                     metavar="DIR", help="Where --fetch-media keeps downloaded media [depot-media-cache]."),
        click.option("--profile", "profile_name", default="specimen", show_default=True,
                     help="Mapping profile: a shipped name (depot profiles) or a TOML file."),
        click.option("--var", "profile_vars", multiple=True, metavar="NAME=VALUE",
                     help="Set a profile variable, e.g. --var institution='Meise Botanic Garden' (repeatable)."),
        click.option("--limit", type=click.IntRange(min=0), default=None,
                     help="Only the first N specimens of the source (0: plan nothing new, only carry on with the "
                          "ledger's work)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def image_options(fn: F) -> F:
    """How image files are checked (decoded, measured, barcodes read), shared by check, run and sync."""
    options = [
        click.option("--barcode", type=click.Choice(["check", "require", "off"]), default=None,
                     help="Compare the barcodes on each image with the specimen's key: check (a barcode naming "
                          "another specimen is a problem, none read a warning), require (none read is a problem "
                          "too) or off [the profile's [images] barcode; on in the herbarium profiles]."),
        click.option("--checkers", type=click.IntRange(0, 64), default=2, show_default=True,
                     help="Processes decoding images and reading barcodes (0: in this process)."),
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


DEFAULT_MEDIA_CACHE = Path("depot-media-cache")


def planned_records(**options: Any) -> tuple[Any, Any]:
    """Open the source and the profile; returns (profile, iterator of PlannedRecord); see planned_source."""
    opened = planned_source(**options)
    return opened.profile, opened.records


@dataclass
class PlannedSource:
    profile: Any
    records: Generator[PlannedRecord, None, None]  # one pass: closes the source at its end (or at close())
    keys: Callable[[], Iterator[tuple[str, int | None]]]  # a fresh key-only pass at each call, before records
    warm: Callable[[], None]  # start the image checkers' processes now (they start with the records otherwise)
    stop_checkers: Callable[[], None]  # for a run that ends before its records are read


def planned_source(source: Path, kind: str | None, images: Path | None, path_template: str | None,
                   key_term: str | None, columns: tuple[str, ...], delimiter: str | None, profile_name: str,
                   profile_vars: tuple[str, ...], limit: int | None, header: bool | None = None,
                   encoding: str | None = None, quoted: bool | None = None, data_license: str | None = None,
                   recursive: bool = False, group_pattern: str | None = None, fetch_media: bool = False,
                   media_cache: Path | None = None, barcode: str | None = None, checkers: int = 2,
                   check_cache: Any = None, checksums: tuple[Path, ...] = ()) -> PlannedSource:
    """Open the source and the profile: the records, and the keys alone (depot.deposit.keyscan).

    With ``fetch_media`` the media URLs that have no local file are downloaded first (one extra pass over
    the source), so that the records can name the downloaded files. ``checksums``: the dataset's checksum
    files (depot.deposit.sources.checksums), which its images are checked against.
    """
    import itertools

    from depot.deposit.profiles import load_profile
    from depot.deposit.sources import MediaCache, open_source

    profile = load_profile(profile_name, overrides={str(k): v for k, v in _pairs(profile_vars, "--var").items()})
    from depot.deposit.sources.checksums import load as load_checksums

    sums = load_checksums(list(checksums), images) if checksums else None  # read before the source: a bad one exits 2
    if sums is None and images is not None:
        _hint_checksums(images)
    # Absolute paths: a relative --images would otherwise be taken relative to the source's own folder.
    options: dict[str, Any] = {
        "kind": kind, "images": images.resolve() if images else None, "path_template": path_template,
        "key_term": key_term, "columns": _pairs(columns, "--column") or None, "delimiter": delimiter,
        "header": header, "encoding": encoding, "quoted": quoted, "data_license": data_license,
        "recursive": recursive, "group_pattern": group_pattern}
    cache: MediaCache | None = None
    if fetch_media:
        cache_dir = (media_cache or DEFAULT_MEDIA_CACHE).resolve()
        _fetch(source.resolve(), options, cache_dir, limit)
        cache = MediaCache(cache_dir)
    elif media_cache is not None:
        raise ConfigError("--media-cache is used only with --fetch-media")
    src = open_source(source.resolve(), require_local=True, media_cache=cache, **options)

    from dataclasses import replace

    from depot.deposit.checked import with_checks
    from depot.deposit.images import FileChecker, parse_barcode_mode

    rules = profile.images if barcode is None else replace(profile.images, barcode=parse_barcode_mode(barcode))

    checker = FileChecker(rules, processes=checkers, cache=check_cache)

    def records() -> Generator[PlannedRecord, None, None]:
        # Closing the source removes the unpacked copy of a zipped archive; closing the checker its workers.
        # A file's check is cached in the ledger by its identity (check_cache), so a rerun decodes nothing.
        with src, checker:
            specimens: Iterator[Specimen] = itertools.islice(src, limit)
            if sums is not None:
                specimens = map(sums.attach, specimens)
            for specimen, checks in with_checks(specimens, checker):
                yield profile.apply(specimen, images={c.path: c for c in checks})

    def keys() -> Iterator[tuple[str, int | None]]:
        return itertools.islice(src.keys(), limit)

    return PlannedSource(profile, records(), keys, checker.warm, checker.close)


def _hint_checksums(images: Path) -> None:
    """Say so when the image folder, or the folder above it, holds what looks like a checksum file that
    --checksums was not given: the check it makes is the one that catches a swapped image that decodes."""
    from depot.deposit.sources.checksums import likely_checksum_files

    found = likely_checksum_files([images, images.resolve().parent])
    if found:
        click.echo(f"note: {', '.join(str(p) for p in found)} look{'s' if len(found) == 1 else ''} like a checksum "
                   f"file; pass --checksums {found[0]} to check every image against it before anything is sent",
                   err=True)


def _fetch(source: Path, options: dict[str, Any], cache_dir: Path, limit: int | None) -> None:
    """Read the source once, downloading the media URLs that --images does not hold into the cache."""
    import itertools

    from depot.deposit.sources import MediaCache, open_source
    from depot.deposit.sources.fetch import fetch_media

    misses: list[str] = []
    with open_source(source, media_cache=MediaCache(cache_dir, on_miss=misses.append), **options) as scan:

        def urls() -> Iterator[str]:
            for _ in itertools.islice(scan, limit):  # reading a specimen looks its URLs up in the cache
                yield from misses
                misses.clear()

        click.echo(f"fetching media into {cache_dir} ...", err=True)
        summary = fetch_media(urls(), cache_dir)
    click.echo(f"media: {summary.downloaded} downloaded ({summary.bytes / 1e6:.1f} MB), {summary.failed} failed "
               f"(each is a problem of its specimen); the others were already in {cache_dir}", err=True)


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
    except BrokenPipeError:
        # The reader went away (`depot report | head`): as other command-line tools, stop quietly. Point
        # stdout at /dev/null so that Python's flush at exit does not fail on the closed pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = ExitCode.OK
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
