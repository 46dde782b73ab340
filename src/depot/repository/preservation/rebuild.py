"""Rebuild a working repository from its bags alone (``depot repo rebuild --from-bags DIR --data-dir NEW``).

For every record the newest bag that validates is read: ``metadata/depot-aip.json`` gives the ids, the
version chain, DOIs, owner ids, files with their checksums and community inclusions; ``data/`` gives the
bytes, re-stored through the BlobStore and checked against the manifest. Ids are kept (record, concept,
file, bucket, community), so every URL and DOI of the old repository resolves the same in the new one.

Bags hold no personal data, so users and tokens come from the admin-only accounts sidecar
(``accounts.py``, ``admin/accounts.json`` beside the bags directory): users keep their ids and e-mails,
tokens their hashes and scopes, so records go back to their owners and old tokens keep working. Without a
sidecar, or for an owner it does not list, nothing is invented: the owner becomes a placeholder user
``user-<id>@rebuilt.invalid`` owning the same records. Open drafts and unpublished deposits are gone;
fixity history and usage statistics start afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bagit
import orjson
import sqlalchemy as sa

from depot.repository.config import RepositoryConfig
from depot.repository.preservation import bagspec
from depot.repository.preservation.accounts import Accounts, AccountsSidecar, SidecarError, default_for, sidecar_path
from depot.repository.preservation.accounts import read as read_accounts
from depot.repository.preservation.bags import bags_of
from depot.repository.preservation.healing import bag_candidates, manifest_sums
from depot.repository.services.facets import facet_values
from depot.repository.services.search import write_terms
from depot.repository.services.views import utcnow_iso
from depot.repository.store.blobs import BlobStore, StoredBlob
from depot.repository.store.db import Database
from depot.repository.store.tables import (
    communities,
    community_records,
    concepts,
    deposits,
    file_instances,
    objects,
    pids,
    terms,
    tokens,
    users,
)

log = logging.getLogger("depot.repository.rebuild")


class RebuildError(Exception):
    """The target is not empty, or no usable bag was found."""


@dataclass
class Found:
    bag: Path
    aip: dict[str, Any]


@dataclass
class RebuildReport:
    records: int = 0
    concepts: int = 0
    files: int = 0
    bytes: int = 0
    communities: int = 0
    users: int = 0  # users of the accounts sidecar restored with their e-mail
    tokens: int = 0  # tokens of the sidecar restored (their hashes and scopes)
    placeholders: int = 0  # owners the sidecar did not list (or with no sidecar): user-<id>@rebuilt.invalid
    problems: list[str] = field(default_factory=list)  # bags that failed validation and were passed over
    notes: list[str] = field(default_factory=list)  # damaged bags used, files taken from elsewhere


def tags_intact(bag: Path) -> bool:
    """Every tag file (AIP, record, manifests) is present and matches ``tagmanifest-sha256.txt``: the bag's
    description is sound even if some payload file rotted (those are then taken from elsewhere)."""
    try:
        sums = manifest_sums(bag, "sha256", tag=True)
        return bool(sums) and all(hashlib.sha256((bag / path).read_bytes()).hexdigest() == digest
                                  for path, digest in sums.items())
    except OSError:
        return False


def choose_bags(source: Path, *, validate: bool, report: RebuildReport) -> list[Found]:
    """The newest usable bag of every record under ``source`` (``<recid>/<bag>/``), by concept and version.

    A bag whose payload failed validation but whose tag files are intact is used (noted in the report):
    its files are then restored from the other bags or the old file store, checked against the AIP."""
    found: list[Found] = []
    recids = sorted(int(p.name) for p in source.iterdir() if p.is_dir() and p.name.isdigit())
    for recid in recids:
        for bag in reversed(bags_of(source, recid)):
            try:
                if validate:
                    try:
                        bagit.Bag(str(bag)).validate()
                    except bagit.BagError as exc:
                        if not tags_intact(bag):
                            raise
                        report.notes.append(f"{bag}: damaged payload ({_first_detail(exc)}); "
                                               "good copies are taken from other bags or the file store")
                aip = orjson.loads((bag / bagspec.AIP_FILE).read_bytes())
                if aip.get("schema") != bagspec.AIP_SCHEMA:
                    raise RebuildError(f"unknown AIP schema {aip.get('schema')!r}")
            except (bagit.BagError, OSError, ValueError, RebuildError) as exc:
                report.problems.append(f"{bag}: {exc}")
                continue
            found.append(Found(bag, aip))
            break
        else:
            report.problems.append(f"record {recid}: no valid bag")
    return sorted(found, key=lambda f: (f.aip["record"]["concept_id"], f.aip["record"]["version_index"]))


def _first_detail(exc: bagit.BagError) -> str:
    details = getattr(exc, "details", None) or []
    return str(details[0]) if details else str(exc)


class Copies:
    """Where a payload file may be found, in order: the chosen bag, the other bags under the source
    (newest first), the old repository's file store (by the file id's path, then any file of that size)."""

    def __init__(self, source: Path, files_dir: Path | None) -> None:
        self.source, self.files_dir = source, files_dir
        self.recids = sorted((int(p.name) for p in source.iterdir() if p.is_dir() and p.name.isdigit()),
                             reverse=True)
        self._by_size: dict[int, list[Path]] | None = None

    def of(self, bag: Path, f: dict[str, Any]) -> Iterator[Path]:
        yield bag / "data" / f["key"]
        yield from bag_candidates(self.source, self.recids, f["sha256"])
        if self.files_dir is None:
            return
        fid = str(f["file_id"])
        yield self.files_dir / fid[:2] / fid[2:4] / fid
        yield from self.sized(int(f["size"]))

    def sized(self, size: int) -> list[Path]:
        if self._by_size is None:  # walked once, and only when a file was found nowhere else
            self._by_size = {}
            assert self.files_dir is not None
            for path in self.files_dir.rglob("*"):
                with contextlib.suppress(OSError):
                    if path.is_file():
                        self._by_size.setdefault(path.stat().st_size, []).append(path)
        return self._by_size.get(size, [])


def _store_one(blobs: BlobStore, candidates: Iterator[Path], f: dict[str, Any]) -> tuple[StoredBlob, Path] | None:
    """The first candidate whose bytes match the AIP's size, md5 and sha256, stored; None if none does."""
    tried: set[Path] = set()
    for path in candidates:
        if path in tried:
            continue
        tried.add(path)
        try:
            if path.stat().st_size != int(f["size"]):
                continue
            with path.open("rb") as fh:
                blob = blobs.write_file(fh)
        except OSError:
            continue
        if (blob.size, blob.md5, blob.sha256) == (f["size"], f["md5"], f["sha256"]):
            return blob, path
        blobs.delete(blob.uri)
    return None


