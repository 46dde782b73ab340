"""``depot serve`` and ``depot repo ...``: run the repository and administer it without a browser."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from depot.repository.config import RepositoryConfig, from_env
from depot.repository.errors import RepositoryError, ValidationError
from depot.repository.services.logos import MAX_BYTES as MAX_LOGO_BYTES

if TYPE_CHECKING:  # imported when used: the database layer is half of every `depot` command's start-up
    from depot.repository.services.accounts import AccountService


def describe(exc: RepositoryError) -> str:
    """A one-line message for the terminal, with the field errors a ValidationError carries."""
    if isinstance(exc, ValidationError) and exc.errors:
        return "; ".join(f"{e.field}: {' '.join(e.messages)}" for e in exc.errors)
    return exc.message


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def private_files() -> None:
    """Files and folders this process creates are its owner's alone (0600 and 0700): the database holds
    token hashes and unpublished drafts, the file store unpublished files."""
    os.umask(0o077)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, envvar="DEPOT_HOST", help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, envvar="DEPOT_PORT", help="Port to listen on.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the database and files [env DEPOT_DATA_DIR; default ./depot-data].")
@click.option("--db", "db_url", default=None, help="Database URL, e.g. postgresql://user@host/db [env DEPOT_DB_URL].")
@click.option("--base-url", default=None,
              help="Public base URL for links [env DEPOT_BASE_URL; default http://HOST:PORT].")
@click.option("--doi-prefix", default=None, help="DOI prefix [default 10.5072].")
@click.option("--rate-limit", "rate_limit", default=None, metavar="PER_MIN[/PER_HOUR]",
              help="User rate limit, e.g. 100/5000 (Zenodo's default); 0 disables.")
@click.option("--search-rate-limit", type=int, default=None, help="Record searches per minute [30]; 0 disables.")
@click.option("--faults", "fault_profile", default=None, metavar="PROFILE", envvar="DEPOT_FAULTS",
              help="Inject failures from a fault profile (a shipped name such as zenodo-2019, or a TOML file); "
                   "injected faults are logged to DATA_DIR/faults.log.")
@click.option("--fault-scale", type=float, default=None, envvar="DEPOT_FAULT_SCALE",
              help="Multiply every fault probability of the profile.")
@click.option("--access-log", "access_log", default=None, metavar="PATH",
              help="Append one JSON line per request to PATH ('-' for standard error), at any log level "
                   "[env DEPOT_ACCESS_LOG]. Without it, uvicorn's text access log shows at --log-level info.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True, envvar="DEPOT_WORKERS",
              help="Web worker processes on one port. More than 1 needs a PostgreSQL --db, a shared "
                   "--rate-limit-storage (or no rate limits) and queue workers (`depot worker`) for the bags.")
@click.option("--rate-limit-storage", default=None, metavar="URL",
              help="Where rate limits are counted: memory:// (this process) or redis://HOST:PORT/DB (shared by "
                   "every worker and machine) [env DEPOT_RATE_LIMIT_STORAGE; default memory://].")
@click.option("--queue", "queue_url", default=None, metavar="URL",
              help="Job queue (PostgreSQL URL) for bags and the fixity cycle, run by `depot worker` [env "
                   "DEPOT_QUEUE_URL; default: in this process, or the --db database when --workers > 1].")
@click.option("--log-level", default="warning", show_default=True, envvar="DEPOT_LOG_LEVEL",
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(host: str, port: int, data_dir: Path | None, db_url: str | None, base_url: str | None,
          doi_prefix: str | None, rate_limit: str | None, search_rate_limit: int | None,
          fault_profile: str | None, fault_scale: float | None, access_log: str | None, workers: int,
          rate_limit_storage: str | None, queue_url: str | None, log_level: str) -> None:
    """Run the Zenodo-compatible repository (an ASGI server)."""
    import uvicorn

    from depot.repository.app import create_app

    private_files()
    _log_to_stderr(log_level)
    per_minute = per_hour = None
    if rate_limit is not None:
        try:
            parts = [int(p) for p in rate_limit.split("/")]
        except ValueError:
            raise click.BadParameter("expected PER_MIN or PER_MIN/PER_HOUR, e.g. 100/5000",
                                     param_hint="--rate-limit") from None
        per_minute, per_hour = parts[0], (parts[1] if len(parts) > 1 else 0)
    try:
        config = from_env(data_dir=data_dir, db_url=db_url, base_url=base_url, doi_prefix=doi_prefix,
                          user_limit_per_minute=per_minute, user_limit_per_hour=per_hour,
                          search_limit_per_minute=search_rate_limit, access_log=access_log,
                          rate_limit_storage=rate_limit_storage, queue_url=queue_url,
                          defaults={"base_url": f"http://{host}:{port}"})
    except ValueError as exc:  # a DEPOT_* number that is not one
        raise click.ClickException(str(exc)) from exc
    if workers > 1:
        config = _several_workers(config, workers)
    faults = None
    if fault_profile is not None:
        from dataclasses import replace

        from depot.repository.faults.profile import FaultProfileError, load

        try:
            faults = load(fault_profile)
        except FaultProfileError as exc:
            raise click.BadParameter(str(exc), param_hint="--faults") from exc
        if fault_scale is not None:
            faults = replace(faults, scale=fault_scale)
    try:
        app = create_app(config, faults=faults)  # in a multi-worker server: migrates and checks, once
    except Exception as exc:  # a broken database URL or unwritable data dir: say so plainly
        raise click.ClickException(f"cannot start the repository: {exc}") from exc
    options = {"host": host, "port": port, "log_level": log_level, "http": "httptools", "loop": "uvloop",
               "timeout_keep_alive": config.keep_alive_seconds,
               "access_log": config.access_log is None and log_level in {"info", "debug"}}
    if workers == 1:
        click.echo(f"depot repository on {config.base_url} (data in {config.data_dir})", err=True)
        # uvicorn stops gracefully on SIGTERM, then raises the signal again under the handler it found: the
        # default one killed the process before its exit hooks ran (the bag writer's multiprocessing left
        # its temporary folder behind). Once uvicorn is done, a SIGTERM ends the process normally (0).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        uvicorn.run(app, **options)  # type: ignore[arg-type]
        return
    app.context.deposits.db.dispose()
    app.context.jobs.stop()
    os.environ[WORKER_STATE] = orjson.dumps({
        "config": {**dataclasses.asdict(config), "data_dir": str(config.data_dir)}, "log_level": log_level,
        "faults": fault_profile, "fault_scale": fault_scale}).decode()
    click.echo(f"depot repository on {config.base_url} (data in {config.data_dir}), {workers} worker processes; "
               f"jobs queued for `depot worker` on {_host_of(config.queue_url)}", err=True)
    uvicorn.run("depot.repository.cli:worker_app", factory=True, workers=workers, **options)  # type: ignore[arg-type]


WORKER_STATE = "DEPOT_SERVE_WORKER_STATE"


def _host_of(url: str | None) -> str:
    return (url or "").rsplit("@", 1)[-1]


def _several_workers(config: RepositoryConfig, workers: int) -> RepositoryConfig:
    """The config for ``--workers N`` (N > 1), or a ClickException naming what to change."""
    if config.database_url.startswith("sqlite"):
        raise click.ClickException(
            f"--workers {workers} needs a PostgreSQL database (--db postgresql://USER@HOST/DB): SQLite lets one "
            "process write at a time. Run one worker on SQLite, or move the repository to PostgreSQL.")
    limited = config.user_limit_per_minute > 0 or config.user_limit_per_hour > 0 or config.search_limit_per_minute > 0
    if limited and config.rate_limit_storage.startswith("memory"):
        raise click.ClickException(
            f"--workers {workers} with rate limits counted in memory would give each worker a limit of its own "
            f"({workers} times the limit in all): pass --rate-limit-storage redis://HOST:PORT/DB (shared), or "
            "turn the limits off with --rate-limit 0 --search-rate-limit 0.")
    if config.queue_url is None:  # bags and the fixity cycle go to the queue workers, never N threads
        config = config.with_overrides(queue_url=config.database_url)
    return config


def worker_app() -> Any:
    """The app of one web worker of ``depot serve --workers N`` (uvicorn calls this in each process)."""
    from depot.repository.app import create_app

    state = orjson.loads(os.environ[WORKER_STATE])
    _log_to_stderr(state["log_level"])
    values = state["config"]
    config = RepositoryConfig(**{**values, "data_dir": Path(values["data_dir"])})
    faults = None
    if state["faults"] is not None:
        from dataclasses import replace

        from depot.repository.faults.profile import load

        faults = load(state["faults"])
        if state["fault_scale"] is not None:
            faults = replace(faults, scale=state["fault_scale"])
    return create_app(config, faults=faults)


@click.command("worker")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The repository's data directory (shared with the web workers) [env DEPOT_DATA_DIR].")
@click.option("--db", "db_url", default=None, help="The repository's database URL [env DEPOT_DB_URL].")
@click.option("--queue", "queue_url", default=None, metavar="URL",
              help="The job queue's PostgreSQL URL [env DEPOT_QUEUE_URL; default: the --db database].")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Jobs this process runs at once (in threads).")
@click.option("--burst", is_flag=True, help="Run until the queue is empty, then exit (scripts and tests).")
@click.option("--log-level", default="warning", show_default=True, envvar="DEPOT_LOG_LEVEL",
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def worker(data_dir: Path | None, db_url: str | None, queue_url: str | None, concurrency: int, burst: bool,
           log_level: str) -> None:
    """Run queue jobs (bags, the fixity cycle) for `depot serve` processes whose queue_url names a
    PostgreSQL queue; start as many as you like, on any machine that sees the database and DATA_DIR."""
    from depot.repository.app import build_context
    from depot.repository.jobs.pg import run_worker
    from depot.repository.preservation.service import of as preservation_of

    private_files()
    _log_to_stderr(log_level)
    try:
        config = from_env(data_dir=data_dir, db_url=db_url, queue_url=queue_url)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if config.queue_url is None:
        if config.db_url is None or not config.db_url.startswith("postgres"):
            raise click.ClickException("no job queue: pass --queue postgresql://... (or --db with a PostgreSQL "
                                       "database, which then holds the queue too); without one, `depot serve` "
                                       "runs its jobs itself")
        config = config.with_overrides(queue_url=config.db_url)
    # A queue worker is already a process beside the web workers: it writes its bags itself.
    config = config.with_overrides(bag_processes=0)
    try:
        ctx = build_context(config)
    except Exception as exc:
        raise click.ClickException(f"cannot start the worker: {exc}") from exc
    keeper = preservation_of(ctx)
    queue = config.queue_url
    assert queue is not None

    def on_start() -> None:
        from depot.repository.bulk.worker import resume_open_jobs

        if keeper is not None:
            keeper.start_worker()
        resume_open_jobs(ctx)

    click.echo(f"depot worker on {queue.rsplit('@', 1)[-1]} (data in {config.data_dir})", err=True)
    try:
        run_worker(ctx, queue, concurrency=concurrency, wait=not burst,
                   on_start=None if burst else on_start)
    finally:
        ctx.jobs.stop()
        ctx.deposits.db.dispose()


def _log_to_stderr(level: str) -> None:
    """The repository's own messages (``depot.*`` loggers) at ``level``, formatted as uvicorn's."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    logger = logging.getLogger("depot")
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


