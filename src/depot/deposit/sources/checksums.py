"""Checksum files a dataset comes with (``--checksums``): what each image's bytes must hash to.

A digitisation line or an imaging vendor hands over its images with the checksums it made when it wrote
them: ``md5sum``/``sha256sum`` output, the same with ``--tag`` (BSD style), or a BagIt ``manifest-<alg>.txt``.
An image that no longer hashes to its line was damaged or swapped on the way (a bad copy, a truncated
transfer, an edited file) and must not get a DOI; the image check compares them before anything is sent.

Pure: ``parse`` reads one file's text. Paths in it are relative to the file's own folder (absolute ones
are taken as they are); they are only looked up, never opened, so a hostile one (``../../etc``) matches
no image and does nothing else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from depot.deposit.models import Expected, FileSpec, MediaRef, Specimen
from depot.deposit.sources.errors import SourceError

# The hex digest's length says the algorithm of a plain md5sum-style line.
BY_LENGTH = {32: "md5", 40: "sha1", 56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}
ALGORITHMS = frozenset(BY_LENGTH.values())
_BSD = re.compile(r"^(MD5|SHA1|SHA224|SHA256|SHA384|SHA512|SHA2-256|SHA2-512) ?\((.*)\) ?= ?([0-9A-Fa-f]+)$")
_PLAIN = re.compile(r"^([0-9A-Fa-f]+)(?: [ *]|\s+)(.+)$")
_BAGIT_NAME = re.compile(r"^(?:tag)?manifest-([a-z0-9]+)\.txt$")
# Names checksum files are given by tools and vendors (MD5SUMS, SHA256SUMS.txt, scans.sha256, checksums.md5,
# a bag's manifest-sha256.txt), for a hint when a folder holds one and --checksums was not given.
_LIKELY_NAME = re.compile(r"^(?:(?:md5|sha1|sha256|sha512)sums?(?:\.txt)?|.+\.(?:md5|sha1|sha256|sha512)|"
                          r"manifest-(?:md5|sha1|sha256|sha512)\.txt|checksums?(?:\.txt|\.md5|\.sha256)?)$",
                          re.IGNORECASE)
MAX_PROBLEMS_SHOWN = 3


def algorithm_name(name: str) -> str | None:
    """``md5``, ``sha256``... for the names checksum tools and Audubon Core write (``SHA-256``, ``SHA2-256``,
    ``sha256``); None for one Depot cannot compute."""
    text = re.sub(r"^sha2(224|256|384|512)$", r"sha\1", re.sub(r"[^a-z0-9]", "", name.lower()))
    text = {"sha": "sha1"}.get(text, text)
    return text if text in ALGORITHMS else None


def of_media(ref: MediaRef) -> tuple[tuple[Expected, ...], str | None]:
    """The checksum an archive's Audubon Core row gives for the bytes at its URI (``ac:hashFunction``,
    ``ac:hashValue``), and a problem if the pair cannot be used (a value without a function, an unknown
    function, a value of the wrong length)."""
    if not ref.hash_value:
        return (), None
    value = ref.hash_value.strip().lower()
    algorithm = algorithm_name(ref.hash_function or "")
    if algorithm is None:
        named = f"ac:hashFunction {ref.hash_function!r}" if ref.hash_function else "no ac:hashFunction"
        return (), (f"image {ref.uri}: ac:hashValue {ref.hash_value!r} comes with {named}, so it cannot be checked "
                    f"(one of {', '.join(sorted(ALGORITHMS))}; fix the archive's multimedia row)")
    if BY_LENGTH.get(len(value)) != algorithm or not re.fullmatch(r"[0-9a-f]+", value):
        return (), (f"image {ref.uri}: ac:hashValue {ref.hash_value!r} is not a {algorithm} checksum (fix the "
                    "archive's multimedia row)")
    return (Expected(algorithm, value, f"the archive's ac:hashValue for {ref.uri}"),), None


def _unescape_gnu(path: str) -> str:
    r"""A GNU coreutils line that starts with ``\`` has ``\\`` and ``\n`` escapes in its file name."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", "r": "\r"}.get(m.group(1), m.group(0)), path)


def _unescape_bagit(path: str) -> str:
    """RFC 8493 §2.1.3: CR, LF and ``%`` percent-encoded in manifest paths."""
    return re.sub(r"%(0[Dd]|0[Aa]|25)", lambda m: {"0d": "\r", "0a": "\n", "25": "%"}[m.group(1).lower()], path)


