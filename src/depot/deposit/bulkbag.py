"""I/O: write one bulk batch as a BagIt bag in a tar file, for ``POST /api/bulk`` (docs/bulk-deposit.md).

The bag holds ``data/records.jsonl`` (one line per record: its key, its metadata, its files) and each file
under ``data/files/<record>-<n>`` (safe names whatever the file's own; the name goes in the record line),
with md5 and sha256 manifests computed while the files are copied in, so each file is read once. It is
written to disk as it goes: a batch of 10,000 images never sits in memory.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

CHUNK = 1 << 20


@dataclass(frozen=True)
class BatchRecord:
    key: str
    metadata: dict[str, Any]
    files: tuple[tuple[str, Path], ...]  # (name in the record, path on disk)


class _Hashing(io.RawIOBase):
    """A read-only file that hashes what is read from it (tarfile reads each member once)."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.md5 = hashlib.md5()
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.source.read(size)
        self.md5.update(chunk)
        self.sha256.update(chunk)
        return chunk


def _add(tar: tarfile.TarFile, name: str, source: IO[bytes], size: int) -> tuple[str, str]:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    hashing = _Hashing(source)
    tar.addfile(info, hashing)
    return hashing.md5.hexdigest(), hashing.sha256.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> tuple[str, str]:
    return _add(tar, name, io.BytesIO(data), len(data))


def write_batch(path: Path, batch_id: str, records: Iterable[BatchRecord],
                hashes: dict[str, list[tuple[str, str, str, int]]] | None = None) -> int:
    """Write ``records`` as a bag in the tar file ``path``; returns the number of records. ``hashes``, if
    given, receives each record's files as packed: key -> [(name, md5, sha256, size)]."""
    manifest: list[tuple[str, str, str]] = []  # (path, md5, sha256)
    octets = 0
    count = 0
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar, \
            tempfile.TemporaryFile(dir=path.parent) as lines:
        for index, record in enumerate(records):
            entries = []
            for n, (name, source) in enumerate(record.files):
                member = f"files/{index}-{n}"  # one folder for all (one per record: a mkdir and rmdir each)
                size = source.stat().st_size
                with source.open("rb") as fh:
                    md5, sha256 = _add(tar, f"data/{member}", fh, size)
                manifest.append((f"data/{member}", md5, sha256))
                if hashes is not None:
                    hashes.setdefault(record.key, []).append((name, md5, sha256, size))
                octets += size
                entries.append({"name": name, "path": member})
            lines.write(json.dumps({"key": record.key, "metadata": record.metadata, "files": entries},
                                   ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
            count += 1
        size = lines.tell()
        lines.seek(0)
        md5, sha256 = _add(tar, "data/records.jsonl", lines, size)
        manifest.append(("data/records.jsonl", md5, sha256))
        octets += size
        tags = {
            "bagit.txt": b"BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n",
            "bag-info.txt": (f"Bagging-Date: {datetime.now(UTC).date().isoformat()}\n"
                             f"External-Identifier: {batch_id}\n"
                             f"Payload-Oxum: {octets}.{len(manifest)}\n"
                             "Bag-Software-Agent: depot\n").encode(),
            "manifest-md5.txt": "".join(f"{m} {p}\n" for p, m, _ in manifest).encode(),
            "manifest-sha256.txt": "".join(f"{s} {p}\n" for p, _, s in manifest).encode(),
        }
        tag_sums = [(name, *_add_bytes(tar, name, data)) for name, data in tags.items()]
        _add_bytes(tar, "tagmanifest-sha256.txt", "".join(f"{s} {n}\n" for n, _, s in tag_sums).encode())
    return count
