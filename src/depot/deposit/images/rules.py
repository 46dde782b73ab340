"""What a profile asks of a specimen's image files: the ``[images]`` table (pure).

    [images]
    min_bytes = 100000          # a smaller file is a problem (a placeholder, a failed export)
    min_pixels = 4000000        # fewer pixels is a problem (a thumbnail instead of the scan)
    barcode = "check"           # "check", "require" or "off"
    key_prefixes = ["BR"]       # stripped from keys and barcodes before they are compared
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class BarcodeMode(StrEnum):
    """What a sheet's barcodes must prove. ``check``: a barcode that names another specimen is a problem,
    no barcode at all a warning. ``require``: no barcode is a problem too. ``off``: barcodes are not read."""

    CHECK = "check"
    REQUIRE = "require"
    OFF = "off"


@dataclass(frozen=True)
class ImageRules:
    """The settings the image check applies to every file; build them with :func:`rules_from_table`."""

    min_bytes: int = 1
    min_pixels: int = 10_000  # 100 x 100: below that no image shows a specimen
    max_pixels: int = 1_000_000_000  # above: not decoded (a decompression bomb, or a file nobody can open)
    barcode: BarcodeMode = BarcodeMode.OFF
    key_prefixes: tuple[str, ...] = ()

    def digest(self) -> str:
        """A stable hash of the settings, for caching a result only as long as the rules that made it."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


class RulesError(ValueError):
    """Raised by :func:`rules_from_table` for a bad ``[images]`` setting; ``key`` names it."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"images.{key}: {reason}")
        self.key = key
        self.reason = reason


_KEYS = {"min_bytes", "min_pixels", "max_pixels", "barcode", "key_prefixes"}


def parse_barcode_mode(value: object) -> BarcodeMode:
    """``check``, ``require`` or ``off`` as a BarcodeMode; RulesError for anything else."""
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in set(BarcodeMode):
        raise RulesError("barcode", f"{value!r} is not one of check, require, off")
    return BarcodeMode(text)


def rules_from_table(table: Mapping[str, Any], base: ImageRules | None = None) -> ImageRules:
    """The rules an ``[images]`` table sets, the others from ``base`` (default: ImageRules()).

    Raises RulesError naming the first unknown key or bad value."""
    base = base or ImageRules()
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise RulesError(unknown[0], f"unknown key; [images] has {', '.join(sorted(_KEYS))}")
    values: dict[str, Any] = asdict(base)
    values["key_prefixes"] = base.key_prefixes
    for key in ("min_bytes", "min_pixels", "max_pixels"):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RulesError(key, f"must be a whole number, 0 or more (got {value!r})")
            values[key] = value
    if "barcode" in table:
        values["barcode"] = parse_barcode_mode(table["barcode"])
    if "key_prefixes" in table:
        prefixes = table["key_prefixes"]
        if not isinstance(prefixes, list) or not all(isinstance(p, str) and p.strip() for p in prefixes):
            raise RulesError("key_prefixes", "must be a list of non-empty strings, e.g. [\"BR\"]")
        values["key_prefixes"] = tuple(p.strip() for p in prefixes)
    return ImageRules(**values)
