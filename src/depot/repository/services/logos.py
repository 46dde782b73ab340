"""A community's logo: a small raster image, checked by its bytes rather than its file name.

SVG is refused: it can carry scripts, and the page serves the logo from the repository's own origin.
"""

from __future__ import annotations

import io

MAX_BYTES = 512 * 1024
MAX_EDGE = 4096
# Pillow's format name -> the media type the logo is served with.
TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def check_logo(data: bytes) -> str:
    """The media type of the logo ``data``; a ``ValueError`` says what to fix."""
    if not data:
        raise ValueError("the file is empty")
    if len(data) > MAX_BYTES:
        raise ValueError(f"{len(data)} bytes; a logo is at most {MAX_BYTES} bytes (512 kB)")
    from PIL import Image, UnidentifiedImageError  # here: the CLI imports this module at start

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"not a PNG, JPEG, GIF or WebP image ({exc})") from None
    if kind not in TYPES:
        raise ValueError(f"a {kind} image; a logo is PNG, JPEG, GIF or WebP")
    if width > MAX_EDGE or height > MAX_EDGE:
        raise ValueError(f"{width} x {height} pixels; a logo is at most {MAX_EDGE} pixels a side")
    return TYPES[kind]
