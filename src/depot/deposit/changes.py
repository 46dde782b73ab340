"""What `depot sync` must do for one published specimen: nothing, an edit in place, or a new version.

Pure: the caller passes what was published (the ledger's latest version) and what the source says now,
with a function that hashes a local file. A file counts as unchanged when its size and mtime match the
published one, or else when its MD5 does: touching an image, or copying the archive elsewhere, must not
make a new version (each new version is a new DOI for ever).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["unchanged", "edit", "version"]

# Requests each kind costs on current Zenodo (research/zenodo-api.md §2.6): an edit is edit, PUT the
# metadata, publish; a new version is newversion, one DELETE per file that goes or is replaced, one PUT
# per file that comes, PUT the metadata (newversion drops publication_date), publish.
EDIT_REQUESTS = 3


@dataclass(frozen=True)
class PublishedFile:
    name: str
    size: int | None
    mtime_ns: int | None
    md5: str | None


@dataclass(frozen=True)
class WantedFile:
    name: str
    path: str
    size: int | None
    mtime_ns: int | None
    md5: str | None = None  # known up front for generated sidecars


@dataclass(frozen=True)
class Change:
    kind: Kind
    md5: dict[str, str] = field(default_factory=dict)  # name -> MD5, for every wanted file whose MD5 is known
    same: frozenset[str] = frozenset()  # wanted files whose content is already in the published version
    upload: tuple[str, ...] = ()  # wanted files to upload (new, or new content)
    delete: tuple[str, ...] = ()  # published files to remove from the new version (gone, or replaced)

    @property
    def requests(self) -> int:
        if self.kind == "edit":
            return EDIT_REQUESTS
        if self.kind == "version":
            return 1 + len(self.delete) + len(self.upload) + 2
        return 0


def compare(*, published_metadata_hash: str, published_files: Sequence[PublishedFile], metadata_hash: str,
            wanted: Sequence[WantedFile], md5_of: Callable[[str], str]) -> Change:
    """Classify one specimen against its latest published version."""
    before = {f.name: f for f in published_files}
    md5: dict[str, str] = {}
    same: set[str] = set()
    upload: list[str] = []
    for want in wanted:
        old = before.get(want.name)
        digest = want.md5
        if digest is None and old is not None and old.md5 is not None and want.size is not None \
                and (want.size, want.mtime_ns) == (old.size, old.mtime_ns):
            digest = old.md5
        if digest is None and old is not None and old.size == want.size:
            digest = md5_of(want.path)  # only a same-size file can be unchanged: hash just those
        if digest is not None:
            md5[want.name] = digest
        if old is not None and digest is not None and digest == old.md5:
            same.add(want.name)
        else:
            upload.append(want.name)
    names = {w.name for w in wanted}
    delete = tuple(sorted(n for n in before if n not in names or n in upload))
    if upload or delete:
        return Change("version", md5, frozenset(same), tuple(upload), delete)
    kind: Kind = "edit" if metadata_hash != published_metadata_hash else "unchanged"
    return Change(kind, md5, frozenset(same))
