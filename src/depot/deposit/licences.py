"""Comparing Creative Commons licences by the conditions they add (pure).

A licence is *more restrictive* than another when it adds a condition the other lacks: CC BY-SA adds
share-alike to CC BY, so images licensed CC BY-SA cannot be re-licensed under a record's CC BY 4.0.
Licences given as Zenodo ids (``cc-by-4.0``, ``cc0-1.0``); ids that are not Creative Commons cannot be
compared, and then only an identical id counts as compatible.
"""

from __future__ import annotations

import re

_CC = re.compile(r"cc-(by(?:-(?:nc|sa|nd))*)-\d+(?:\.\d+)?")


def conditions(licence_id: str) -> frozenset[str] | None:
    """The conditions (by, sa, nc, nd) a licence imposes; None for a licence that is not Creative Commons."""
    lid = licence_id.strip().lower()
    if lid.startswith("cc0"):
        return frozenset()
    found = _CC.fullmatch(lid)
    return frozenset(found.group(1).split("-")) if found else None


def more_restrictive(media: str, record: str) -> bool:
    """Does ``media`` impose something ``record`` does not (so the record's licence would misstate it)?"""
    if media.strip().lower() == record.strip().lower():
        return False
    m, r = conditions(media), conditions(record)
    if m is None or r is None:
        return True
    return not m <= r


def most_restrictive(licence_ids: list[str]) -> str:
    """The licence among ``licence_ids`` with the most conditions (the first one on a tie)."""
    return max(licence_ids, key=lambda lid: len(conditions(lid) or ()))