class ChecksumFile:
    """One checksum file's lines by path. Each path's digests are packed in one bytes value (algorithm,
    digest, line number), so 281,372 lines take tens of MB rather than the 270 an object a line took."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._by_path: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self._by_path)

    def get(self, path: str) -> tuple[Expected, ...]:
        """What the file says ``path`` (as written in it, normalised) hashes to: one Expected per algorithm."""
        return tuple(Expected(_ALGS[code], digest.hex(), f"{self.source} line {line}")
                     for code, digest, line in _unpacked(self._by_path.get(path, b"")))

    def add(self, path: str, algorithm: str, digest: str, line: int) -> str | None:
        """Keep one line's digest; what is wrong if the path was given another digest of the same algorithm."""
        code = _ALGS.index(algorithm)
        raw = bytes.fromhex(digest)
        held = self._by_path.get(path, b"")
        for earlier_code, earlier, earlier_line in _unpacked(held):
            if earlier_code == code:
                return None if earlier == raw else (f"{path} is given {raw.hex()}, but line {earlier_line} gave it "
                                                    f"{earlier.hex()}")
        self._by_path[path] = held + bytes([code]) + raw + line.to_bytes(4, "big")
        return None


_ALGS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
_SIZES = tuple(next(n for n, a in BY_LENGTH.items() if a == alg) // 2 for alg in _ALGS)


def _unpacked(packed: bytes) -> list[tuple[int, bytes, int]]:
    out, at = [], 0
    while at < len(packed):
        code = packed[at]
        end = at + 1 + _SIZES[code]
        out.append((code, packed[at + 1:end], int.from_bytes(packed[end:end + 4], "big")))
        at = end + 4
    return out


def parse(text: str | Iterable[str], source: str) -> ChecksumFile:
    """The lines of a checksum file named ``source``, by their relative (or absolute) path.

    Blank lines and ``#`` comments are skipped. Raises SourceError naming the file and its lines for a line
    that is none of the known forms, a digest of no known length, or one path given two different digests."""
    bagit = _BAGIT_NAME.match(Path(source).name)
    bagit_algorithm = algorithm_name(bagit.group(1)) if bagit else None
    if bagit and bagit_algorithm is None:
        raise SourceError(Path(source), f"a BagIt manifest of {bagit.group(1)!r}, which Depot cannot compute "
                                        f"(one of {', '.join(sorted(ALGORITHMS))})")
    found = ChecksumFile(source)
    bad: list[str] = []
    lines = text.splitlines() if isinstance(text, str) else text
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n").lstrip("\ufeff") if number == 1 else raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parsed = _line(line, bagit_algorithm)
        if isinstance(parsed, str):
            bad.append(f"line {number}: {parsed}")
            continue
        algorithm, digest, path = parsed
        conflict = found.add(os.path.normpath(path), algorithm, digest, number)
        if conflict is not None:
            bad.append(f"line {number}: {conflict}")
    if bad:
        more = f" (and {len(bad) - MAX_PROBLEMS_SHOWN} more)" if len(bad) > MAX_PROBLEMS_SHOWN else ""
        raise SourceError(Path(source), "not a checksum file Depot can read (md5sum or sha256sum output, with or "
                                        f"without --tag, or a BagIt manifest): {'; '.join(bad[:MAX_PROBLEMS_SHOWN])}"
                                        f"{more}")
    return found


def _line(line: str, bagit_algorithm: str | None) -> tuple[str, str, str] | str:
    """(algorithm, hex digest, path) of one line, or what is wrong with it."""
    if bagit_algorithm is not None:
        match = _PLAIN.match(line)
        if match is None:
            return f"{line[:80]!r} is not '<checksum> <path>'"
        digest, path = match.groups()
        if BY_LENGTH.get(len(digest)) != bagit_algorithm:
            return f"{digest[:80]} is not a {bagit_algorithm} checksum"
        return bagit_algorithm, digest, _unescape_bagit(path)
    tagged = _BSD.match(line.removeprefix("\\"))
    if tagged:
        name, path, digest = tagged.groups()
        algorithm = algorithm_name(name)
        assert algorithm is not None  # the pattern names only known algorithms
        if BY_LENGTH.get(len(digest)) != algorithm:
            return f"{digest[:80]} is not a {algorithm} checksum"
        return algorithm, digest, _unescape_gnu(path) if line.startswith("\\") else path
    escaped = line.startswith("\\")
    match = _PLAIN.match(line[1:] if escaped else line)
    if match is None:
        return f"{line[:80]!r} is not '<checksum>  <path>' (md5sum) nor 'SHA256 (<path>) = <checksum>' (--tag)"
    digest, path = match.groups()
    algorithm = BY_LENGTH.get(len(digest))
    if algorithm is None:
        return f"a checksum of {len(digest)} hex digits is none of md5, sha1, sha224, sha256, sha384 or sha512"
    return algorithm, digest, _unescape_gnu(path) if escaped else path


class Checksums:
    """The checksum files of one run, looked up by a file's real path."""

    def __init__(self, files: list[tuple[ChecksumFile, list[str]]], names: list[str]) -> None:
        """``files``: each checksum file with the real folders its relative paths are read from; ``names``:
        the files as given, for messages."""
        self._files = files
        self.names = names

    def __len__(self) -> int:
        return sum(len(f) for f, _ in self._files)

    def expected(self, real_path: str) -> tuple[Expected, ...]:
        real_path = os.path.normpath(real_path)
        found: dict[Expected, None] = {}
        for checksum_file, anchors in self._files:
            candidates = [real_path, *(real_path[len(a) + 1:] for a in anchors if real_path.startswith(a + os.sep))]
            for candidate in dict.fromkeys(candidates):
                found.update(dict.fromkeys(checksum_file.get(candidate)))
        return tuple(found)

    def attach(self, specimen: Specimen) -> Specimen:
        """The specimen with each file's expected checksums; a file no checksum file lists is a problem of
        the specimen (a file the delivery does not vouch for: added since, or from another folder)."""
        files: list[FileSpec] = []
        unlisted: list[str] = []
        for spec in specimen.files:
            expected = self.expected(os.path.realpath(spec.path))
            if not expected:
                unlisted.append(spec.path)
            files.append(with_expected(spec, expected))
        problems = specimen.problems
        if unlisted:
            flags = " ".join(f"--checksums {name}" for name in self.names)
            problems += tuple(f"{path} is not listed in the checksum file ({flags}): add its line, or check that "
                              "it is the file meant" for path in unlisted)
        return replace(specimen, files=tuple(files), problems=problems)


def with_expected(spec: FileSpec, expected: tuple[Expected, ...]) -> FileSpec:
    """``spec`` with ``expected`` added; an md5 or sha256 among them is also the file's planned digest, so that
    the bytes sent are compared with it (the check compares the bytes on disk)."""
    merged = tuple(dict.fromkeys((*spec.expected, *expected)))
    digest = {e.algorithm: e.digest for e in merged}
    return replace(spec, expected=merged, md5=spec.md5 or digest.get("md5"),
                   sha256=spec.sha256 or digest.get("sha256"))


def likely_checksum_files(folders: list[Path], limit: int = 3) -> list[Path]:
    """Files in ``folders`` (not below them) named as checksum files usually are, at most ``limit``."""
    found: list[Path] = []
    for folder in dict.fromkeys(folders):
        try:
            with os.scandir(folder) as entries:
                found += sorted(Path(e.path) for e in entries if _LIKELY_NAME.match(e.name) and e.is_file())
        except OSError:
            continue
    return found[:limit]


def _close_name(path: Path) -> str:
    """`` (SHA256SUMS.txt?)`` for a misspelt name whose folder holds a close one."""
    import difflib

    try:
        names = [e.name for e in os.scandir(path.parent or ".") if e.is_file()]
    except OSError:
        return ""
    close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.8)
    return f"; did you mean {path.parent / close[0]}?" if close else ""


