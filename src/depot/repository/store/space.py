"""Why a write found "No space left on device": the bytes, or the file system's inodes.

ENOSPC says the same for both. A repository makes about 15 files and folders per one-image record (the
stored file and its BagIt bag), so on ext4's default of one inode per 16 KiB it runs out of inodes long
before bytes: a bench ran out at 152,000 records with 77 % of the space free. An operator reading "No space
left on device" beside a disk that `df -h` shows mostly empty needs to be told which one ran out.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

ADVICE = ("make the data directory's file system with more inodes (mkfs.ext4 -i 4096) or on XFS, or move "
          "it to a larger one")


def is_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def explain(free_bytes: int, total_bytes: int, free_inodes: int, total_inodes: int) -> str:
    """Which of the two ran out, with the figures (``total_inodes`` 0: a file system without a fixed count)."""
    share = 100 * free_bytes / total_bytes if total_bytes else 0.0
    if total_inodes and free_inodes < max(64, total_inodes // 1000) and share >= 1:
        return (f"out of inodes ({free_inodes:,} free of {total_inodes:,}) while {share:.0f} % of the space is "
                f"free: {ADVICE}")
    return f"out of space ({free_bytes / 1e9:.1f} GB free of {total_bytes / 1e9:.1f} GB): {ADVICE}"


def explain_at(path: Path) -> str:
    """``explain`` for the file system holding ``path`` (its nearest existing folder)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        st = os.statvfs(probe)
    except OSError as exc:
        return f"the file system of {path} could not be read ({exc})"
    return explain(st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize, st.f_favail, st.f_files)
