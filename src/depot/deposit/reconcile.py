"""Reconciliation (pure): compare the ledger with the repository's listing, specimen by specimen.

Marks as in ``rclone check``: ``=`` agree, ``+`` only on the repository (an orphan deposit, e.g. a create
whose answer was lost), ``-`` only in the ledger (never created, or lost), ``*`` both but different
(state, DOI or deposition id), ``!`` an error (e.g. the key matches several published records: a duplicate).

A specimen's versions (one concept, several published depositions, as `depot sync` makes them) are one
record: the ledger must match the latest version, and only published depositions of *different*
concepts are duplicates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

AGREE, ONLY_REMOTE, ONLY_LOCAL, DIFFERS, ERROR = "=", "+", "-", "*", "!"


@dataclass(frozen=True)
class LocalEntry:
    key: str
    state: str  # ledger state
    deposition_id: int | None
    doi: str | None


@dataclass(frozen=True)
class RemoteEntry:
    key: str
    deposition_id: int
    submitted: bool  # published (possibly being edited)
    doi: str | None
    state: str = ""  # unsubmitted | inprogress | done
    files: tuple[tuple[str, str], ...] = ()  # (name, md5)
    concept: str = ""  # conceptrecid: versions of one record share it


@dataclass(frozen=True)
class Finding:
    mark: str
    key: str
    local: LocalEntry | None
    remote: tuple[RemoteEntry, ...]
    reason: str = ""


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def count(self, mark: str) -> int:
        return sum(1 for f in self.findings if f.mark == mark)

    def summary(self) -> dict[str, int]:
        return {m: self.count(m) for m in (AGREE, ONLY_REMOTE, ONLY_LOCAL, DIFFERS, ERROR)}


def compare(local: Iterable[LocalEntry], remote: Iterable[RemoteEntry]) -> Report:
    """Match by specimen key and classify each key. Order: ledger keys first, then remote-only keys."""
    by_key: dict[str, list[RemoteEntry]] = defaultdict(list)
    for remote_entry in remote:
        by_key[remote_entry.key].append(remote_entry)
    report = Report()
    seen: set[str] = set()
    for local_entry in local:
        seen.add(local_entry.key)
        report.findings.append(_classify(local_entry, tuple(by_key.get(local_entry.key, ()))))
    for key, entries in by_key.items():
        if key not in seen:
            report.findings.append(Finding(ONLY_REMOTE, key, None, tuple(entries),
                                           "on the repository, not in the ledger"))
    return report


def latest_published(remote: Iterable[RemoteEntry]) -> RemoteEntry | None:
    """The newest published version (versions get increasing ids)."""
    return max((r for r in remote if r.submitted), key=lambda r: r.deposition_id, default=None)


def _classify(local: LocalEntry, remote: tuple[RemoteEntry, ...]) -> Finding:
    published = [r for r in remote if r.submitted]
    concepts = {r.concept or str(r.deposition_id) for r in published}
    if len(concepts) > 1:
        return Finding(ERROR, local.key, local, remote, f"published as {len(concepts)} records (duplicates)")
    if not remote:
        if local.state in {"published", "verified"}:
            return Finding(ONLY_LOCAL, local.key, local, remote, "ledger says published; repository has nothing")
        if local.deposition_id is not None:
            return Finding(ONLY_LOCAL, local.key, local, remote, "ledger has a deposition the repository lacks")
        return Finding(ONLY_LOCAL, local.key, local, remote, "not deposited yet")
    if local.state in {"published", "verified"}:
        latest = latest_published(remote)
        if latest is not None and latest.deposition_id == local.deposition_id and latest.doi == local.doi and \
                len(published) == len(remote):
            return Finding(AGREE, local.key, local, remote)
        return Finding(DIFFERS, local.key, local, remote, _difference(local, remote))
    if len(remote) == 1 and not remote[0].submitted and remote[0].deposition_id == local.deposition_id:
        return Finding(DIFFERS, local.key, local, remote, "a draft is waiting to be finished")
    return Finding(DIFFERS, local.key, local, remote, _difference(local, remote))


def _difference(local: LocalEntry, remote: tuple[RemoteEntry, ...]) -> str:
    parts = []
    ids = sorted(r.deposition_id for r in remote)
    if local.deposition_id not in ids:
        parts.append(f"ledger deposition {local.deposition_id}, repository {ids}")
    published = [r for r in remote if r.submitted]
    latest = latest_published(remote)
    if latest is not None and local.state not in {"published", "verified"}:
        parts.append(f"published on the repository ({latest.doi}) but {local.state} in the ledger")
    if not published and local.state in {"published", "verified"}:
        parts.append("published in the ledger but not on the repository")
    if latest is not None and local.doi and latest.doi != local.doi:
        parts.append(f"DOI {local.doi} in the ledger, {latest.doi} (latest version) on the repository")
    drafts = [r for r in remote if not r.submitted]
    if drafts and published:
        parts.append(f"{len(drafts)} stray draft(s)")
    return "; ".join(parts) or "differs"


def key_of(deposition: dict[str, Any], key_prefix: str = "") -> str | None:
    """The specimen key a deposition carries: its first ``isAlternateIdentifier`` (optionally prefixed)."""
    for rel in (deposition.get("metadata") or {}).get("related_identifiers") or []:
        if isinstance(rel, dict) and rel.get("relation") == "isAlternateIdentifier":
            ident = str(rel.get("identifier", ""))
            if ident.startswith(key_prefix):
                return ident
    return None


# Metadata the repository fills in itself at publication: never compared.
SERVER_FIELDS = frozenset({"publication_date", "doi", "prereserve_doi"})


def differences(files: Iterable[tuple[str, str | None]], metadata: dict[str, Any], doi: str | None,
                remote: dict[str, Any]) -> list[str]:
    """What differs between a published record as the ledger has it (files as (name, md5), metadata,
    DOI) and the repository's deposition ``remote``; empty when they agree."""
    problems = []
    wanted = dict(files)
    server_files = {str(f.get("filename", "")): str(f.get("checksum", "")).removeprefix("md5:")
                    for f in remote.get("files") or [] if isinstance(f, dict)}
    for name, md5 in wanted.items():
        if server_files.get(name) != md5:
            problems.append(f"{name}: md5 {server_files.get(name)} on the repository, {md5} in the ledger")
    extra = set(server_files) - set(wanted)
    if extra:
        problems.append(f"files only on the repository: {', '.join(sorted(extra))}")
    found = remote.get("metadata")
    remote_metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    differing = [k for k in metadata if k not in SERVER_FIELDS and remote_metadata.get(k) != metadata.get(k)]
    if differing:
        problems.append(f"metadata differs: {', '.join(differing)}")
    if remote.get("doi") != doi:
        problems.append(f"DOI {remote.get('doi')} on the repository, {doi} in the ledger")
    return problems
