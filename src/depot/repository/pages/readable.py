"""Readable licence names and dates for the landing pages (pure)."""

from __future__ import annotations

import re

CC_PARTS = {"by": "Attribution", "nc": "NonCommercial", "nd": "NoDerivatives", "sa": "ShareAlike"}
NAMES = {
    "cc-zero": "Creative Commons Zero v1.0 Universal", "mit-license": "MIT License", "apache-2.0": "Apache License 2.0",
    "bsd-3-clause": "BSD 3-Clause License", "bsd-2-clause": "BSD 2-Clause License",
    "gpl-2.0": "GNU General Public License v2.0", "gpl-3.0": "GNU General Public License v3.0",
    "lgpl-3.0": "GNU Lesser General Public License v3.0", "odc-by-1.0": "Open Data Commons Attribution License v1.0",
    "odbl-1.0": "Open Data Commons Open Database License v1.0",
    "pddl-1.0": "Open Data Commons Public Domain Dedication and License v1.0", "etalab-2.0": "Etalab Open License 2.0",
}
_CC = re.compile(r"cc-((?:by|nc|nd|sa)(?:-(?:by|nc|nd|sa))*)-(\d\.\d)")
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


def license_name(lic: str) -> str:
    """"Creative Commons Attribution 4.0 International" for ``cc-by-4.0``; the id itself when unknown."""
    if lic in NAMES:
        return NAMES[lic]
    match = _CC.fullmatch(lic)
    if not match:
        return lic
    parts = "-".join(CC_PARTS[p] for p in match.group(1).split("-"))
    version = match.group(2)
    return f"Creative Commons {parts} {version}{' International' if version == '4.0' else ''}"


def timestamp(value: str | None) -> str:
    """``2026-12-02 13:50 UTC`` from an ISO timestamp with seconds and microseconds (UTC, as the API keeps them)."""
    if not value:
        return ""
    match = _STAMP.match(value)
    if not match:
        return value
    zone = match.group(3)
    suffix = " UTC" if zone in (None, "Z", "+00:00", "+0000") else f" {zone}"
    return f"{match.group(1)} {match.group(2)}{suffix}"


def date_range(start: str | None, end: str | None) -> str:
    """One date when start and end agree ("1959-07-09", not "1959-07-09/1959-07-09"), else "start – end"."""
    start, end = (start or "").strip(), (end or "").strip()
    if start and end and start != end:
        return f"{start} – {end}"
    return start or end


def interval(value: str) -> str:
    """A Darwin Core eventDate (ISO 8601, maybe an interval "a/b") read the same way."""
    if "/" in value:
        start, _, end = value.partition("/")
        if _DATE.fullmatch(start.strip()) and (not end.strip() or _DATE.fullmatch(end.strip())):
            return date_range(start, end)
    return value
