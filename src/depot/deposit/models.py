"""Plain values that flow through the depositor: no I/O here.

A source yields :class:`Specimen` values; a mapping profile turns one into a :class:`PlannedRecord`
(deposit metadata plus the files to upload), which the planner and the runner work on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MediaRef:
    """One image (or other file) that a source row points at, before it is resolved to a local path."""

    uri: str  # the media URL or file reference as written in the source
    format: str | None = None  # e.g. "image/jpeg" as declared by the source
    license: str | None = None  # the media's own licence (may differ from the data's)
    title: str | None = None
    creator: str | None = None
    rights_holder: str | None = None
    hash_function: str | None = None  # Audubon Core ac:hashFunction and ac:hashValue: of the bytes served at
    hash_value: str | None = None  # the URI (checked on a file --fetch-media downloaded from it)


@dataclass(frozen=True)
class Expected:
    """What a file's bytes must hash to, as a checksum file of the dataset says (``--checksums``), and
    where it says so, for messages (``checksums.md5 line 12``)."""

    algorithm: str  # a hashlib name: md5, sha1, sha256, sha512...
    digest: str  # lower-case hex
    origin: str


@dataclass(frozen=True)
class FileSpec:
    """A local file that will be uploaded, under the name it will have in the deposit."""

    path: str  # absolute or source-relative path on the local disk
    name: str  # the file name (key) in the deposit's bucket
    size: int | None = None  # filled in when the file is inspected
    md5: str | None = None
    sha256: str | None = None
    expected: tuple[Expected, ...] = ()  # checked with the image, before anything is sent


@dataclass(frozen=True)
class Specimen:
    """One specimen from a source: its stable key, its Darwin Core terms and its media.

    ``terms`` maps *simple* Darwin Core / Dublin Core term names (``catalogNumber``, ``scientificName``,
    ``license``...) to their string values exactly as in the source; empty values are omitted.
    ``files`` holds the media already resolved to local files; ``problems`` holds what went wrong
    while reading or resolving this specimen (a missing image, say), so that one bad row never stops
    the others.
    """

    key: str
    terms: dict[str, str]
    media: tuple[MediaRef, ...] = ()
    files: tuple[FileSpec, ...] = ()
    problems: tuple[str, ...] = ()
    row: int | None = None  # 1-based row number in the source's core file, for messages


@dataclass(frozen=True)
class PlannedRecord:
    """What one specimen becomes: the deposit metadata and the files to upload.

    ``metadata`` is the legacy Zenodo deposit ``metadata`` object (the body of a create request is
    ``{"metadata": metadata}``). ``sidecars`` are generated files (e.g. a Darwin Core JSON-LD) given
    as ``(name, bytes)``. ``row``, ``terms`` and ``media`` come from the specimen, for messages, file
    names and the media licence check; ``licence_prefer`` is the profile's choice when the media and
    the record are licensed differently ("media", "record" or None: then it is a problem).
    """

    key: str
    metadata: dict[str, Any]
    files: tuple[FileSpec, ...] = ()
    sidecars: tuple[tuple[str, bytes], ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)
    row: int | None = None
    terms: Mapping[str, str] = field(default_factory=dict, repr=False)
    media: tuple[MediaRef, ...] = ()
    licence_prefer: str | None = None
    # Each local file's check by path (depot.deposit.images.FileCheck), when the files were decoded.
    file_checks: Mapping[str, Any] = field(default_factory=dict, repr=False)