def _store_payload(blobs: BlobStore, chosen: list[Found], copies: Copies,
                   report: RebuildReport) -> tuple[list[Found], dict[str, StoredBlob]]:
    """Store every payload file once (a file shared by versions is one file); records one of whose
    files has no good copy anywhere are left out and reported."""
    stored: dict[str, StoredBlob] = {}
    lost: set[str] = set()
    for item in chosen:
        for f in item.aip["files"]:
            if f["file_id"] in stored or f["file_id"] in lost:
                continue
            found = _store_one(blobs, copies.of(item.bag, f), f)
            if found is None:
                lost.add(f["file_id"])
                continue
            blob, path = found
            if path != item.bag / "data" / f["key"]:
                log.warning("%s: %s restored from %s", item.bag, f["key"], path)
                report.notes.append(f"{item.bag}: {f['key']} taken from {path}")
            stored[f["file_id"]] = blob
            report.files += 1
            report.bytes += blob.size
    kept: list[Found] = []
    for item in chosen:
        missing = [f["key"] for f in item.aip["files"] if f["file_id"] in lost]
        if missing:
            report.problems.append(f"record {item.aip['record']['id']}: no good copy of {', '.join(missing)} "
                                   "in any bag or the file store")
        else:
            kept.append(item)
    used = {f["file_id"] for item in kept for f in item.aip["files"]}
    for file_id in [i for i in stored if i not in used]:  # stored for a record that was then left out
        blob = stored.pop(file_id)
        blobs.delete(blob.uri)
        report.files -= 1
        report.bytes -= blob.size
    return kept, stored


