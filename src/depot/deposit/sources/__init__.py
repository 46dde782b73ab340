"""Sources: read a dataset and yield one :class:`~depot.deposit.models.Specimen` per specimen, streaming.

    with open_source("dwca-trom_algae-v1.25.zip", images="scans/") as source:
        for specimen in source:
            ...

Kinds: ``dwca`` (a zip/tgz, or a folder with meta.xml), ``table`` (.csv/.tsv/.txt) and ``folder`` (images
only). Bad input raises :class:`SourceError`; problems with one specimen land in its ``problems``.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

from depot.deposit.sources.base import DatasetInfo, Source
from depot.deposit.sources.cache import MediaCache
from depot.deposit.sources.dwca import DwcaSource
from depot.deposit.sources.errors import SourceError
from depot.deposit.sources.folder import FolderSource, is_image
from depot.deposit.sources.media import PathTemplate, split_associated_media
from depot.deposit.sources.table import TableSource

__all__ = ["KINDS", "DatasetInfo", "DwcaSource", "FolderSource", "MediaCache", "Source", "SourceError",
           "TableSource", "detect_kind", "open_source", "split_associated_media"]

KINDS = ("dwca", "table", "folder")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".tab")
ARCHIVE_SUFFIXES = (".zip", ".tgz", ".tar.gz", ".tar")


def detect_kind(path: Path) -> str:
    """``dwca``, ``table`` or ``folder`` for a path that exists; SourceError when it is none of these."""
    if path.is_dir():
        names = [e.name for e in os.scandir(path) if e.is_file()]
        if any(n.lower() == "meta.xml" for n in names):
            return "dwca"
        if any(is_image(n) for n in names):
            return "folder"
        raise SourceError(path, "the folder has neither a meta.xml (Darwin Core Archive) nor image files "
                                "(images in sub-folders? pass --kind folder --recursive)")
    if path.suffix.lower() in TABLE_SUFFIXES:
        return "table"
    if zipfile.is_zipfile(path) or tarfile.is_tarfile(path):
        return "dwca"
    if path.name.lower().endswith(ARCHIVE_SUFFIXES):
        raise SourceError(path, f"named {path.suffix} but not a readable archive: damaged, or cut short "
                                f"({path.stat().st_size} bytes)?")
    raise SourceError(path, "not a Darwin Core Archive (zip, tgz or folder with meta.xml), "
                            "a table (.csv, .tsv, .txt) or a folder of images")


# How the command line spells each option, for messages.
FLAGS = {"columns": "--column", "delimiter": "--delimiter", "header": "--no-header", "quoted": "--no-quotes",
         "encoding": "--encoding", "data_license": "--license", "group_pattern": "--group-pattern",
         "recursive": "--recursive", "images": "--images", "path_template": "--path-template",
         "media_cache": "--fetch-media"}


def _reject(path: Path, kind: str, given: Mapping[str, object]) -> None:
    wrong = [FLAGS.get(name, name) for name, value in given.items() if value is not None and value is not False]
    if wrong:
        raise SourceError(path, f"{', '.join(wrong)} cannot be used with a {kind} source (--kind {kind})")


def open_source(path: str | os.PathLike[str], *, kind: str | None = None,
                images: str | os.PathLike[str] | None = None, path_template: str | None = None,
                key_term: str | None = None, columns: Mapping[str | int, str] | None = None,
                delimiter: str | None = None, header: bool | None = None, quoted: bool | None = None,
                encoding: str | None = None, data_license: str | None = None, group_pattern: str | None = None,
                recursive: bool = False, require_local: bool = False, media_cache: MediaCache | None = None) -> Source:
    """Open a dataset; the kind is detected from the path unless ``kind`` says it.

    ``images``: the folder image files are looked up in; no local file outside it (or, without it, outside
    the archive or the table's folder) is ever taken. ``path_template``: where a specimen's image is,
    as ``{images}/{catalogNumber}.jpg`` (fields: term names, ``key``, ``images``; glob wildcards allowed).
    ``key_term``: the term whose value is each specimen's key (default occurrenceID, else catalogNumber;
    ``id`` is a DwC-A's core id). ``data_license``: the data licence, for a table, or instead of the one
    an archive's EML states. ``require_local``: a specimen whose images are only web links is a problem.
    ``media_cache``: where ``--fetch-media`` downloaded media URLs to. Tables: ``columns`` (source column
    or 1-based position -> term), ``delimiter`` (sniffed when None; ``tab`` and ``\\t`` name a tab),
    ``header`` (None: present unless ``columns`` uses positions only), ``quoted`` (False: double quotes are
    data; default: True except for tab-separated tables), ``encoding`` (detected when None: UTF-8 with or
    without a byte-order mark, UTF-16 with one, or cp1252). Folders: ``group_pattern``, ``recursive``.

    Raises SourceError for a missing path, an unknown kind, options that do not fit the kind, or input
    that cannot be read.
    """
    where = Path(path).expanduser()
    if not where.exists():
        raise SourceError(where, "no such file or folder")
    if kind is not None and kind not in KINDS:
        raise SourceError(where, f"unknown source kind {kind!r} (--kind); one of {', '.join(KINDS)}")
    image_folder = Path(images).expanduser() if images is not None else None
    if image_folder is not None and not image_folder.is_dir():
        raise SourceError(image_folder, "the image folder (--images) does not exist")
    if path_template is not None:
        try:
            PathTemplate(path_template)
        except ValueError as exc:
            raise SourceError(where, f"--path-template: {exc}") from exc
    kind = kind or detect_kind(where)
    table_options = {"columns": columns, "delimiter": delimiter, "encoding": encoding,  # False is a choice too:
                     "header": None if header is None else True, "quoted": None if quoted is None else True}
    folder_options = {"group_pattern": group_pattern, "recursive": recursive or None}
    if kind == "dwca":
        _reject(where, kind, {**table_options, **folder_options})
        return DwcaSource(where, images=image_folder, path_template=path_template, key_term=key_term,
                          data_license=data_license, require_local=require_local, media_cache=media_cache)
    if kind == "table":
        _reject(where, kind, folder_options)
        if where.is_dir():
            raise SourceError(where, "a table source needs a file, not a folder")
        return TableSource(where, images=image_folder, path_template=path_template, key_term=key_term,
                           columns=columns, delimiter=delimiter, header=header, quoted=quoted, encoding=encoding,
                           data_license=data_license, require_local=require_local, media_cache=media_cache)
    _reject(where, kind, {**table_options, "images": image_folder, "path_template": path_template,
                          "data_license": data_license, "media_cache": media_cache})
    return FolderSource(where, key_term=key_term, group_pattern=group_pattern, recursive=recursive)
