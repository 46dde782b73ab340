"""Secrets kept in the data directory (the OAI token key, the usage salt), made once however many processes
start at the same moment.

The key is written whole to a private temporary file, then linked to its name: ``link`` fails if the name
exists, so exactly one process's key wins and no process ever reads a file another has created but not yet
filled (which ``O_CREAT | O_EXCL`` then ``write`` allows).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def load_or_create(path: Path, size: int = 32) -> bytes:
    """The random key at ``path`` (0600), made by the first process that asks."""
    try:
        data = path.read_bytes()
        if data:
            return data
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(size))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()
