"""The one interface to file content (decision 0005): what the repository asks of a store of bytes.

``BlobStore`` (``blobs.py``, a local or shared POSIX filesystem) implements it; an S3-compatible store can
follow without touching the services. Every method names content by its ``uri``, the opaque string that
``file_instances.uri`` keeps. The contract, whatever the backend:

- content becomes visible (gets a ``uri``) only whole, hashed and durable: never half-written;
- ``write_stream`` and ``write_file`` hash while they write (md5 and sha256) and never hold the content in
  memory;
- ``adopt`` takes a finished local file (a resumable upload's staging file) by moving it, not copying it,
  where the backend can (a rename on one filesystem; an object store uploads it);
- ``path`` gives a local file for the readers that need one (bags, fixity, IIIF); an object store would hand
  out a cached local copy;
- ``delete`` of a missing ``uri`` is no error (deletes run after the transaction that unreferenced it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from depot.repository.store.blobs import BlobStore, StoredBlob


@runtime_checkable
class Storage(Protocol):
    def clean_temporary(self) -> int:
        """Remove what a crash left half-written; how many were removed."""
        ...

    async def write_stream(self, chunks: AsyncIterator[bytes], *, limit: int | None = None) -> StoredBlob:
        """Store an async byte stream; ``BlobTooLargeError`` past ``limit`` bytes (nothing kept)."""
        ...

    def write_file(self, source: BinaryIO) -> StoredBlob:
        """Store a synchronous file object."""
        ...

    def adopt(self, source: Path, size: int, md5: str, sha256: str, *, blob_id: str | None = None) -> StoredBlob:
        """Take ownership of the finished local file ``source`` whose hashes the caller computed, under
        ``blob_id`` (default: a new id)."""
        ...

    def uri_for(self, blob_id: str) -> str:
        """Where the content of ``blob_id`` is (or would be) kept."""
        ...

    def restore(self, uri: str, source: BinaryIO, expected: tuple[int, str, str]) -> bool:
        """Replace the content at ``uri`` if ``source`` hashes to ``expected`` (size, md5, sha256)."""
        ...

    def open(self, uri: str) -> BinaryIO: ...

    def path(self, uri: str) -> Path: ...

    def delete(self, uri: str) -> None: ...


if TYPE_CHECKING:  # mypy proves that the local store keeps the contract
    _LOCAL: type[Storage] = BlobStore

__all__ = ["BlobStore", "Storage", "StoredBlob"]