def _insert_accounts(conn: sa.Connection, chosen: list[Found], accounts: Accounts | None, now: str,
                     report: RebuildReport) -> None:
    """Every user and token of the sidecar, with their ids; a placeholder for each other owner."""
    owners: set[int] = set()
    for item in chosen:
        owners.add(int(item.aip["record"]["owner_id"]))
        owners.update(int(c["owner_id"]) for c in item.aip["communities"])
    known = {u["id"]: u for u in (accounts.users if accounts else [])}
    rows = [known.get(uid) or {"id": uid, "email": f"user-{uid}@rebuilt.invalid", "created": now}
            for uid in sorted(owners | set(known))]
    if rows:
        conn.execute(users.insert(), rows)
    if accounts and accounts.tokens:
        conn.execute(tokens.insert(), accounts.tokens)
    report.users, report.tokens = len(known), len(accounts.tokens) if accounts else 0
    report.placeholders = len(owners - set(known))


def _insert(conn: sa.Connection, chosen: list[Found], stored: dict[str, StoredBlob], now: str,
            report: RebuildReport, accounts: Accounts | None = None) -> None:
    _insert_accounts(conn, chosen, accounts, now, report)
    seen_concepts: set[int] = set()
    seen_files: set[str] = set()
    membership: dict[tuple[str, int], dict[str, Any]] = {}
    community_rows: dict[str, dict[str, Any]] = {}
    for item in chosen:  # ordered by concept, then version: the newest version's view of a concept wins
        rec, files = item.aip["record"], item.aip["files"]
        concept_id = int(rec["concept_id"])
        if concept_id not in seen_concepts:
            seen_concepts.add(concept_id)
            conn.execute(pids.insert().values(id=concept_id, kind="concept"))
            conn.execute(concepts.insert().values(id=concept_id, owner_id=rec["owner_id"], doi=rec["concept_doi"],
                                                  created=rec.get("concept_created") or rec["created"]))
        conn.execute(pids.insert().values(id=rec["id"], kind="record"))
        conn.execute(deposits.insert().values(
            id=rec["id"], concept_id=concept_id, owner_id=rec["owner_id"], bucket_id=rec["bucket_id"], draft=None,
            record=rec["metadata"], doi=rec["doi"], version_index=rec["version_index"],
            title=rec["metadata"].get("title", ""), created=rec["created"], modified=rec["modified"],
            published=rec["published"], withdrawn=rec.get("withdrawn"),
            withdrawal_reason=rec.get("withdrawal_reason")))
        write_terms(conn, rec["id"], "deposit", rec["metadata"])
        write_terms(conn, rec["id"], "record", rec["metadata"])
        for f in files:
            if f["file_id"] not in seen_files:
                seen_files.add(f["file_id"])
                blob = stored[f["file_id"]]
                conn.execute(file_instances.insert().values(id=f["file_id"], uri=blob.uri, size=blob.size,
                                                            md5=blob.md5, sha256=blob.sha256, created=f["created"]))
            conn.execute(objects.insert().values(bucket_id=rec["bucket_id"], key=f["key"], file_id=f["file_id"],
                                                 version_id=f["version_id"], mimetype=f["mimetype"],
                                                 created=f["created"], updated=f["updated"]))
        facets = facet_values(rec["metadata"], files_enabled=bool(files) or rec.get("files_enabled", True),
                              keys=[f["key"] for f in files])
        if facets:  # as a publish indexes them (services/facets.py): the search's aggregations and filters
            conn.execute(terms.insert(), [{"deposit_id": rec["id"], "scope": "record", "field": f"facet.{facet}",
                                           "value": value} for facet, value in facets])
        for c in item.aip["communities"]:
            community_rows[c["id"]] = c
            membership[(c["id"], concept_id)] = c
        report.records += 1
    for c in community_rows.values():
        conn.execute(communities.insert().values(id=c["id"], slug=c["slug"], title=c["title"],
                                                 owner_id=c["owner_id"], created=c["created"]))
    for (community_id, concept_id), c in membership.items():
        conn.execute(community_records.insert().values(community_id=community_id, concept_id=concept_id,
                                                       status=c["status"], created=c["included"]))
    report.concepts, report.communities = len(seen_concepts), len(community_rows)
    if conn.dialect.name == "postgresql":  # explicit ids do not advance the sequences there
        for table in ("pids", "users"):
            conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")


