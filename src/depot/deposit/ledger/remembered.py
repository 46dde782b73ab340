"""I/O: the target and the source options a ledger remembers (tables ``target``, ``source_options``), and
whether a ledger exists at all."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from depot.deposit.errors import ConfigError
from depot.deposit.ledger.engine import VERSION_TABLE
from depot.deposit.ledger.states import DONE, State
from depot.deposit.ledger.tables import source_options, specimens, target
from depot.deposit.ledger.values import now_iso
from depot.deposit.links import server_path


@dataclass(frozen=True)
class RememberedTarget:
    """What ``--target`` was (local, zenodo, sandbox or an API URL), and the repository folder for local."""

    name: str
    repo_dir: Path | None = None
    api: str | None = None  # legacy or rdm, as --api chose or detected it; None: not known yet

    def describe(self) -> str:
        return f"local (repository in {self.repo_dir})" if self.name == "local" else self.name


def read_target(engine: sa.Engine) -> RememberedTarget | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(target.c.name, target.c.repo_dir, target.c.api)
                           .where(target.c.id == 1)).first()
    if row is None:
        return None
    return RememberedTarget(row.name, Path(row.repo_dir) if row.repo_dir else None, row.api or None)


def write_target(conn: sa.Connection, remembered: RememberedTarget) -> None:
    values = {"name": remembered.name, "repo_dir": str(remembered.repo_dir) if remembered.repo_dir else None,
              "remembered_at": now_iso(), "api": remembered.api}
    if conn.execute(target.update().where(target.c.id == 1).values(**values)).rowcount == 0:
        conn.execute(target.insert().values(id=1, **values))


def read_options(engine: sa.Engine) -> dict[str, Any] | None:
    """The source options the ledger remembers (depot.deposit.source_options); None: none yet."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(source_options.c.options).where(source_options.c.id == 1)).first()
    return dict(row.options) if row is not None and isinstance(row.options, dict) else None


def write_options(conn: sa.Connection, options: dict[str, Any]) -> None:
    values = {"options": options, "remembered_at": now_iso()}
    if conn.execute(source_options.update().where(source_options.c.id == 1).values(**values)).rowcount == 0:
        conn.execute(source_options.insert().values(id=1, **values))


# A specimen that may be on the target: a deposit made or a create whose answer was lost, in a bulk batch
# (sent, or about to be), or published. A ledger with none has never sent anything.
SENT = sa.or_(specimens.c.deposition_id.is_not(None), specimens.c.record_id.is_not(None),
              specimens.c.batch_id.is_not(None),
              specimens.c.state.in_((State.UNCERTAIN, State.BATCHED, *DONE)))


def has_sent(engine: sa.Engine) -> bool:
    """Whether any specimen may be on the target (``SENT``)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.literal(1)).where(sa.exists().where(SENT))).first() is not None


class LedgerMissing(ConfigError):
    """Raised when a command that only reads a ledger is given one that does not exist (exit USAGE)."""


@dataclass(frozen=True)
class Sample:
    """One deposit the ledger knows on its server: a repository that holds it is the ledger's repository."""

    key: str
    deposition_id: int
    doi: str | None
    title: str | None
    bucket: str | None  # the bucket's path: its UUID is unique to one server, where ids and DOIs may repeat


def sample_deposit(engine: sa.Engine) -> Sample | None:
    """A specimen the ledger knows on the server, published ones first."""
    published = sa.case((specimens.c.state.in_(("published", "verified")), 0), else_=1)
    with engine.connect() as conn:
        row = conn.execute(sa.select(specimens.c.key, specimens.c.deposition_id, specimens.c.doi,
                                     specimens.c.metadata, specimens.c.bucket_url)
                           .where(specimens.c.deposition_id.is_not(None))
                           .order_by(published, specimens.c.seq).limit(1)).first()
    if row is None:
        return None
    title = (row.metadata or {}).get("title") if isinstance(row.metadata, dict) else None
    return Sample(row.key, int(row.deposition_id), row.doi, title, server_path(row.bucket_url))


def missing(path_or_url: str) -> LedgerMissing:
    return LedgerMissing(f"no ledger at {path_or_url}: it does not exist (check --ledger; `depot run` creates "
                       "a ledger, this command only reads one)")


def check_exists(path_or_url: str, url: str) -> None:
    """Raise a ConfigError unless ``path_or_url`` holds a Depot ledger; never creates or changes anything
    (a SQLite file is looked at read-only, before the engine would switch it to WAL)."""
    if url.startswith("sqlite"):
        db = sa.engine.make_url(url).database
        if not db or db == ":memory:":
            return
        if Path(db).is_dir():
            raise ConfigError(f"{path_or_url} is a folder, not a ledger file; check --ledger")
        if not Path(db).is_file() or Path(db).stat().st_size == 0:
            raise missing(path_or_url)
        try:
            with contextlib.closing(sqlite3.connect(Path(db).as_uri() + "?mode=ro", uri=True)) as conn:
                names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.Error as exc:
            raise ConfigError(f"{path_or_url} is not a Depot ledger ({exc}); check --ledger") from exc
        if not names:  # a run killed while it created the ledger leaves a database with no table yet
            raise missing(path_or_url)
        found = VERSION_TABLE in names
    else:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                found = sa.inspect(conn).has_table(VERSION_TABLE)
        except sa.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise ConfigError(f"cannot open the ledger {path_or_url}: {reason}") from exc
        finally:
            engine.dispose()
        if not found:  # a database without a ledger in it: as a missing file
            raise missing(path_or_url)
    if not found:
        raise ConfigError(f"{path_or_url} is not a Depot ledger (no ledger tables in it); check --ledger")
