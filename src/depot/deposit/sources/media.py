"""From a specimen's media references to local files: path templates, media URLs and folder look-ups.

Resolution order for one specimen:

1. a path template (``{images}/{catalogNumber}.jpg``; glob characters allowed: ``{images}/{catalogNumber}*``);
2. else each media reference: a local path, or the file name a URL points at (a query-string id such as
   ``?id=123&type=jpeg`` -> ``123.*``, a REST-style ``/id/<x>/`` segment, then the last path segment);
3. else, with an image folder, files named after the catalogNumber (then the key) with any image extension.

Extensions match case-insensitively. Nothing here raises for a specimen: what is not found becomes a
problem string. The first look-up that misses in a folder lists it once and keeps the file names
(about 100 bytes each), so that 281k look-ups do not list a 281k-file folder 281k times.
"""

from __future__ import annotations

import glob
import os
import re
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from depot.deposit.models import FileSpec, MediaRef

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".jp2", ".j2k", ".gif", ".webp", ".bmp",
                              ".dng", ".cr2", ".nef", ".heic"})
_QUERY_ID_KEYS = ("id", "identifier", "filename", "file", "name", "image", "img", "barcode")
_LIST_SEPARATOR = re.compile(r"\s*[|;]\s*")
_COMMA_BEFORE_URL = re.compile(r"\s*,\s*(?=[A-Za-z][A-Za-z0-9+.-]*://)")


def split_associated_media(value: str) -> list[str]:
    """Split a ``dwc:associatedMedia`` value on ``|``, ``;`` and ``,`` (the GBIF convention).

    A comma splits only where the next item starts a new URL, or where there is no URL at all, because
    IIIF image URLs contain commas (``.../full/1000,/0/default.jpg``).
    """
    out: list[str] = []
    for part in _LIST_SEPARATOR.split(value.strip()):
        pieces = _COMMA_BEFORE_URL.split(part) if "://" in part else re.split(r"\s*,\s*", part)
        out.extend(p for p in (piece.strip() for piece in pieces) if p)
    return out


class ImageDirectory:
    """Look-ups in one folder that tolerate extension case; the listing is read once, on the first miss."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._by_lower: dict[str, str] | None = None
        self._by_stem: dict[str, list[str]] | None = None

    def _index(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        if self._by_lower is None or self._by_stem is None:
            by_lower: dict[str, str] = {}
            by_stem: dict[str, list[str]] = {}
            try:
                entries = sorted(e.name for e in os.scandir(self.root) if e.is_file())
            except OSError:
                entries = []
            for name in entries:
                by_lower.setdefault(name.lower(), name)
                stem, ext = os.path.splitext(name)
                if ext.lower() in IMAGE_EXTENSIONS:
                    by_stem.setdefault(stem, []).append(name)
            self._by_lower, self._by_stem = by_lower, by_stem
        return self._by_lower, self._by_stem

    def find_name(self, name: str) -> Path | None:
        """The file called ``name``, or one whose name differs only in the case of its extension."""
        exact = self.root / name
        if exact.is_file():
            return exact
        stem = os.path.splitext(name)[0]
        found = self._index()[0].get(name.lower())
        if found is not None and os.path.splitext(found)[0] == stem:
            return self.root / found
        return None

    def find_stem(self, stem: str) -> list[Path]:
        """Every image file whose name is ``stem`` plus an image extension, sorted."""
        return [self.root / name for name in self._index()[1].get(stem, [])]


class PathTemplate:
    """A ``str.format`` path template over plain term names (no attribute or index access)."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.fields: list[str] = []
        literal = []
        for text, field, spec, conversion in string.Formatter().parse(template):
            literal.append(text)
            if field is None:
                continue
            if not field.isidentifier() or spec or conversion:
                raise ValueError(f"path template field {{{field}}} must be a plain term name, like {{catalogNumber}}")
            self.fields.append(field)
        self.has_wildcards = glob.has_magic("".join(literal))

    def render(self, values: Mapping[str, str], *, escape: bool = False) -> str:
        """The path for these values; raises KeyError naming the first field that has no value."""
        for field in self.fields:
            if field not in values:
                raise KeyError(field)
        if escape:
            values = {k: glob.escape(v) for k, v in values.items()}
        return self.template.format_map(values)


def _unsafe_in_file_name(value: str) -> bool:
    return "/" in value or "\\" in value or value in (".", "..") or "\0" in value


def url_file_candidates(uri: str) -> list[str]:
    """File names (or stems) a media URL may have been saved under, most specific first."""
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    names = [v for key in _QUERY_ID_KEYS for v in query.get(key, [])]
    segments = [unquote(s) for s in parts.path.split("/") if s]
    names += [segments[i + 1] for i, s in enumerate(segments[:-1]) if s.lower() == "id"]
    if segments:
        names.append(segments[-1])
    unique: list[str] = []
    for name in names:
        if name and name not in unique and not _unsafe_in_file_name(name):
            unique.append(name)
    return unique


