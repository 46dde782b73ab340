"""The outcome of checking one file: what it is, what was read on it, and what is wrong with it (pure)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class FileCheck:
    """One file's check. ``problems`` block the specimen's deposit; ``warnings`` do not. Every message
    names the file. ``format`` is ``jpeg``, ``png``, ``tiff``, ``jp2`` or None (not an image);
    ``colour_space`` is libvips' interpretation (``srgb``, ``b-w``, ``cmyk``, ``rgb16``...);
    ``barcodes`` are the values read on the image, as read."""

    path: str
    name: str
    size: int | None = None
    mtime_ns: int | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    bands: int | None = None
    colour_space: str | None = None
    barcodes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def properties(self) -> dict[str, Any]:
        """What a profile template sees of the image (``image.width``...; see docs/profiles.md)."""
        pixels = self.width * self.height if self.width is not None and self.height is not None else None
        return {"name": self.name, "format": self.format, "width": self.width, "height": self.height,
                "pixels": pixels, "bands": self.bands, "colour_space": self.colour_space, "size": self.size,
                "barcodes": list(self.barcodes)}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileCheck:
        """The FileCheck ``to_json`` gave; raises KeyError or TypeError for anything else."""
        fields = dict(data)
        for name in ("barcodes", "problems", "warnings"):
            fields[name] = tuple(str(v) for v in fields.get(name, ()))
        return cls(**fields)