@click.group("repo")
def repo() -> None:
    """Administer a repository's data directory: tokens, communities, withdrawals, audits, rebuilds."""
    private_files()


def _services(data_dir: Path | None, db_url: str | None) -> AccountService:
    from depot.repository.services.accounts import AccountService
    from depot.repository.store.db import Database

    config = from_env(data_dir=data_dir, db_url=db_url)
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = Database.open(config.database_url)
    accounts = AccountService(db)
    if config.bags:  # the users and token hashes a rebuild from bags needs (preservation/accounts.py)
        from depot.repository.preservation.accounts import AccountsSidecar, sidecar_path

        accounts.on_change.append(AccountsSidecar(db, sidecar_path(config.data_dir), fsync=config.fsync))
    return accounts


@repo.command("create-token")
@click.argument("email")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--db", "db_url", default=None)
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@click.option("--scope", "scope_names", multiple=True, metavar="SCOPE",
              help="A scope of the token, as Zenodo's: deposit:write (create and change depositions and their "
                   "files), deposit:actions (publish, edit, discard, new version), user:email. Repeatable. "
                   "[default: deposit:write and deposit:actions]")
def create_token(email: str, data_dir: Path | None, db_url: str | None, name: str,
                 scope_names: tuple[str, ...]) -> None:
    """Create the user EMAIL if needed and print a new personal access token (only the token)."""
    from depot.repository.services import scopes

    try:
        chosen = scopes.parse(scope_names) if scope_names else frozenset(scopes.DEFAULT)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scope") from exc
    try:
        token = _services(data_dir, db_url).create_token(email, _now(), name, chosen)
    except RepositoryError as exc:
        raise click.ClickException(describe(exc)) from exc
    sys.stdout.write(token + "\n")


