"""Filters that profile templates use to turn Darwin Core strings into what Zenodo accepts.

A missing term (an undefined value) passes through every filter unchanged, so the template's own rule
for missing terms applies; a value that cannot be converted gives None, which drops the field.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from jinja2 import Undefined

from depot.deposit.profiles.vocabulary import DATE, NUMBER, ZENODO_CUSTOM_TERMS, zenodo_license_id

_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_DOI = re.compile(r"10\.\d{4,9}/\S+")


def _span(value: str) -> tuple[date, date] | None:
    """First and last day of an ISO 8601 date, partial date (``1985``, ``1985-5``) or interval (``a/b``)."""
    parts = value.strip().split("/")
    if not 1 <= len(parts) <= 2:
        return None
    bounds = []
    for part in parts:
        match = _PARTIAL_DATE.fullmatch(re.split(r"[T ]", part.strip(), maxsplit=1)[0])
        if match is None:
            return None
        year, month, day = int(match.group(1)), match.group(2), match.group(3)
        try:
            if month is None:
                bounds.append((date(year, 1, 1), date(year, 12, 31)))
            elif day is None:
                last = calendar.monthrange(year, int(month))[1]
                bounds.append((date(year, int(month), 1), date(year, int(month), last)))
            else:
                bounds.append((date(year, int(month), int(day)),) * 2)
        except (ValueError, calendar.IllegalMonthError):
            return None
    start, end = bounds[0][0], bounds[-1][1]
    return (start, end) if start <= end else None


def date_start(value: Any) -> Any:
    """The first day (YYYY-MM-DD) a date or interval covers: ``1985-5`` -> ``1985-05-01``."""
    if isinstance(value, Undefined) or value is None:
        return value
    span = _span(str(value))
    return span[0].isoformat() if span else None


def date_end(value: Any) -> Any:
    """The last day (YYYY-MM-DD) a date or interval covers: ``1985-5`` -> ``1985-05-31``."""
    if isinstance(value, Undefined) or value is None:
        return value
    span = _span(str(value))
    return span[1].isoformat() if span else None


def iso_date(value: Any) -> Any:
    """YYYY-MM-DD when the value names exactly one day (``2002-1-1`` -> ``2002-01-01``), else None."""
    if isinstance(value, Undefined) or value is None:
        return value
    span = _span(str(value))
    return span[0].isoformat() if span and span[0] == span[1] else None


def event_date(terms: Any) -> Any:
    """``eventDate``, or a date built from ``year``/``month``/``day`` when there is none, or None."""
    if not isinstance(terms, Mapping):
        return None
    if terms.get("eventDate"):
        return terms["eventDate"]
    year, month, day = terms.get("year"), terms.get("month"), terms.get("day")
    if not year or not str(year).strip().isdigit():
        return None
    text = str(year).strip()
    if month and str(month).strip().isdigit():
        text += f"-{int(month):02d}"
        if day and str(day).strip().isdigit():
            text += f"-{int(day):02d}"
    return text


def number(value: Any) -> Any:
    """The value as a float, or None when it is not a finite number."""
    if isinstance(value, Undefined):
        return value
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(str(value).strip())
    except ValueError:
        return None
    return result if math.isfinite(result) else None


def latitude(value: Any) -> Any:
    """A decimal latitude in [-90, 90] as a float, else None."""
    result = number(value)
    return result if not isinstance(result, float) or -90 <= result <= 90 else None


def longitude(value: Any) -> Any:
    """A decimal longitude in [-180, 180] as a float, else None."""
    result = number(value)
    return result if not isinstance(result, float) or -180 <= result <= 180 else None


def zenodo_license(value: Any) -> Any:
    """A Zenodo licence id for a licence URL or name; an unknown licence is an error (see vocabulary)."""
    if isinstance(value, Undefined) or value is None:
        return value
    return zenodo_license_id(str(value))


def identifier_scheme(value: Any) -> Any:
    """``url``, ``lsid``, ``urn``, ``doi``, ``ark`` or ``other``: the scheme of a related identifier."""
    if isinstance(value, Undefined) or value is None:
        return value
    text = str(value).strip()
    low = text.lower()
    if low.startswith(("http://", "https://")):
        return "url"
    if low.startswith("urn:lsid:"):
        return "lsid"
    if low.startswith("urn:"):
        return "urn"
    if low.startswith("doi:") or _DOI.fullmatch(text):
        return "doi"
    return "ark" if low.startswith("ark:") else "other"


def filename(value: Any) -> Any:
    """The value made safe as a file name: runs of other characters than letters, digits, ``.-_`` become ``_``."""
    if isinstance(value, Undefined) or value is None:
        return value
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(value)).strip("._") or "specimen"


def language_code(value: Any) -> Any:
    """A two- or three-letter language code in lower case, or None for anything else (``French``)."""
    if isinstance(value, Undefined) or value is None:
        return value
    text = str(value).strip().lower()
    return text if re.fullmatch(r"[a-z]{2,3}", text) else None


def dwc_list(value: Any) -> Any:
    """The items of a Darwin Core list value (``a | b`` -> ``["a", "b"]``)."""
    if isinstance(value, Undefined) or value is None:
        return value
    return [item for item in (p.strip() for p in str(value).split("|")) if item]


def zenodo_dwc(terms: Any, only: Any = None) -> dict[str, list[Any]]:
    """Zenodo ``custom`` fields for every term of ``terms`` that Zenodo supports (or only those named).

    Numbers become floats and dates YYYY-MM-DD; a value that does not convert (a partial date, a
    latitude of ``abc``) is left out rather than sent for Zenodo to reject.
    """
    if not isinstance(terms, Mapping):
        return {}
    out: dict[str, list[Any]] = {}
    for name, (field, kind) in ZENODO_CUSTOM_TERMS.items():
        raw = terms.get(name)
        if not raw or (only is not None and name not in only):
            continue
        converted = number(raw) if kind == NUMBER else iso_date(raw) if kind == DATE else None
        values = dwc_list(raw) if kind not in (NUMBER, DATE) else [] if converted is None else [converted]
        if values:
            out[field] = values
    return out


FILTERS = {
    "date_start": date_start, "date_end": date_end, "iso_date": iso_date, "event_date": event_date,
    "number": number, "latitude": latitude, "longitude": longitude, "zenodo_license": zenodo_license,
    "identifier_scheme": identifier_scheme, "filename": filename, "language_code": language_code,
    "dwc_list": dwc_list, "zenodo_dwc": zenodo_dwc,
}
