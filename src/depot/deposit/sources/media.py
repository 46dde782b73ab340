"""From a specimen's media references to local files: path templates, media URLs and folder look-ups.

Resolution order for one specimen:

1. a path template (``{images}/{catalogNumber}.jpg``; glob characters allowed: ``{images}/{catalogNumber}*``);
2. else each media reference: a local path, or the file name a URL points at (a query-string id such as
   ``?id=123&type=jpeg`` -> ``123.*``, a REST-style ``/id/<x>/`` segment, then the last path segment);
3. else, with an image folder, files named after the catalogNumber (then the key) with any image extension.

Extensions match case-insensitively. Nothing here raises for a specimen: what is not found becomes a
problem string. Every local file must lie inside the image folder (or, without one, the archive or the
table's folder), also after following symbolic links: an absolute path, ``..``, a ``file://`` URL or a
link that leads elsewhere is a problem, so that no file from elsewhere on the disk is ever published.
A media URL is looked up in the image folder, then in the ``--fetch-media`` cache; a specimen whose media
are only links is a problem when ``require_local`` says that files are needed.

The first look-up that misses in a folder lists it once and keeps the file names (about 100 bytes each),
so that 281k look-ups do not list a 281k-file folder 281k times.
"""

from __future__ import annotations

import difflib
import glob
import os
import re
import stat
import string
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from depot.deposit.models import Expected, FileSpec, MediaRef
from depot.deposit.sources.cache import MediaCache
from depot.deposit.sources.checksums import of_media, with_expected

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
    return len(scheme) > 1 and scheme.lower() != "file"  # a one-letter scheme is a Windows drive


def is_fetchable(uri: str) -> bool:
    return urlsplit(uri).scheme.lower() in ("http", "https")


def _local_path(uri: str) -> Path:
    """The path a local media value names: a plain path, or a ``file:`` URL's path."""
    if uri[:5].lower() == "file:":
        return Path(unquote(urlsplit(uri).path))
    return Path(uri)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


FOLDERS_KEPT = 4096  # folders whose real path is remembered (a run's images sit in a few folders)


class RealPaths:
    """``os.path.realpath`` with each folder's real path asked once: a file that is not itself a link
    really lies where its folder really lies. realpath checks every component of every path (0.1 ms per
    file here, twice per file); the folders are those ImageDirectory already lists once per run."""

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        folder, name = os.path.split(path)
        if name in ("", ".", "..") or not folder:
            return os.path.realpath(path)
        try:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return os.path.realpath(path)
        except OSError:
            return os.path.realpath(path)  # missing: realpath's answer for it, whatever that is
        real = self._folders.get(folder)
        if real is None:
            if len(self._folders) >= FOLDERS_KEPT:
                self._folders.clear()
            real = self._folders[folder] = os.path.realpath(folder)
        return os.path.join(real, name)


def _inside(path: str, root_real: str, real: Callable[[str], str] = os.path.realpath) -> bool:
    """Whether ``path`` really lies in the folder whose real path is ``root_real``, links followed."""
    return _within(real(path), root_real)