def load(paths: list[Path], images: Path | None = None) -> Checksums:
    """Read the ``--checksums`` files; SourceError naming the file for one that is missing, not text, or
    not a checksum file. A relative path in one is looked up from the file's folder and, if given, from the
    ``images`` folder too (``cd images; md5sum * > ../checksums.md5`` writes names relative to it)."""
    files: list[tuple[ChecksumFile, list[str]]] = []
    for path in paths:
        try:
            with path.open(encoding="utf-8", newline="") as fh:  # streamed: a 281,372-line file is 30 MB of text
                entries = parse(fh, str(path))
        except FileNotFoundError:
            raise SourceError(path, f"no such checksum file (--checksums){_close_name(path)}") from None
        except IsADirectoryError:
            raise SourceError(path, "a folder, not a checksum file (--checksums)") from None
        except OSError as exc:
            raise SourceError(path, f"cannot be read (--checksums): {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise SourceError(path, f"not UTF-8 text (--checksums; byte {exc.start} of a block of it): is it a "
                                    "checksum file?") from None
        if not len(entries):
            raise SourceError(path, "holds no checksum line (--checksums)")
        anchors = [os.path.realpath(path.parent), *([os.path.realpath(images)] if images else [])]
        files.append((entries, list(dict.fromkeys(anchors))))
    return Checksums(files, [str(p) for p in paths])
