"""Record and deposit ids as Zenodo spells them: ASCII digits, no sign, no leading zero, in the columns' range.

Python's ``int()`` also reads ``1_0``, ``+10``, `` 10`` and Arabic-Indic or full-width digits, and
``str.isdigit()`` accepts superscripts that ``int()`` then refuses: either way a different spelling could
reach another deposit, or an id too large for the database could reach a query and fail there. Zenodo's
PID lookup compares the text exactly, so ``010`` is not ``10`` either.
"""

from __future__ import annotations

import re

# The id columns are SQLAlchemy ``Integer``: 32-bit on PostgreSQL, and kept to the same range on SQLite so
# that both backends answer alike.
MAX_ID = 2**31 - 1

_ID = re.compile(r"[1-9][0-9]{0,9}")  # re's [0-9] is ASCII only; fullmatch rules out a trailing newline


def parse_id(text: str) -> int | None:
    """The id ``text`` names, or None when it names no possible record (then the caller answers 404)."""
    if not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_ID else None
