"""The one verdict on a specimen, shared by ``depot check`` and ``depot run``/``sync``.

Given a PlannedRecord, its files' inspections and the repository's metadata rules, :func:`judge` returns
the problems that block the specimen (nothing is sent for it: planning stores it as rejected) and the
warnings that do not. Pure but for the inspector, which reads the files; :func:`inspect_file` is the one
seam through which files are inspected, so a decoder can replace the sniffing without touching callers.
Duplicate keys span records, so :class:`KeyRows` finds them while the records stream past.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from depot.deposit.inspect_files import FileFinding, inspect
from depot.deposit.licences import more_restrictive
from depot.deposit.models import PlannedRecord
from depot.deposit.profiles.vocabulary import zenodo_license_id
from depot.metadata import check as check_metadata

Inspector = Callable[[str, str], tuple[int | None, str | None, list[FileFinding]]]
WARNING_KINDS = frozenset({"note"})


@dataclass(frozen=True)
class Problem:
    """One finding on a specimen: ``kind`` names the rule (missing, empty, metadata, licence...)."""

    kind: str
    message: str
    file: str | None = None  # the local file it concerns, if any


@dataclass(frozen=True)
class FileReport:
    name: str
    size: int | None
    format: str | None


@dataclass(frozen=True)
class Verdict:
    key: str
    row: int | None
    problems: tuple[Problem, ...] = ()  # blocking: nothing is sent for this specimen
    warnings: tuple[Problem, ...] = ()
    files: tuple[FileReport, ...] = ()
    communities: tuple[str, ...] = ()  # to check against the target before the run

    @property
    def blocked(self) -> bool:
        return bool(self.problems)

    def reason(self) -> str:
        """The problems in one line, as the ledger and `depot status` show them."""
        return "; ".join(p.message for p in self.problems)

    def first_file(self) -> str | None:
        return next((p.file for p in self.problems if p.file), None)


def inspect_file(path: str, name: str) -> tuple[int | None, str | None, list[FileFinding]]:
    """(size, format, findings) of one local file: the seam where a decoding inspector plugs in."""
    return inspect(path, name)


def judge(record: PlannedRecord, *, today: date, inspector: Inspector = inspect_file) -> Verdict:
    """Every problem and warning of one specimen; inspects each of its files once."""
    problems = [Problem("record", message) for message in record.problems]
    warnings: list[Problem] = []
    reports: list[FileReport] = []
    for spec in record.files:
        check = record.file_checks.get(spec.path)
        if check is not None:  # decoded (depot.deposit.images): its problems and warnings name the file
            reports.append(FileReport(spec.name, check.size, check.format))
            problems.extend(Problem("image", message, spec.path) for message in check.problems)
            warnings.extend(Problem("note", message, spec.path) for message in check.warnings)
            continue
        size, fmt, findings = inspector(spec.path, spec.name)
        reports.append(FileReport(spec.name, size, fmt))
        for finding in findings:
            (warnings if finding.kind in WARNING_KINDS else problems).append(
                Problem(finding.kind, finding.message, spec.path))
    if not record.files:
        problems.append(Problem("no-file", _no_file_message(record)))
    # Without files the "no-file" problem says it better than the repository's "Missing uploaded files".
    file_count = max(1, len(record.files) + len(record.sidecars))
    for error in check_metadata(record.metadata, today=today, file_count=file_count):
        problems.append(Problem("metadata", f"{error.field}: {' '.join(error.messages)}"))
    licence = licence_problems(record)
    (warnings if record.licence_prefer == "record" else problems).extend(licence)
    return Verdict(record.key, record.row, tuple(problems), tuple(warnings), tuple(reports),
                   communities_of(record.metadata))


def _no_file_message(record: PlannedRecord) -> str:
    if any("--path-template" in problem for problem in record.problems):
        # --images was given and --path-template led nowhere: "give the folder with --images" misled
        return "no image file to deposit: --path-template found none (its line says where it looked)"
    links = [m.uri for m in record.media if m.uri.lower().startswith(("http://", "https://"))]
    if links:
        return (f"no local image: its media are only web links ({links[0]}"
                + (f" and {len(links) - 1} more" if len(links) > 1 else "")
                + "); download them with --fetch-media, or give the folder that holds them with --images")
    return "no image file to deposit; give the folder that holds the images with --images"


def licence_problems(record: PlannedRecord) -> list[Problem]:
    """A media licence more restrictive than the record's is a problem unless the profile chose a winner."""
    record_licence = record.metadata.get("license")
    if record.licence_prefer == "media" or not isinstance(record_licence, str) or not record_licence:
        return []
    out: list[Problem] = []
    for ref in record.media:
        if not ref.license:
            continue
        try:
            media_licence = zenodo_license_id(ref.license)
        except ValueError:
            out.append(Problem("licence", f"media licence {ref.license!r} of {ref.uri} is not recognised, so it "
                                          f"cannot be compared with the record's {record_licence}"))
            continue
        if more_restrictive(media_licence, record_licence):
            if record.licence_prefer == "record":  # the profile's choice: said, not refused
                out.append(Problem("note", f"the image {ref.uri} is licensed {media_licence}; the profile deposits "
                                           f"it under the record's {record_licence} ([licence] prefer = \"record\")"))
                continue
            out.append(Problem("licence", f"the image {ref.uri} is licensed {media_licence}, more restrictive than "
                                          f"the record's {record_licence}; say which wins in the profile: "
                                          '[licence] prefer = "media" or "record"'))
    return out


def communities_of(metadata: dict[str, Any]) -> tuple[str, ...]:
    found = metadata.get("communities") or []
    return tuple(c["identifier"] for c in found if isinstance(c, dict) and isinstance(c.get("identifier"), str))


class KeyRows:
    """Finds keys that more than one source row holds, however far apart, keeping only keys in memory."""

    def __init__(self) -> None:
        self._first: dict[str, int | None] = {}
        self.duplicates: dict[str, list[int | None]] = {}

    def add(self, key: str, row: int | None) -> bool:
        """Note ``key`` at ``row``; True if an earlier row already held it."""
        if key not in self._first:
            self._first[key] = row
            return False
        self.duplicates.setdefault(key, [self._first[key]]).append(row)
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._first

    def message(self, key: str) -> str:
        rows = ", ".join(str(r) if r is not None else "?" for r in self.duplicates[key])
        return (f"duplicate key {key!r}: rows {rows} of the source all hold it; none of them is deposited until "
                "only one row does")
