"""Reading 1D and 2D barcodes from pixels with zxing-cpp (docs/decisions/0003-barcode-reader.md).

zxing-cpp is imported on first use, so that Depot runs (with barcode checks reported as unavailable) where
its wheel does not install.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import Any

MAX_TEXT = 200
_reader: ModuleType | None = None
_missing: str | None = None


def reader_unavailable() -> str | None:
    """Why barcodes cannot be read here (zxing-cpp not importable), or None when they can."""
    global _reader, _missing
    if _reader is None and _missing is None:
        try:
            _reader = import_module("zxingcpp")
        except ImportError as exc:  # a platform without a wheel: the check degrades, visibly
            _missing = f"zxing-cpp cannot be imported ({exc}); install it with pip install zxing-cpp"
    return _missing


def reader_version() -> str:
    """The reader's name and version, part of a cached result's identity."""
    if reader_unavailable() is not None:
        return "none"
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"zxing-cpp {version('zxing-cpp')}"
    except PackageNotFoundError:
        return "zxing-cpp"


def read_gray(pixels: bytes, width: int, height: int, *, downscale: bool = True, invert: bool = True) -> list[str]:
    """The text of every barcode found in an 8-bit grey image (row-major bytes), in reading order.

    Rotated codes are looked for too, and inverted ones if ``invert``, in downscaled copies if ``downscale``;
    codes that fail their checksum are left out."""
    if reader_unavailable() is not None or width == 0 or height == 0:
        return []
    assert _reader is not None
    view = memoryview(pixels).cast("B", shape=(height, width))
    found: list[Any] = _reader.read_barcodes(view, try_downscale=downscale, try_invert=invert)
    values: list[str] = []
    for barcode in found:
        # a code's content is input too: no control characters in messages, and no novels
        text = "".join(c if c.isprintable() else "?" for c in str(barcode.text).strip())[:MAX_TEXT]
        if text and text not in values:
            values.append(text)
    return values
