"""Unpacking a zipped or tarred Darwin Core Archive safely, and finding where its content starts.

We unpack ourselves instead of letting python-dwca-reader do it, for three reasons:

- an entry named ``../../x`` or ``/etc/x``, or a tar link, device or FIFO, would write (or point) outside
  the temporary folder ("zip slip"); such an archive is refused, naming the entry;
- an archive zipped on a Mac holds its content in one folder with a ``__MACOSX`` folder beside it, which
  the reader takes for a second data folder;
- ``meta.xml`` names its data files (``<location>``), and a crafted one can name a file outside the
  archive; we check every location before anything opens it.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path, PurePosixPath

from depot.deposit.sources.errors import SourceError

# Files an archiver adds beside the content: the macOS resource forks and Finder files, Windows thumbnails.
_CLUTTER = frozenset({"__macosx", ".ds_store", "thumbs.db", "desktop.ini"})


def is_clutter(name: str) -> bool:
    return name.lower() in _CLUTTER or name.startswith("._")


def _entry_problem(name: str) -> str | None:
    """Why an archive entry name cannot be unpacked safely, or None."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        return "an absolute path"
    if ".." in path.parts:
        return "a path that climbs out with '..'"
    if "\0" in name:
        return "a NUL byte in its name"
    return None


def unpack(archive: Path) -> tuple[Path, Path]:
    """Unpack a zip or tar archive to a new temporary folder; returns (folder to delete, content folder).

    Raises SourceError, after deleting what it unpacked, for an archive that is neither zip nor tar, a
    damaged one, or one with an entry that would land outside the folder (absolute, ``..``, tar links and
    special files).
    """
    scratch = Path(tempfile.mkdtemp(prefix="depot-dwca-"))
    try:
        if zipfile.is_zipfile(archive):
            _unzip(archive, scratch)
        elif tarfile.is_tarfile(archive):
            _untar(archive, scratch)
        else:
            raise SourceError(archive, "not a zip or tar archive")
        return scratch, content_folder(scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _unzip(archive: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                problem = _entry_problem(info.filename)
                if problem:
                    raise SourceError(archive, f"the zip entry {info.filename!r} is {problem}; "
                                               "it would be written outside the unpacked archive")
            _check_space(archive, into, sum(info.file_size for info in zipped.infolist()))
            zipped.extractall(into)
    except SourceError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError) as exc:
        raise SourceError(archive, f"the zip archive is damaged or unsupported: {exc}") from exc
    except OSError as exc:
        raise SourceError(archive, f"cannot unpack the zip archive: {exc}") from exc


def _check_space(archive: Path, into: Path, needed: int) -> None:
    """SourceError before unpacking what would fill the disk (a GBIF download can unpack to 100 GB)."""
    free = shutil.disk_usage(into).free
    if needed > free:
        raise SourceError(archive, f"unpacking needs {needed / 1e9:.1f} GB but {into.parent} has {free / 1e9:.1f} GB "
                                   "free; point TMPDIR at a larger disk, or unpack the archive yourself and pass "
                                   "the folder")


def _untar(archive: Path, into: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tarred:
            members = tarred.getmembers()
            for member in members:
                problem = _entry_problem(member.name)
                if problem is None and not (member.isfile() or member.isdir()):
                    problem = "a link or special file"  # a symlink could point anywhere once unpacked
                if problem:
                    raise SourceError(archive, f"the tar entry {member.name!r} is {problem}; "
                                               "it would lead outside the unpacked archive")
            _check_space(archive, into, sum(member.size for member in members))
            # every member was checked above; the "data" filter (Python 3.11.4+) checks again and drops modes
            tarred.extractall(into, members=members, filter="data")
    except SourceError:
        raise
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise SourceError(archive, f"the tar archive is damaged or unsupported: {exc}") from exc
    except OSError as exc:
        raise SourceError(archive, f"cannot unpack the tar archive: {exc}") from exc


def content_folder(root: Path) -> Path:
    """The folder that holds the archive's files: ``root``, or its only sub-folder when the files were
    zipped inside one (clutter such as ``__MACOSX`` beside it does not count)."""
    folder = root
    for _ in range(3):  # a folder inside a folder inside a folder is as deep as we follow
        entries = [e for e in os.scandir(folder) if not is_clutter(e.name)]
        if any(e.is_file() for e in entries) or len(entries) != 1 or not entries[0].is_dir(follow_symlinks=False):
            break
        folder = Path(entries[0].path)
    return folder


def check_locations(archive: Path, content: Path) -> None:
    """SourceError naming meta.xml when a file it names (``<location>`` of the core or an extension, or the
    ``metadata`` attribute) lies outside the archive, directly or through a symbolic link."""
    meta = content / "meta.xml"
    if not meta.is_file():
        return
    try:
        root = ET.parse(meta).getroot()
    except (ET.ParseError, OSError):
        return  # the reader reports a meta.xml it cannot parse, with its own message
    names = [(e.text or "").strip() for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "location"]
    data_files = len(names)
    if root.get("metadata"):
        names.append(root.get("metadata", ""))  # a missing one is reported by _read_eml
    inside = os.path.realpath(content)
    for index, name in enumerate(names):
        if not name:
            continue
        target = os.path.realpath(content / name)
        if os.path.commonpath([inside, target]) != inside:
            raise SourceError(archive, f"meta.xml names {name!r} as a data file, which is outside the archive "
                                       f"({target}); only files inside the archive are read")
        if index < data_files and not os.path.isfile(target):
            raise SourceError(archive, f"meta.xml names {name!r} as a data file, but the archive has no such file "
                                       f"(it holds: {', '.join(_listing(content))})")


def _listing(content: Path) -> list[str]:
    names = sorted(e.name for e in os.scandir(content) if not is_clutter(e.name))
    return names[:10] + (["..."] if len(names) > 10 else [])


def check_not_nested(archive: Path, content: Path) -> None:
    """SourceError when an archive holds nothing but other archives (a zip inside the zip)."""
    names = _listing(content)
    if names and not any(n.lower() == "meta.xml" for n in names) and all(
            n.lower().endswith((".zip", ".tgz", ".tar.gz", ".tar")) for n in names):
        raise SourceError(archive, f"the archive holds only another archive ({', '.join(names)}); unpack it and "
                                   "pass the Darwin Core Archive inside")
