"""What a file holds, by its first bytes, and what its name says it holds (pure).

Preservation-friendly formats, after the seed report §6: TIFF, PNG and JPEG 2000 are preferred; JPEG is
accepted (lossy). ``json`` is the sidecar a profile may add; it is known but not an image.
"""

from __future__ import annotations

import posixpath

SIGNATURES = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"II+\x00", "tiff"), (b"MM\x00+", "tiff"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "jp2"), (b"\xff\x4f\xff\x51", "j2k"),
    (b"{", "json"), (b"[", "json"),
)
HEAD_BYTES = 16  # enough for every signature above

IMAGE_FORMATS = ("jpeg", "png", "tiff", "jp2")  # what FileCheck.format can be
_IMAGE = {"jpeg": "jpeg", "png": "png", "tiff": "tiff", "jp2": "jp2", "j2k": "jp2"}

# what a file's extension promises; repositories serve a file with the media type of its name
EXTENSIONS = {
    "jpg": "jpeg", "jpeg": "jpeg", "jpe": "jpeg", "jfif": "jpeg",
    "png": "png",
    "tif": "tiff", "tiff": "tiff",
    "jp2": "jp2", "j2k": "jp2", "j2c": "jp2", "jpf": "jp2", "jpx": "jp2",
    "json": "json", "jsonld": "json",
}
DISPLAY = {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF", "jp2": "JPEG 2000", "json": "JSON"}


def sniff(head: bytes) -> str | None:
    """The format the first bytes announce (``jpeg``, ``png``, ``tiff``, ``jp2``, ``j2k``, ``json``), or None."""
    for signature, name in SIGNATURES:
        if head.startswith(signature):
            return name
    return None


def image_format(sniffed: str | None) -> str | None:
    """The image format of a sniffed signature (a raw J2K codestream is ``jp2``); None for anything else."""
    return _IMAGE.get(sniffed or "")


def promised_format(name: str) -> str | None:
    """The format a file name's extension promises, or None when the extension is not one Depot knows."""
    extension = posixpath.splitext(name.lower())[1].lstrip(".")
    return EXTENSIONS.get(extension)