class MediaResolver:
    """Turns one specimen's terms and media into local files (``FileSpec``) and problem strings.

    ``base`` is where relative paths point when there is no image folder, and ``base_label`` how messages
    name it. ``require_local``: a specimen whose media are only web links is a problem. ``cache``: where
    ``--fetch-media`` put the files of media URLs.
    """

    def __init__(self, *, images: Path | None, path_template: str | None, base: Path, base_label: str | None = None,
                 require_local: bool = False, cache: MediaCache | None = None) -> None:
        self.images = images
        self.base = base
        self.template = PathTemplate(path_template) if path_template else None
        self.require_local = require_local
        self.cache = cache
        self._folders: dict[Path, ImageDirectory] = {}
        self.root = images or base
        self.root_label = f"--images {images}" if images is not None else (base_label or f"the folder {base}")
        self._root_real = os.path.realpath(self.root)
        self._real = RealPaths()
        self._template_root, self._template_label = self.root, self.root_label
        if self.template is not None:
            literal = self.template.template.split("{", 1)[0]
            if os.path.isabs(literal):  # the user chose an absolute folder: files stay inside that one
                folder = literal.rstrip("/" + os.sep) if literal.endswith(("/", os.sep)) else os.path.dirname(literal)
                self._template_root, self._template_label = Path(folder), f"the --path-template folder {folder}"
        self._template_real = os.path.realpath(self._template_root)

    def _folder(self, root: Path) -> ImageDirectory:
        folder = self._folders.get(root)
        if folder is None:
            folder = self._folders[root] = ImageDirectory(root)
        return folder

    def resolve(self, key: str, terms: Mapping[str, str],
                media: Sequence[MediaRef]) -> tuple[tuple[FileSpec, ...], tuple[str, ...]]:
        problems: list[str] = []
        expected: dict[Path, tuple[Expected, ...]] = {}
        if self.template is not None:
            found = self._by_template(key, terms, problems)
        elif media:
            links: list[str] = []
            found = [path for ref in media for path in self._by_media(ref, problems, links, expected)]
            if links and self.require_local:
                more = f" (and {len(links) - 1} more)" if len(links) > 1 else ""
                problems.append(f"image {links[0]}{more} is only a web link; pass --fetch-media to download "
                                "it, or --images with a folder that holds the files")
        elif self.images is not None:
            found = self._by_name(key, terms, problems)
        else:
            found = []
        return self._file_specs(found, problems, expected), tuple(problems)

    def _confined(self, value: str, paths: list[Path], root_real: str, label: str,
                  problems: list[str]) -> list[Path]:
        """The paths that really lie inside the root; each one that does not (a link out) is a problem."""
        kept = []
        for path in paths:
            if _inside(str(path), root_real, self._real):
                kept.append(path)
            else:
                problems.append(f"image {value} is a symbolic link to {os.path.realpath(path)}, outside {label}; "
                                "only files inside it are deposited")
        return kept

    def _outside(self, value: str, path: Path, root: Path, label: str, problems: list[str]) -> list[Path]:
        """The problem for a path that is not really inside ``root``: named as a link when only a link takes
        it out, so that the user knows where to look."""
        if _within(os.path.normpath(os.path.abspath(path)), os.path.normpath(os.path.abspath(root))):
            return self._confined(value, [path], os.path.realpath(root), label, problems)
        problems.append(f"image {value} is outside {label}; only files inside it are deposited")
        return []

    def _by_template(self, key: str, terms: Mapping[str, str], problems: list[str]) -> list[Path]:
        assert self.template is not None
        values = {**terms, "key": key}
        for field in self.template.fields:
            if field in values and _unsafe_in_file_name(values[field]):
                problems.append(f"{field} {values[field]!r} cannot be used in a file name (--path-template)")
                return []
        if self.images is not None:
            values["images"] = str(self.images)
        try:
            rendered = self.template.render(values)
            pattern = self.template.render(values, escape=True) if self.template.has_wildcards else ""
        except KeyError as missing:
            name = missing.args[0]
            close = difflib.get_close_matches(name, [k for k in values if k not in ("images", "key")], n=1, cutoff=0.85)
            hint = ("; pass --images" if name == "images" else
                    f" (a misspelling of {{{close[0]}}}?)" if close else "")
            problems.append(f"--path-template {self.template.template!r} needs {name}, which this row has no value "
                            f"for{hint}")
            return []
        path = self._anchor(Path(rendered))
        if not _inside(str(path), self._template_real, self._real):
            return self._outside(str(path), path, self._template_root, self._template_label, problems)
        if pattern:
            matches = sorted(Path(p) for p in glob.glob(str(self._anchor(Path(pattern)))) if os.path.isfile(p))
            if not matches:
                problems.append(f"no image matches {path} (--path-template)")
            return self._confined(str(path), matches, self._template_real, self._template_label, problems)
        found = self._folder(path.parent).find_name(path.name)
        if found is None:
            problems.append(f"image not found: {path} (--path-template)")
            return []
        return self._confined(str(path), [found], self._template_real, self._template_label, problems)

    def _anchor(self, path: Path) -> Path:
        return path if path.is_absolute() else self.root / path

    def _by_media(self, ref: MediaRef, problems: list[str], links: list[str],
                  expected: dict[Path, tuple[Expected, ...]]) -> list[Path]:
        if not _is_url(ref.uri):
            local = self._anchor(_local_path(ref.uri))
            if not _inside(str(local), self._root_real, self._real):
                return self._outside(ref.uri, local, self.root, self.root_label, problems)
            found = self._folder(local.parent).find_name(local.name)
            if found is None:
                problems.append(f"image {ref.uri} not found in {self.root_label} (looked for {local})")
                return []
            return self._confined(ref.uri, [found], self._root_real, self.root_label, problems)
        if self.images is not None:
            hits = self._in_images(ref.uri)
            if hits:
                return self._confined(ref.uri, hits, self._root_real, self.root_label, problems)
        if self.cache is not None:
            if not is_fetchable(ref.uri):
                problems.append(f"image {ref.uri} cannot be fetched: only http and https links can (--fetch-media)")
                return []
            cached, error = self.cache.lookup(ref.uri)
            if cached is not None:
                # Downloaded from the URI, so the archive's checksum of what it serves applies (a file taken
                # from --images by name may be a master of which the URI serves a derivative: not checked).
                digests, problem = of_media(ref)
                if problem is not None:
                    problems.append(problem)
                expected[cached] = tuple(
                    Expected(e.algorithm, e.digest, f"{e.origin} (if the download is damaged, delete "
                                                    f"{cached.parent} and run again to fetch it anew)")
                    for e in digests)
                return [cached]
            problems.append(f"image {ref.uri} could not be fetched: {error} (--fetch-media)" if error else
                            f"image {ref.uri} was not fetched (--fetch-media)")
            return []
        if self.images is not None:
            candidates = url_file_candidates(ref.uri)
            tried = ", ".join(f"{n}.*" if not os.path.splitext(n)[1] else n for n in candidates) or "no file name"
            problems.append(f"image {ref.uri}: no local file for it in {self.root_label} (looked for {tried}); "
                            "or pass --fetch-media to download it")
            return []
        links.append(ref.uri)  # nothing local to look for; a problem only when files are required
        return []

    def _in_images(self, uri: str) -> list[Path]:
        assert self.images is not None
        folder = self._folder(self.images)
        for name in url_file_candidates(uri):
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                hit = folder.find_name(name)
                if hit is not None:
                    return [hit]
            matches = folder.find_stem(name)
            if matches:
                return matches
        return []

    def _by_name(self, key: str, terms: Mapping[str, str], problems: list[str]) -> list[Path]:
        assert self.images is not None
        stems = [s for s in dict.fromkeys([terms.get("catalogNumber", ""), key]) if s and not _unsafe_in_file_name(s)]
        for stem in stems:
            matches = self._folder(self.images).find_stem(stem)
            if matches:
                return self._confined(f"{stem}.*", matches, self._root_real, self.root_label, problems)
        problems.append(f"no image named {' or '.join(s + '.*' for s in stems) or '(no name)'} in {self.root_label}")
        return []

    @staticmethod
    def _file_specs(paths: list[Path], problems: list[str],
                    expected: Mapping[Path, tuple[Expected, ...]]) -> tuple[FileSpec, ...]:
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
            specs[path.name] = with_expected(FileSpec(path=absolute, name=path.name, size=size), expected.get(path, ()))
        return tuple(specs.values())
