"""I/O: render an IIIF operation with libvips (pyvips), streaming: a tile of a 62-megapixel sheet is
cut while decoding top to bottom, and downscaled views use JPEG shrink-on-load, so memory stays far
below the decoded image's size.
"""

from __future__ import annotations

from pathlib import Path

import pyvips

from depot.repository.iiif.params import Operation

SHRINKABLE = {"jpegload", "jpegload_source"}
SAVE_SUFFIX = {"jpg": ".jpg[Q=85,strip]", "png": ".png", "tif": ".tif", "webp": ".webp[Q=85]", "gif": ".gif"}


def dimensions(path: Path) -> tuple[int, int]:
    """Width and height from the header alone."""
    image = pyvips.Image.new_from_file(str(path), access="sequential")
    return int(image.width), int(image.height)


def render(path: Path, op: Operation) -> bytes:
    image = pyvips.Image.new_from_file(str(path), access="sequential")
    shrink = 1
    if image.get("vips-loader") in SHRINKABLE:
        # Decode at 1/2, 1/4 or 1/8 when the output is that much smaller than the region.
        while shrink < 8 and op.w / (shrink * 2) >= op.out_w and op.h / (shrink * 2) >= op.out_h:
            shrink *= 2
        if shrink > 1:
            image = pyvips.Image.new_from_file(str(path), access="sequential", shrink=shrink)
    x, y = op.x // shrink, op.y // shrink
    w = max(1, min(op.w // shrink, image.width - x))
    h = max(1, min(op.h // shrink, image.height - y))
    if (x, y, w, h) != (0, 0, image.width, image.height):
        image = image.crop(x, y, w, h)
    if (image.width, image.height) != (op.out_w, op.out_h):
        image = image.resize(op.out_w / image.width, vscale=op.out_h / image.height)
    if image.hasalpha() and op.format == "jpg":
        image = image.flatten(background=[255, 255, 255])
    if op.mirror or op.rotation:
        # Flips and rotations read out of order: hold the (already cut and scaled) result in memory.
        image = image.copy_memory()
    if op.mirror:
        image = image.fliphor()
    if op.rotation:
        image = image.rotate(op.rotation)
    if op.quality in {"gray", "bitonal"}:
        image = image.colourspace("b-w")
        if op.quality == "bitonal":
            image = (image > 127).ifthenelse(255, 0).cast("uchar")
    data: bytes = image.write_to_buffer(SAVE_SUFFIX[op.format])
    return data