@repo.command("create-community")
@click.argument("identifier")
@click.option("--owner", required=True, help="E-mail of the owner (created if needed).")
@click.option("--title", default="", help="Display title.")
@click.option("--description", default="", help="Shown on the community page; limited HTML (sanitised).")
@click.option("--logo", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A PNG, JPEG, GIF or WebP image of at most 512 kB, shown on the community page.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--db", "db_url", default=None)
def create_community(identifier: str, owner: str, title: str, description: str, logo: Path | None,
                     data_dir: Path | None, db_url: str | None) -> None:
    """Create a community IDENTIFIER (its slug) owned by --owner; prints its id."""
    logo_bytes = None
    if logo is not None:
        if logo.stat().st_size > MAX_LOGO_BYTES:
            raise click.ClickException(f"--logo {logo}: {logo.stat().st_size} bytes; a logo is at most "
                                       f"{MAX_LOGO_BYTES} bytes (512 kB)")
        logo_bytes = logo.read_bytes()
    try:
        community = _services(data_dir, db_url).create_community(identifier, title, owner, _now(),
                                                                 description=description, logo=logo_bytes)
    except RepositoryError as exc:
        message = describe(exc)
        raise click.ClickException(message.replace("logo: ", f"--logo {logo}: ") if logo else message) from exc
    sys.stdout.write(community.id + "\n")


@repo.command("withdraw")
@click.argument("recid", type=int)
@click.option("--reason", required=True, help="Why (shown on the tombstone page), e.g. 'Takedown request 2026-11'.")
@click.option("--all-versions", is_flag=True, help="Withdraw every version of the record's concept.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--db", "db_url", default=None)
def withdraw(recid: int, reason: str, all_versions: bool, data_dir: Path | None, db_url: str | None) -> None:
    """Withdraw the published record RECID (a takedown): its DOI resolves to a tombstone page (410), its
    files and metadata are no longer served or searchable, and OAI-PMH announces it as deleted. Nothing is
    erased: the files, the database row and the bags stay. Prints the withdrawn record ids."""
    from depot.repository.app import build_context
    from depot.repository.preservation.service import of as preservation_of

    config = from_env(data_dir=data_dir, db_url=db_url)
    ctx = build_context(config)
    try:
        ids = ctx.records.withdraw(recid, reason, concept=all_versions)
        keeper = preservation_of(ctx)
        if keeper is not None and keeper.bags is not None:
            for rid in ids:  # the AIP records the withdrawal too: a rebuild from bags keeps the tombstone
                keeper.bags.write(rid)
    except RepositoryError as exc:
        raise click.ClickException(describe(exc)) from exc
    finally:
        ctx.deposits.db.dispose()
    if not ids:
        click.echo(f"record {recid} was already withdrawn", err=True)
    for rid in ids:
        sys.stdout.write(f"{rid}\n")


@repo.command("audit")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--db", "db_url", default=None)
@click.option("--mb-per-s", type=float, default=0, show_default=True, help="Cap the read rate (0: no cap).")
@click.option("--bags", "check_bags", is_flag=True, help="Also fully validate every bag under DATA_DIR/bags.")
@click.option("--repair", is_flag=True,
              help="Restore each damaged or missing file from a verified copy in DATA_DIR/bags.")
def audit(data_dir: Path | None, db_url: str | None, mb_per_s: float, check_bags: bool, repair: bool) -> None:
    """Re-hash every stored file against its md5 and sha256; list mismatches and missing files.

    Exits 1 when any file is missing, unreadable or changed (or, with --bags, a bag is invalid); with
    --repair, only when some file could not be restored (each is listed REPAIRED or UNREPAIRED). The run
    and its problems are kept in the database (shown at GET /api/admin/fixity)."""
    from depot.repository.preservation.audit import Auditor
    from depot.repository.preservation.audit import where_used as where_used_
    from depot.repository.preservation.healing import Healer, Repair
    from depot.repository.store.blobs import BlobStore
    from depot.repository.store.db import Database

    config = from_env(data_dir=data_dir, db_url=db_url)
    db = Database.open(config.database_url)
    repairs: list[Repair] = []
    try:
        blobs, clock = BlobStore(config.data_dir, fsync=config.fsync), lambda: datetime.now(UTC)
        report = Auditor(db, blobs, clock).full(mb_per_s=mb_per_s)
        with db.read() as conn:
            used = where_used_(conn, [p.file_id for p in report.problems])
        if repair:
            repairs = Healer(db, blobs, config.data_dir / "bags", clock).repair_all(
                [p.file_id for p in report.problems], report.run_id)
    finally:
        db.dispose()
    for p in report.problems:
        held = ", ".join(f"record {u['recid']} {u['key']!r}" for u in used.get(p.file_id, [])) or "no record"
        click.echo(f"{p.status.upper()}\t{p.file_id}\t{held}\t{p.detail}")
    for r in repairs:
        click.echo(f"{'REPAIRED' if r.repaired else 'UNREPAIRED'}\t{r.file_id}\t{r.detail}")
    click.echo(f"audit run {report.run_id}: {report.files} file(s), {report.bytes / 1e6:.1f} MB in "
               f"{report.seconds:.2f} s ({report.mb_per_s:.0f} MB/s); {len(report.problems)} problem(s)", err=True)
    unrepaired = [r for r in repairs if not r.repaired] if repair else report.problems
    if repair and report.problems:
        click.echo(f"repaired {len(repairs) - len(unrepaired)} of {len(repairs)} file(s) from the bags", err=True)
    bad_bags = 0
    if check_bags:
        from depot.repository.preservation.bags import audit_bags

        results = list(audit_bags(config.data_dir / "bags"))
        for bag, reason in results:
            if reason is not None:
                bad_bags += 1
                click.echo(f"BAG\t{bag}\t{reason}")
        click.echo(f"bags: {len(results)} checked, {bad_bags} invalid", err=True)
    if unrepaired or bad_bags:
        sys.exit(1)


@repo.command("sweep")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--db", "db_url", default=None)
@click.option("--remove", is_flag=True, help="Delete the stray files older than --min-age-hours.")
@click.option("--min-age-hours", type=click.FloatRange(min=1), default=24, show_default=True,
              help="Only files older than this are removed: a younger one may belong to a transaction still "
                   "running (the repository may be serving meanwhile).")
def sweep(data_dir: Path | None, db_url: str | None, remove: bool, min_age_hours: float) -> None:
    """List the stored files that no file names (what a kill -9 between storing a file and committing it
    leaves); with --remove, delete those older than --min-age-hours. Safe while the repository serves."""
    from depot.repository.store import strays
    from depot.repository.store.db import Database

    config = from_env(data_dir=data_dir, db_url=db_url)
    root = config.data_dir / "files"
    if not root.is_dir():
        raise click.ClickException(f"no stored files in {config.data_dir} (no {root} folder): check --data-dir "
                                   "or DEPOT_DATA_DIR")
    if config.db_url is None and not (config.data_dir / "repository.sqlite3").is_file():
        raise click.ClickException(f"no repository database in {config.data_dir}: check --data-dir, or give "
                                   "--db if the repository runs on PostgreSQL")
    db = Database.open(config.database_url)
    counts = strays.Sweep()
    try:
        if remove and not strays.names_any(db):  # the wrong database would make every stored file a stray
            raise click.ClickException(f"the database {config.database_url.split('@')[-1]} names no stored "
                                       f"file at all, while {root} holds files: is it this repository's? "
                                       "Nothing was removed")
        found = []
        for stray in strays.find(db, root, counts):
            when = datetime.fromtimestamp(stray.mtime, UTC).isoformat(timespec="seconds")
            click.echo(f"STRAY\t{stray.uri}\t{stray.size}\t{when}")
            found.append(stray)
        removed = list(strays.remove(db, root, found, min_age_s=min_age_hours * 3600, sweep=counts)) \
            if remove else []
    finally:
        db.dispose()
    for stray in removed:
        click.echo(f"REMOVED\t{stray.uri}\t{stray.size}")
    summary = (f"sweep: {counts.files} stored file(s) looked at, {counts.strays} stray "
               f"({counts.stray_bytes / 1e6:.1f} MB)")
    if remove:
        summary += (f"; removed {counts.removed} ({counts.removed_bytes / 1e6:.1f} MB) older than "
                    f"{min_age_hours:g} h, kept {counts.strays - counts.removed} younger or named since")
    elif counts.strays:
        summary += f"; give --remove to delete those older than {min_age_hours:g} h"
    click.echo(summary, err=True)


@repo.command("rebuild")
@click.option("--from-bags", "source", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A bags directory (DATA_DIR/bags of the old repository: <recid>/<bag>/).")
@click.option("--data-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The new, empty data directory.")
@click.option("--db", "db_url", default=None, help="Database URL for the new repository (must be empty).")
@click.option("--no-validate", is_flag=True, help="Skip the full validation of each bag (checksums still compared).")
@click.option("--files", "files_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="The old repository's file store (its DATA_DIR/files), searched for good copies of files "
                   "a damaged bag lost.  [default: files/ beside the bags directory, if there]")
@click.option("--accounts", "accounts_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None,
              help="The old repository's accounts sidecar (its DATA_DIR/admin/accounts.json: users and token "
                   "hashes, never in a bag), so that records go back to their owners and old tokens keep "
                   "working.  [default: admin/accounts.json beside the bags directory, if there]")
def rebuild(source: Path, data_dir: Path, db_url: str | None, no_validate: bool, files_dir: Path | None,
            accounts_file: Path | None) -> None:
    """Rebuild a working repository from bags alone: records, versions, DOIs, files, communities, and
    (from the admin-only accounts sidecar) users and tokens.

    A bag with a damaged payload file is still used when its description is intact: that file is taken
    from another bag or the old file store, checked against the bag's checksums. Exits 1 if some record
    had no valid bag or a file with no good copy anywhere (the others are rebuilt)."""
    from depot.repository.preservation.rebuild import RebuildError
    from depot.repository.preservation.rebuild import rebuild as rebuild_

    config = from_env(data_dir=data_dir, db_url=db_url)
    try:
        report = rebuild_(source, config, validate=not no_validate, files_dir=files_dir,
                          accounts_file=accounts_file)
    except RebuildError as exc:
        raise click.ClickException(str(exc)) from exc
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for problem in report.problems:
        click.echo(f"passed over: {problem}", err=True)
    click.echo(f"rebuilt {report.records} record(s) of {report.concepts} concept(s), {report.files} file(s) "
               f"({report.bytes / 1e6:.1f} MB), {report.communities} communit(y/ies), {report.users} user(s), "
               f"{report.tokens} token(s) in {config.data_dir}", err=True)
    if any(p.startswith("record ") for p in report.problems):
        sys.exit(1)
