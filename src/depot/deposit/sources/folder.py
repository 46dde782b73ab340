"""A folder of images and nothing else: one specimen per image, or per group of images.

Without a pattern the key is the file stem (``BR0000008525000.jpg`` -> ``BR0000008525000``). With
``group_pattern`` (a regular expression matched against the stem; its group ``key``, or group 1, is the
key) several files make one specimen: ``^(?P<key>[^_]+)`` puts ``BR0000008525000_all.png`` and
``BR0000008525000_sel.png`` with ``BR0000008525000.jpg``. The only term a specimen gets is its key, under
``key_term`` (catalogNumber unless told otherwise).

Memory: grouping needs every file of a group together, so the source keeps the sorted list of image
*names* (about 100 bytes each; ~30 MB for 281k files), never their content.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from itertools import groupby
from pathlib import Path

from depot.deposit.models import FileSpec, Specimen
from depot.deposit.sources.base import Source
from depot.deposit.sources.errors import SourceError
from depot.deposit.sources.media import IMAGE_EXTENSIONS
from depot.deposit.sources.terms import simple_name


def is_image(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


class FolderSource(Source):
    """Specimens made of the image files in a folder (and its sub-folders with ``recursive=True``)."""

    kind = "folder"

    def __init__(self, path: Path, *, key_term: str | None = None, group_pattern: str | None = None,
                 recursive: bool = False) -> None:
        if not path.is_dir():
            raise SourceError(path, "not a folder")
        super().__init__(path, key_term=simple_name(key_term or "catalogNumber"))
        self.recursive = recursive
        self._real = os.path.realpath(path)
        try:
            self._pattern = re.compile(group_pattern) if group_pattern else None
        except re.error as exc:
            raise SourceError(path, f"--group-pattern {group_pattern!r} is not a regular expression: {exc}") from exc
        if self._pattern is not None and "key" not in self._pattern.groupindex and self._pattern.groups < 1:
            raise SourceError(path, "--group-pattern needs a group for the key, e.g. '^(?P<key>[^_]+)'")

    def _relative_names(self) -> list[str]:
        names: list[str] = []
        try:
            if self.recursive:
                for folder, subfolders, files in os.walk(self.path):
                    subfolders[:] = [d for d in subfolders if not d.startswith(".")]
                    rel = os.path.relpath(folder, self.path)
                    names += [n if rel == "." else os.path.join(rel, n) for n in files if is_image(n)]
            else:
                names = [e.name for e in os.scandir(self.path) if e.is_file() and is_image(e.name)]
        except OSError as exc:
            raise SourceError(self.path, f"cannot list the folder: {exc}") from exc
        return names

    def _group_of(self, relative: str) -> tuple[str, bool]:
        """(key, whether the name matched the pattern) for one file."""
        stem = os.path.splitext(os.path.basename(relative))[0]
        if self._pattern is None:
            return stem, True
        match = self._pattern.match(stem)
        if match is None:
            return stem, False
        key = match.group("key") if "key" in self._pattern.groupindex else match.group(1)
        return (key, True) if key else (stem, False)

    def _specimens(self) -> Iterator[Specimen]:
        keyed = sorted((*self._group_of(n), n) for n in self._relative_names())
        for row, (key, group) in enumerate(groupby(keyed, key=lambda t: t[0]), start=1):
            members = list(group)
            matched = any(m for _, m, _ in members)  # a stray name that lands beside matching ones belongs there
            names = [n for _, _, n in members]
            # the file named exactly after the key (the main image) first, then the rest by name
            names.sort(key=lambda n: (os.path.splitext(os.path.basename(n))[0] != key, n))
            files: list[FileSpec] = []
            problems: list[str] = []
            for relative in names:
                full = self.path / relative
                base = os.path.basename(relative)
                real = os.path.realpath(full)
                if not (real == self._real or real.startswith(self._real.rstrip(os.sep) + os.sep)):
                    problems.append(f"{relative} is a symbolic link to {real}, outside the folder {self.path}; "
                                    "only files inside it are deposited")
                    continue
                if any(f.name == base for f in files):
                    problems.append(f"two files would both be named {base} in the deposit")
                    continue
                try:
                    size: int | None = full.stat().st_size
                except OSError:
                    size = None
                files.append(FileSpec(path=os.path.abspath(full), name=base, size=size))
            if not matched:
                problems.append(f"{names[0]}: file name does not match --group-pattern {self._pattern.pattern!r}"
                                if self._pattern else f"{names[0]}: file name gives no key")
            yield Specimen(key=key, terms={self.key_term: key}, files=tuple(files), problems=tuple(problems), row=row)
