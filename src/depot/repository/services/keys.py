"""File keys (pure): one spelling per name, and no name that looks like a path or hides what it says.

Keys are stored in Unicode NFC, so ``café.txt`` typed on macOS (NFD) and on Linux (NFC) is one file, and a
lookup in either form finds it. A key is refused, with the reason, when it is empty or longer than 255
bytes, or holds a path separator, ``..``, a control or format character (bidirectional overrides such as
U+202E, which make ``gpj.exe`` read as ``exe.jpg``; zero-width spaces and joiners; the byte-order mark), a
line separator, U+FFFD (the mark of undecodable bytes), or a lookalike of ``/``, ``\\`` or ``..``
(``∕ ⁄ ／ ⧸``, ``．．``, ``․․``, ``‥``): a name must not read as a path in a listing, a bag or an unzipped
archive.
"""

from __future__ import annotations

import unicodedata

from depot.metadata import FieldError
from depot.repository.errors import ValidationError

# Slashes and backslashes that compatibility normalisation (NFKC) leaves alone.
SLASH_LOOKALIKES = frozenset("\u2215\u2044\u29f8\u29f9\u2571\u2572\u29f5\u2216\u3033\u2f03")


def lookup_key(text: str) -> str:
    """The stored form of a key named in a request (NFC), for finding a file."""
    return unicodedata.normalize("NFC", text)


def check_key(key: str) -> str:
    """``key`` in its stored form (NFC) if it is a safe file name, else a ValidationError saying why."""
    key = lookup_key(key)
    reason = _refusal(key)
    if reason:
        raise ValidationError([FieldError("filename", (f"Invalid file name: {reason}.",))],
                              message=f"Invalid file name: {reason}.")
    return key


def _refusal(key: str) -> str | None:
    if not key or not key.strip():
        return "it is empty"
    if "/" in key or "\\" in key:
        return "it contains a path separator"
    if ".." in key or key == ".":
        return "it contains '..'"
    for char in key:
        category = unicodedata.category(char)
        if category == "Cc":
            return "it contains control characters"
        if category == "Cf":
            return f"it contains the invisible formatting character U+{ord(char):04X} {unicodedata.name(char, '')}"
        if category in {"Zl", "Zp"}:
            return f"it contains the line separator U+{ord(char):04X}"
        if char == "\ufffd":
            return "it contains U+FFFD, the replacement for bytes that were not valid UTF-8"
        if char in SLASH_LOOKALIKES:
            return f"it contains U+{ord(char):04X} {unicodedata.name(char, '')}, which looks like a path separator"
    folded = unicodedata.normalize("NFKC", key)
    if "/" in folded or "\\" in folded:
        return "it contains a character that looks like a path separator"
    if ".." in folded or folded == ".":
        return "it contains characters that look like '..'"
    if len(key.encode("utf-8")) > 255:
        return "it is longer than 255 bytes"
    return None