def _adopt_bags(chosen: list[Found], target: Path) -> None:
    """Place the bags the rebuild used under the new DATA_DIR/bags (hard links, else copies)."""
    for item in chosen:
        dest = target / item.bag.parent.name / item.bag.name
        if dest.exists() or dest.resolve() == item.bag.resolve():
            continue
        tmp = dest.parent / f".tmp-{dest.name}-adopt"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(item.bag, tmp, copy_function=_link_or_copy)
        os.rename(tmp, dest)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def rebuild(source: Path, config: RepositoryConfig, *, validate: bool = True, files_dir: Path | None = None,
            accounts_file: Path | None = None,
            clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> RebuildReport:
    """Rebuild the repository of ``config`` (which must be empty) from the bags under ``source``.

    ``files_dir`` is the old repository's file store (``DATA_DIR/files``), where good copies of files a
    damaged bag lost are sought; by default ``files`` beside ``source`` when there is one.
    ``accounts_file`` is the old repository's accounts sidecar; by default ``admin/accounts.json`` beside
    ``source`` when there is one."""
    if not source.is_dir():
        raise RebuildError(f"{source} is not a directory")
    if files_dir is None and (source.parent / "files").is_dir():
        files_dir = source.parent / "files"
    if accounts_file is None and default_for(source).is_file():
        accounts_file = default_for(source)
    try:
        accounts = read_accounts(accounts_file) if accounts_file is not None else None
    except SidecarError as exc:
        raise RebuildError(str(exc)) from exc
    config.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.open(config.database_url)
    try:
        with db.read() as conn:
            if conn.execute(sa.select(deposits.c.id).limit(1)).first() is not None:
                raise RebuildError(f"the repository at {config.database_url} is not empty")
        report = RebuildReport()
        chosen = choose_bags(source, validate=validate, report=report)
        if not chosen:
            raise RebuildError(f"no valid bag under {source}")
        blobs = BlobStore(config.data_dir, fsync=config.fsync)
        chosen, stored = _store_payload(blobs, chosen, Copies(source, files_dir), report)
        if not chosen:
            raise RebuildError(f"no record under {source} could be rebuilt: " + "; ".join(report.problems))
        with db.write() as conn:
            _insert(conn, chosen, stored, utcnow_iso(clock()), report, accounts)
        _adopt_bags(chosen, config.data_dir / "bags")
        if accounts is None:
            report.notes.append(f"no accounts sidecar ({default_for(source)} or --accounts): the "
                                f"{report.placeholders} owner(s) become user-<id>@rebuilt.invalid and old "
                                "tokens do not work")
        else:
            report.notes.append(f"{report.users} user(s) and {report.tokens} token(s) restored from {accounts_file}"
                                + (f"; {report.placeholders} owner(s) it does not list become "
                                   "user-<id>@rebuilt.invalid" if report.placeholders else ""))
        if config.bags:  # the new repository's own sidecar, for its next rebuild
            AccountsSidecar(db, sidecar_path(config.data_dir), fsync=config.fsync).write()
        return report
    finally:
        db.dispose()
