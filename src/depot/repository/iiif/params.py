"""IIIF Image API 3.0 request parameters (pure): parse region/size/rotation/quality/format and resolve
them against an image's width and height into one concrete operation.

Errors are ``IIIFError(status, message)``: 400 for a malformed or impossible request, 501 for a valid
request beyond what this server supports (spec §4.7: "a feature not supported" → 501).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

IIIF_FORMATS = {"jpg", "tif", "png", "gif", "jp2", "pdf", "webp"}  # Image API 3.0 §4.5
FORMATS = {"jpg": "image/jpeg", "png": "image/png", "tif": "image/tiff", "webp": "image/webp", "gif": "image/gif"}
QUALITIES = ("default", "color", "gray", "bitonal")
_NUM = r"\d+(?:\.\d+)?"


class IIIFError(ValueError):
    """Raised for a bad (400) or unsupported (501) IIIF request; ``status`` says which."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Operation:
    """A resolved request: crop box in source pixels, output size, rotation, mirroring, quality, format."""

    x: int
    y: int
    w: int
    h: int
    out_w: int
    out_h: int
    rotation: float
    mirror: bool
    quality: str
    format: str

    @property
    def is_full_size(self) -> bool:
        return (self.out_w, self.out_h) == (self.w, self.h)


def parse_region(region: str, width: int, height: int) -> tuple[int, int, int, int]:
    if region == "full":
        return 0, 0, width, height
    if region == "square":
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side
    pct = region.startswith("pct:")
    body = region[4:] if pct else region
    if not re.fullmatch(rf"{_NUM},{_NUM},{_NUM},{_NUM}" if pct else r"\d+,\d+,\d+,\d+", body):
        raise IIIFError(400, f"Invalid region: {region!r}")
    x, y, w, h = (float(v) for v in body.split(","))
    if pct:
        x, y, w, h = x * width / 100, y * height / 100, w * width / 100, h * height / 100
    x, y = round(x), round(y)
    w, h = round(w), round(h)
    if w <= 0 or h <= 0:
        raise IIIFError(400, f"Region {region!r} has zero width or height")
    if x >= width or y >= height:
        raise IIIFError(400, f"Region {region!r} lies outside the {width}x{height} image")
    return x, y, min(w, width - x), min(h, height - y)


def parse_size(size: str, w: int, h: int, *, max_area: int, max_width: int, max_height: int) -> tuple[int, int]:
    upscale = size.startswith("^")
    body = size[1:] if upscale else size
    if body == "max":
        out_w, out_h = w, h
        scale = min(1.0 if not upscale else math.inf, max_width / w, max_height / h, math.sqrt(max_area / (w * h)))
        if scale < 1 or upscale:
            out_w, out_h = max(1, int(w * scale)), max(1, int(h * scale))
        return out_w, out_h
    if body.startswith("pct:"):
        if not re.fullmatch(_NUM, body[4:]):
            raise IIIFError(400, f"Invalid size: {size!r}")
        n = float(body[4:])
        if n <= 0 or (n > 100 and not upscale):
            raise IIIFError(400, f"Size {size!r} needs 0 < n <= 100 (or ^ to upscale)")
        out_w, out_h = max(1, round(w * n / 100)), max(1, round(h * n / 100))
    elif m := re.fullmatch(r"(!)?(\d*),(\d*)", body):
        confined, sw, sh = m.group(1) is not None, m.group(2), m.group(3)
        if confined:
            if not sw or not sh:
                raise IIIFError(400, f"Invalid size: {size!r}")
            scale = min(int(sw) / w, int(sh) / h)
            out_w, out_h = max(1, int(w * scale)), max(1, int(h * scale))
        elif sw and sh:
            out_w, out_h = int(sw), int(sh)
        elif sw:
            out_w = int(sw)
            out_h = max(1, round(h * out_w / w))
        elif sh:
            out_h = int(sh)
            out_w = max(1, round(w * out_h / h))
        else:
            raise IIIFError(400, f"Invalid size: {size!r}")
    else:
        raise IIIFError(400, f"Invalid size: {size!r}")
    if out_w <= 0 or out_h <= 0:
        raise IIIFError(400, f"Size {size!r} gives an empty image")
    if not upscale and (out_w > w or out_h > h):
        raise IIIFError(400, f"Size {size!r} is larger than the region; use ^ to allow upscaling")
    if out_w > max_width or out_h > max_height or out_w * out_h > max_area:
        raise IIIFError(400, f"Size {size!r} exceeds the server's maximum")
    return out_w, out_h


def parse_rotation(rotation: str) -> tuple[float, bool]:
    mirror = rotation.startswith("!")
    body = rotation[1:] if mirror else rotation
    if not re.fullmatch(_NUM, body) or not 0 <= float(body) <= 360:
        raise IIIFError(400, f"Invalid rotation: {rotation!r}")
    degrees = float(body) % 360
    if degrees % 90:
        raise IIIFError(501, "Only rotations by multiples of 90 degrees are supported")
    return degrees, mirror


def resolve(region: str, size: str, rotation: str, quality_format: str, width: int, height: int, *,
            max_area: int = 100_000_000, max_width: int = 20_000, max_height: int = 20_000) -> Operation:
    """Resolve the four path segments (the last as ``quality.format``) against the image's size."""
    if "." not in quality_format:
        raise IIIFError(400, f"Missing format in {quality_format!r}")
    quality, fmt = quality_format.rsplit(".", 1)
    if quality not in QUALITIES:
        raise IIIFError(400, f"Invalid quality: {quality!r}")
    if fmt not in FORMATS:
        # A format the Image API defines but this server does not produce is "not implemented"; anything
        # else is a malformed request (the IIIF validator's format_error_random expects 400).
        raise IIIFError(501 if fmt in IIIF_FORMATS else 400, f"Unsupported format: {fmt!r}")
    x, y, w, h = parse_region(region, width, height)
    out_w, out_h = parse_size(size, w, h, max_area=max_area, max_width=max_width, max_height=max_height)
    degrees, mirror = parse_rotation(rotation)
    return Operation(x, y, w, h, out_w, out_h, degrees, mirror, quality, fmt)


def info(identifier_url: str, width: int, height: int, *, max_area: int = 100_000_000,
         tile: int = 512) -> dict[str, object]:
    """The info.json document (level 2) for an image of ``width`` x ``height``."""
    factors = [1]
    while max(width, height) / (factors[-1] * 2) >= tile:
        factors.append(factors[-1] * 2)
    return {
        "@context": "http://iiif.io/api/image/3/context.json",
        "id": identifier_url,
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": "level2",
        "width": width,
        "height": height,
        "maxArea": max_area,
        "tiles": [{"width": tile, "height": tile, "scaleFactors": factors}],
        "extraQualities": ["color", "gray", "bitonal"],
        "extraFormats": ["tif", "webp", "gif"],
        "extraFeatures": ["mirroring", "regionByPct", "regionByPx", "regionSquare", "rotationBy90s", "sizeByConfinedWh",
                          "sizeByH", "sizeByPct", "sizeByW", "sizeByWh", "sizeUpscaling", "cors", "jsonldMediaType",
                          "profileLinkHeader", "baseUriRedirect"],
    }