def _is_url(uri: str) -> bool:
    scheme = urlsplit(uri).scheme
    return len(scheme) > 1 and scheme != "file"  # a one-letter scheme is a Windows drive


class MediaResolver:
    """Turns one specimen's terms and media into local files (``FileSpec``) and problem strings."""

    def __init__(self, *, images: Path | None, path_template: str | None, base: Path) -> None:
        self.images = images
        self.base = base  # where relative paths point when there is no image folder
        self.template = PathTemplate(path_template) if path_template else None
        self._folders: dict[Path, ImageDirectory] = {}

    def _folder(self, root: Path) -> ImageDirectory:
        folder = self._folders.get(root)
        if folder is None:
            folder = self._folders[root] = ImageDirectory(root)
        return folder

    def resolve(self, key: str, terms: Mapping[str, str],
                media: Sequence[MediaRef]) -> tuple[tuple[FileSpec, ...], tuple[str, ...]]:
        problems: list[str] = []
        if self.template is not None:
            found = self._by_template(key, terms, problems)
        elif media:
            found = [path for ref in media for path in self._by_media(ref, problems)]
        elif self.images is not None:
            found = self._by_name(key, terms, problems)
        else:
            found = []
        return self._file_specs(found, problems), tuple(problems)

    def _by_template(self, key: str, terms: Mapping[str, str], problems: list[str]) -> list[Path]:
        assert self.template is not None
        values = {**terms, "key": key}
        for field in self.template.fields:
            if field in values and _unsafe_in_file_name(values[field]):
                problems.append(f"{field} {values[field]!r} cannot be used in a file name")
                return []
        if self.images is not None:
            values["images"] = str(self.images)
        try:
            rendered = self.template.render(values)
            pattern = self.template.render(values, escape=True) if self.template.has_wildcards else ""
        except KeyError as missing:
            problems.append(f"path template {self.template.template!r} needs {missing.args[0]}, which is empty")
            return []
        path = self._anchor(Path(rendered))
        if pattern:
            matches = sorted(Path(p) for p in glob.glob(str(self._anchor(Path(pattern)))) if os.path.isfile(p))
            if not matches:
                problems.append(f"no image matches {path}")
            return matches
        found = self._folder(path.parent).find_name(path.name)
        if found is None:
            problems.append(f"image not found: {path}")
            return []
        return [found]

    def _anchor(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.images or self.base) / path

    def _by_media(self, ref: MediaRef, problems: list[str]) -> list[Path]:
        if not _is_url(ref.uri):
            local = self._anchor(Path(ref.uri.removeprefix("file://")))
            found = self._folder(local.parent).find_name(local.name)
            if found is None:
                problems.append(f"image not found: {local}")
            return [] if found is None else [found]
        if self.images is None:
            return []  # left for a later download step; nothing local to look for
        folder = self._folder(self.images)
        candidates = url_file_candidates(ref.uri)
        for name in candidates:
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                hit = folder.find_name(name)
                if hit is not None:
                    return [hit]
            matches = folder.find_stem(name)
            if matches:
                return matches
        tried = ", ".join(f"{n}.*" if not os.path.splitext(n)[1] else n for n in candidates) or "no file name"
        problems.append(f"no local file for {ref.uri} in {self.images} (looked for {tried})")
        return []

    def _by_name(self, key: str, terms: Mapping[str, str], problems: list[str]) -> list[Path]:
        assert self.images is not None
        stems = [s for s in dict.fromkeys([terms.get("catalogNumber", ""), key]) if s and not _unsafe_in_file_name(s)]
        for stem in stems:
            matches = self._folder(self.images).find_stem(stem)
            if matches:
                return matches
        problems.append(f"no image named {' or '.join(s + '.*' for s in stems) or '(no name)'} in {self.images}")
        return []

    @staticmethod
    def _file_specs(paths: list[Path], problems: list[str]) -> tuple[FileSpec, ...]:
        specs: dict[str, FileSpec] = {}
        seen_paths: set[str] = set()
        for path in paths:
            absolute = os.path.abspath(path)
            if absolute in seen_paths:
                continue
            seen_paths.add(absolute)
            if path.name in specs:
                problems.append(f"two files would both be named {path.name} in the deposit")
                continue
            try:
                size: int | None = path.stat().st_size
            except OSError:
                size = None
            specs[path.name] = FileSpec(path=absolute, name=path.name, size=size)
        return tuple(specs.values())
