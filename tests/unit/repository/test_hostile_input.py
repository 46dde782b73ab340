"""Pure rules against hostile input (issue 13): ids, query limits, file keys, metadata field limits."""

from __future__ import annotations

import unicodedata

import pytest

from depot.repository.errors import ValidationError
from depot.repository.services.ids import MAX_ID, parse_id
from depot.repository.services.keys import check_key, lookup_key
from depot.repository.services.limits import COUNT_LIMITS, TEXT_LIMITS, check_limits
from depot.repository.services.query import MAX_DEPTH, MAX_TERMS, QuerySyntaxError, parse


@pytest.mark.parametrize(("text", "expected"), [
    ("1", 1), ("10", 10), (str(MAX_ID), MAX_ID), (str(MAX_ID + 1), None), ("0", None), ("010", None),
    ("1_0", None), ("+10", None), ("-1", None), (" 10", None), ("10\n", None), ("\u0661\u0660", None),
    ("\uff11\uff10", None), ("\u00b2", None), ("", None), ("1e3", None), ("9" * 400, None)])
def test_parse_id_accepts_only_zenodos_spelling(text: str, expected: int | None) -> None:
    assert parse_id(text) == expected


def test_query_depth_limit_is_exact() -> None:
    assert parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH) is not None
    with pytest.raises(QuerySyntaxError, match="limit of 32 levels"):
        parse("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    assert parse("NOT " * MAX_DEPTH + "a") is not None
    with pytest.raises(QuerySyntaxError, match="levels"):
        parse("NOT " * (MAX_DEPTH + 1) + "a")
    # Sibling groups do not add up: depth is nesting, not the count of groups.
    assert parse(" OR ".join(["(a)"] * 100)) is not None


def test_query_term_limit_is_exact() -> None:
    assert parse(" OR ".join(f'alternate.identifier:"k{i}"' for i in range(MAX_TERMS))) is not None
    with pytest.raises(QuerySyntaxError, match="terms"):
        parse(" OR ".join(f'alternate.identifier:"k{i}"' for i in range(MAX_TERMS + 1)))
    with pytest.raises(QuerySyntaxError, match="terms"):
        parse("recid:[1 TO 2] " * (MAX_TERMS + 1))


def test_keys_are_nfc_and_deceptive_ones_refused() -> None:
    nfd = unicodedata.normalize("NFD", "café.txt")
    assert check_key(nfd) == lookup_key(nfd) == unicodedata.normalize("NFC", "café.txt")
    for bad in ("a\u2215b", "a\u2044b", "\uff0e\uff0e", "\u2024\u2024", "x\u202etxt.exe", "a\u200bb", "a/b",
                "..", "a\x00b", "\u00e9" * 200):
        with pytest.raises(ValidationError):
            check_key(bad)
    assert check_key("file\uff0etxt") == "file\uff0etxt"  # one lookalike dot is no traversal


def test_metadata_limits_name_every_field_past_them() -> None:
    check_limits({"title": "T" * TEXT_LIMITS["title"], "keywords": ["k"] * COUNT_LIMITS["keywords"]})
    check_limits("not a dict")  # left to the metadata model
    with pytest.raises(ValidationError) as caught:
        check_limits({"title": "T" * (TEXT_LIMITS["title"] + 1), "creators": [{}] * (COUNT_LIMITS["creators"] + 1)})
    assert [e.field for e in caught.value.errors] == ["metadata.title", "metadata.creators"]
