"""The folder that ``--fetch-media`` downloads media URLs into, and how a URL is found in it again.

Layout: one folder per URL, named by the SHA-256 of the URL (``ab/cdef…/``), holding the downloaded file
under the name it will have in the deposit, or a ``.error`` file saying why the last try failed. A file
is only ever there whole (it is written under a dot-name and renamed), so a folder with a file is done
and a rerun skips it. No I/O happens at import; the downloading itself is in ``fetch``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

ERROR_FILE = ".error"


class MediaCache:
    """Look-ups in a media cache folder (which need not exist yet). ``on_miss`` is called with each URL
    looked up that has no file yet: reading a source through it lists what there is to fetch."""

    def __init__(self, root: Path, on_miss: Callable[[str], None] | None = None) -> None:
        self.root = root
        self.on_miss = on_miss

    def folder(self, url: str) -> Path:
        digest = hashlib.sha256(url.encode("utf-8")).hexdigest()
        return self.root / digest[:2] / digest[2:34]

    def lookup(self, url: str) -> tuple[Path | None, str | None]:
        """(the downloaded file, None), or (None, why the last download failed), or (None, None) if never tried."""
        folder = self.folder(url)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            entries = []
        for entry in entries:
            if not entry.name.startswith(".") and entry.is_file(follow_symlinks=False):
                return Path(entry.path), None
        if self.on_miss is not None:
            self.on_miss(url)
        try:
            return None, (folder / ERROR_FILE).read_text(encoding="utf-8").strip() or "unknown error"
        except OSError:
            return None, None
