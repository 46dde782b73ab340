"""Checking one file: it exists, has the size and content its name promises, decodes to the end, has
enough pixels, and (if asked) carries a barcode that names its specimen.

This runs in a worker process (see pool.py). Speed: a JPEG is decoded once at a reduced scale
(libjpeg's DCT scaling still reads every byte, so a truncated file is found); barcodes are looked for at
that scale first, and at twice and four times the scale only when none named the specimen.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from depot.deposit.images.barcodes import read_gray, reader_unavailable
from depot.deposit.images.formats import DISPLAY, HEAD_BYTES, image_format, promised_format, sniff
from depot.deposit.images.matching import first_match
from depot.deposit.images.results import FileCheck
from depot.deposit.images.rules import BarcodeMode, ImageRules
from depot.deposit.models import Expected

if TYPE_CHECKING:
    import pyvips

# The first barcode pass looks at an image whose long side is about this: a 600 dpi herbarium sheet's
# barcode then has 1.5-2 px per module, enough for zxing, at a tenth of the full-size cost.
FIRST_PASS_SIDE = 2400
# zxing at full size on a 75 MP sheet takes 5-15 s and never found what half size missed (measured on the
# ICEDIG sheet); full size is looked at only for images up to this many pixels
FULL_PASS_MAX_PIXELS = 40_000_000
# "truncated" let a TIFF cut in half pass (libtiff's read error is an error, not a truncation); a loader's
# error is damage. Its warnings are not refused: some cameras write files that warn and are otherwise sound.
FAIL_ON = "error"
# ... except libjpeg's warnings that mean damaged data (jerror.h: JWRN_HUFF_BAD_CODE, JWRN_HIT_MARKER,
# JWRN_MUST_RESYNC, JWRN_JPEG_EOF, JWRN_ARITH_BAD_CODE): at "error" libvips decodes such a file to its end,
# garbage and all (4,000 random bytes in the middle of the ICEDIG sheet passed). A JPEG is decoded at
# "warning" first; a warning that is not one of these (extraneous bytes before the end marker, which some
# cameras write) is noted and the file decoded again at "error".
JPEG_DAMAGE = ("bad huffman code", "premature end of data segment", "instead of rst", "premature end of jpeg file",
               "arithmetic code")
HASH_CHUNK = 1 << 20
_LOADERS = {"jpeg": "jpegload", "png": "pngload", "tiff": "tiffload", "jp2": "jp2kload"}
_vips_ready = False
_T = TypeVar("_T")


@dataclass
class _Findings:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_file(path: str, name: str, key: str, rules: ImageRules, expected: tuple[Expected, ...] = ()) -> FileCheck:
    """Check the file at ``path``, deposited as ``name`` for the specimen ``key``; its bytes must hash to
    each of ``expected`` (the dataset's checksum files). Never raises for a bad file: what is wrong is in the
    result's ``problems`` (blocking) and ``warnings``."""
    label = name if os.path.basename(path) == name else f"{name} ({path})"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return FileCheck(path, name, problems=(f"{label}: no such file",))
    except OSError as exc:
        return FileCheck(path, name, problems=(f"{label}: cannot be read: {exc.strerror}",))
    result = FileCheck(path, name, size=info.st_size, mtime_ns=info.st_mtime_ns)
    if not stat.S_ISREG(info.st_mode):
        return replace(result, problems=(f"{label}: not a regular file",))
    if info.st_size == 0:
        return replace(result, problems=(f"{label}: the file is empty (the repository refuses empty files)",))
    found = _Findings()
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
            if expected:
                _check_digests(fh, head, label, expected, found)
    except OSError as exc:
        return replace(result, problems=(f"{label}: cannot be read: {exc.strerror}",))
    sniffed = sniff(head)
    fmt = image_format(sniffed)
    _check_name(label, name, sniffed, found)
    if info.st_size < rules.min_bytes and sniffed != "json":  # the rule is for images, not a sidecar
        found.problems.append(f"{label}: {info.st_size:,} bytes, below the profile's min_bytes "
                              f"({rules.min_bytes:,}): a placeholder or a failed export?")
    if fmt is None:
        if sniffed is None:
            found.problems.append(f"{label}: not a TIFF, PNG, JPEG 2000 or JPEG image (it starts with bytes "
                                  f"{head[:8].hex(' ')})")
        return _finish(result, found)
    result = replace(result, format=fmt)
    result = _decode(result, label, key, fmt, rules, found)
    return _finish(result, found)


def _check_digests(fh: BinaryIO, head: bytes, label: str, expected: tuple[Expected, ...], found: _Findings) -> None:
    """Hash the whole file (``head`` was read already from the open ``fh``) with each algorithm ``expected``
    names, in one read, and note each digest that differs."""
    hashes = {e.algorithm: hashlib.new(e.algorithm) for e in expected}
    chunk = head
    while chunk:
        for h in hashes.values():
            h.update(chunk)
        chunk = fh.read(HASH_CHUNK)
    for e in expected:
        actual = hashes[e.algorithm].hexdigest()
        if actual != e.digest:
            found.problems.append(f"{label}: its {e.algorithm} is {actual}, but {e.origin} says {e.digest}: the "
                                  "file changed or was damaged since its checksum was made (copy it again from the "
                                  "original, or fix the checksum file if the image was replaced on purpose)")


def _finish(result: FileCheck, found: _Findings) -> FileCheck:
    return replace(result, problems=tuple(found.problems), warnings=tuple(found.warnings))


def _check_name(label: str, name: str, sniffed: str | None, found: _Findings) -> None:
    promised = promised_format(name)
    actual = "jp2" if sniffed == "j2k" else sniffed
    if promised is not None and actual is not None and promised != actual:
        found.problems.append(f"{label}: the name says {DISPLAY[promised]} but the file holds {DISPLAY[actual]} "
                              f"(rename it to .{_extension(actual)}, or export it again)")
    elif promised is None and actual is not None and actual != "json":
        found.warnings.append(f"{label}: the name has no {DISPLAY[actual]} extension (.{_extension(actual)}), "
                              "so the repository will not serve it as an image")


def _extension(fmt: str) -> str:
    return {"jpeg": "jpg", "tiff": "tif"}.get(fmt, fmt)


def _prepare_vips() -> None:
    global _vips_ready
    if not _vips_ready:
        import pyvips

        pyvips.block_untrusted_set(True)  # only the four loaders below ever run; belt and braces
        logging.getLogger("pyvips").setLevel(logging.ERROR)  # damage is reported as a problem, not as noise
        _vips_ready = True


def _vips_message(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("unable to ")]
    return "; ".join(dict.fromkeys(useful or lines))[:300]


def _load(path: str, fmt: str, shrink: int, fail_on: str = FAIL_ON) -> pyvips.Image:
    import pyvips

    loader = getattr(pyvips.Image, _LOADERS[fmt])
    if fmt == "jpeg":
        image: pyvips.Image = loader(path, shrink=shrink, access="sequential", fail_on=fail_on)
        return image
    image = loader(path, access="sequential", fail_on=FAIL_ON)
    shrink = min(shrink, image.width, image.height)
    return image.shrink(shrink, shrink) if shrink > 1 else image


def _decode(result: FileCheck, label: str, key: str, fmt: str, rules: ImageRules, found: _Findings) -> FileCheck:
    import pyvips

    _prepare_vips()
    try:
        header = _load(result.path, fmt, 1)
        result = replace(result, width=header.width, height=header.height, bands=header.bands,
                         colour_space=str(header.interpretation))
    except pyvips.Error as exc:
        found.problems.append(f"{label}: cannot be decoded as {DISPLAY[fmt]}: {_vips_message(exc)}")
        return result
    assert result.width is not None and result.height is not None
    pixels = result.width * result.height
    if pixels < rules.min_pixels:
        found.problems.append(f"{label}: {result.width} x {result.height} pixels, below the profile's min_pixels "
                              f"({rules.min_pixels:,}): a thumbnail instead of the image?")
    if pixels > rules.max_pixels:
        found.problems.append(f"{label}: {result.width} x {result.height} pixels, above the profile's max_pixels "
                              f"({rules.max_pixels:,}); not decoded")
        return result
    # a thumbnail has no legible barcode: its pixel count is the problem to report
    read = rules.barcode is not BarcodeMode.OFF and pixels >= rules.min_pixels
    if read and (why := reader_unavailable()) is not None:
        (found.problems if rules.barcode is BarcodeMode.REQUIRE else found.warnings).append(
            f"{label}: barcodes not checked: {why}")
        read = False
    if not read:
        # one decode to the last byte proves the file whole: a JPEG at 1/8 scale (DCT scaling), any other
        # format through the image already opened (a second load and a shrink cost more than the decode on
        # a small image: 1.1 against 0.8 ms for a 120 px PNG)
        _decoded(lambda fail_on: (_load(result.path, fmt, 8, fail_on) if fmt == "jpeg" else header).avg(),
                 fmt, label, found)
        return result
    return _scan(result, label, key, fmt, rules, found, _shrinks(max(result.width, result.height), pixels))


def _decoded(step: Callable[[str], _T], fmt: str, label: str, found: _Findings) -> _T | None:
    """``step(fail_on)``, a load and a decode to the last byte; None once a damaged file is noted as a
    problem. A JPEG goes at "warning" first (JPEG_DAMAGE); a warning that is not damage is noted, and the
    step run again at "error"."""
    import pyvips

    try:
        return step("warning" if fmt == "jpeg" else FAIL_ON)
    except pyvips.Error as exc:
        message = _vips_message(exc)
        if fmt != "jpeg" or any(sign in message.lower() for sign in JPEG_DAMAGE):
            found.problems.append(f"{label}: truncated or damaged {DISPLAY[fmt]}: {message}")
            return None
    try:
        value = step(FAIL_ON)
    except pyvips.Error as exc:
        found.problems.append(f"{label}: truncated or damaged {DISPLAY[fmt]}: {_vips_message(exc)}")
        return None
    warning = f"{label}: decoded whole, with a warning from the JPEG decoder: {message}"
    if warning not in found.warnings:
        found.warnings.append(warning)
    return value


def _shrinks(long_side: int, pixels: int) -> list[int]:
    """The scales to look at: 1/8, 1/4 or 1/2 (the coarsest with a long side of FIRST_PASS_SIDE or more),
    then twice as fine (full size only up to FULL_PASS_MAX_PIXELS)."""
    first = next((s for s in (8, 4, 2) if long_side // s >= FIRST_PASS_SIDE), 1)
    if first == 1 or (first == 2 and pixels > FULL_PASS_MAX_PIXELS):
        return [first]
    return [first, first // 2]


def _scan(result: FileCheck, label: str, key: str, fmt: str, rules: ImageRules, found: _Findings,
          shrinks: list[int]) -> FileCheck:
    """Look for barcodes at each scale in ``shrinks`` until one names the specimen."""

    values: list[str] = []
    for n, shrink in enumerate(shrinks):
        def grey_pixels(fail_on: str, shrink: int = shrink) -> tuple[pyvips.Image, bytes]:
            grey = _grey(_load(result.path, fmt, shrink, fail_on))
            return grey, grey.write_to_memory()

        decoded = _decoded(grey_pixels, fmt, label, found)
        if decoded is None:
            return result
        grey, pixels = decoded
        # zxing's own downscaling helps only the first pass (the later ones follow a coarser look);
        # light-on-dark codes are rare on labels and cost 40 % more: looked for in the last pass only
        read_now = read_gray(pixels, grey.width, grey.height, downscale=n == 0, invert=n == len(shrinks) - 1)
        values += [v for v in read_now if v not in values]
        if first_match(key, values, rules.key_prefixes) is not None:
            return replace(result, barcodes=tuple(values))
    result = replace(result, barcodes=tuple(values))
    if values:
        found.problems.append(f"{label}: the barcodes on the image ({', '.join(values)}) do not match the specimen's "
                              f"key {key}: the image of another specimen? (--barcode off skips this check)")
    elif rules.barcode is BarcodeMode.REQUIRE:
        found.problems.append(f"{label}: no barcode could be read on the image, so it cannot show that it is "
                              f"specimen {key} (--barcode check makes this a warning)")
    else:
        found.warnings.append(f"{label}: no barcode could be read on the image, so it cannot show that it is "
                              f"specimen {key}")
    return result


def _grey(image: pyvips.Image) -> pyvips.Image:
    """One 8-bit grey band, whatever the colour space and depth."""
    import pyvips

    try:
        grey = image.colourspace("b-w")
    except pyvips.Error:
        grey = image
    grey = grey[0]
    if grey.format == "ushort":
        return (grey >> 8).cast("uchar")
    return grey if grey.format == "uchar" else grey.cast("uchar")
