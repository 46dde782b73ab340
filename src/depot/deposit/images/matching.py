"""Does a barcode read on a sheet name the specimen it is deposited as? (pure)

A sheet's barcode is not always the key as written in the data: the label may lack the institution's
prefix (``0000008525000`` for ``BR0000008525000``), a QR code may hold the CETAF URI that ends in the
barcode, and padding zeros may differ. Two values match when, after normalising (upper case, no spaces,
no ``*`` start/stop characters), they are equal, or:

- one is a URI whose last path segment is the other;
- one of the profile's ``key_prefixes`` stripped from either makes them equal;
- they differ only in a leading institution code (letters) that one of them lacks: ``BR0001`` and
  ``0001`` match, ``BR0001`` and ``K0001`` do not;
- both are digits after that code and equal but for leading zeros (6 significant digits or more).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_INSTITUTION = re.compile(r"([A-Z]*)[-_:.]?(.*)")
_MIN_SIGNIFICANT = 6


def normalise(value: str) -> str:
    return re.sub(r"\s+", "", value).upper().strip("*")


def _variants(value: str, prefixes: Iterable[str]) -> set[str]:
    text = normalise(value)
    out = {text}
    if "/" in text:
        out.add(text.rstrip("/").rsplit("/", 1)[-1])
    for prefix in (normalise(p) for p in prefixes):
        for candidate in list(out):
            if prefix and candidate.startswith(prefix) and len(candidate) > len(prefix):
                out.add(candidate[len(prefix):].lstrip("-_:."))
    return {v for v in out if v}


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    code_a, rest_a = _INSTITUTION.fullmatch(a).groups()  # type: ignore[union-attr]  # always matches
    code_b, rest_b = _INSTITUTION.fullmatch(b).groups()  # type: ignore[union-attr]
    if not rest_a or not rest_b or not any(c.isdigit() for c in rest_a) or (code_a and code_b and code_a != code_b):
        return False
    if rest_a == rest_b:
        return True
    significant = rest_a.lstrip("0")
    return (rest_a.isdigit() and rest_b.isdigit() and significant == rest_b.lstrip("0")
            and len(significant) >= _MIN_SIGNIFICANT)


def barcode_matches(key: str, value: str, prefixes: Iterable[str] = ()) -> bool:
    """True when the barcode ``value`` names the specimen ``key`` (rules in the module docstring)."""
    prefixes = tuple(prefixes)
    return any(_same(k, v) for k in _variants(key, prefixes) for v in _variants(value, prefixes))


def first_match(key: str, values: Iterable[str], prefixes: Iterable[str] = ()) -> str | None:
    """The first of ``values`` that names ``key``, or None."""
    prefixes = tuple(prefixes)
    return next((v for v in values if barcode_matches(key, v, prefixes)), None)
