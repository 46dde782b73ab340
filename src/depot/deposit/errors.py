"""The depositor's errors. One base, classified by behaviour in ``policy.classify``.

DepotError
 ├── ConfigError          bad settings, flags, token or target: fix and rerun (exit USAGE)
 ├── SourceError          a dataset that cannot be read at all (depot.deposit.sources.errors)
 ├── ProfileError         a mapping profile that cannot be loaded (depot.deposit.profiles.errors)
 ├── LedgerError          the ledger database is unusable (locked, newer schema, unreachable): fatal
 ├── TransportError       no HTTP answer: refused, reset, timed out (``sent`` says if it may have arrived)
 ├── HTTPStatusError      an HTTP answer >= 400 (status, message, headers)
 │    ├── ValidationError 400 with Zenodo's field errors: the record fails alone, with this message
 │    └── AuthError       401/403: the token is wrong or lacks rights: the run stops
 ├── IntegrityError       the server's checksum differs from the bytes we sent
 └── FileChangedError     a file changed after it was checked: nothing of it is sent, the record fails
      └── ContentChangedError  the bytes sent do not hash as the file did when checked: nothing is published
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any


class DepotError(Exception):
    """Base of every error the depositor raises on purpose."""

    step: str | None = None  # the request step (create, upload, publish...) it happened in, if any


class ConfigError(DepotError):
    """Raised for unusable settings: an unknown target, a missing token, a bad flag value."""


class LedgerError(DepotError):
    """Raised when the ledger database cannot be opened or written; the run stops (nothing is lost)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"ledger {url}: {reason}")
        self.url = url
        self.reason = reason


class TransportError(DepotError):
    """Raised when a request got no HTTP answer; ``sent`` is False only if it surely never arrived;
    ``timed_out`` when we gave up waiting (the server may still be working on it)."""

    def __init__(self, message: str, *, sent: bool = True, timed_out: bool = False) -> None:
        super().__init__(message)
        self.sent = sent
        self.timed_out = timed_out


class HTTPStatusError(DepotError):
    """Raised for an HTTP answer with status >= 400; carries the repository's message and headers."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.headers: Mapping[str, str] = headers or {}


class ValidationError(HTTPStatusError):
    """Raised for a 400 answer listing field errors (``errors`` = [{"field", "messages"}])."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None, *,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(status, message, headers)
        self.errors = errors or []


class AuthError(HTTPStatusError):
    """Raised for 401/403: the token is missing, wrong, or may not do this."""


class IntegrityError(DepotError):
    """Raised when a file's checksum on the server differs from what was read and sent."""

    def __init__(self, path: str, algorithm: str, expected: str, found: str | None) -> None:
        super().__init__(f"{path}: {algorithm} {found or 'missing'} on the repository, {expected} sent")
        self.path = path
        self.algorithm = algorithm
        self.expected = expected
        self.found = found


class FileChangedError(DepotError):
    """Raised before a byte of a file is sent when its size or modification time is not what they were when
    the file was checked and planned: the bytes on disk now were never decoded nor compared with their
    checksum, so they must not get a DOI."""

    def __init__(self, path: str, planned: tuple[int, int], found: tuple[int, int]) -> None:
        super().__init__(
            f"{path} changed after it was checked (then {planned[0]:,} bytes, modified {_when(planned[1])}; now "
            f"{found[0]:,} bytes, modified {_when(found[1])}); nothing of it was sent. Run again with the source: "
            "the file is checked anew before it is sent")
        self.path = path

    @classmethod
    def unless_same(cls, path: str, planned: tuple[int, int] | None, size: int, mtime_ns: int) -> None:
        """Raise unless the file is the one planned, by (size, mtime_ns); None planned: nothing to compare."""
        if planned is not None and (size, mtime_ns) != planned:
            raise cls(path, planned, (size, mtime_ns))


class ContentChangedError(FileChangedError):
    """Raised when the bytes sent do not hash to the digest the file had when it was checked (its checksum
    file's, or the one planned): nothing is published with them."""

    def __init__(self, path: str, algorithm: str, planned: str, sent: str) -> None:
        DepotError.__init__(
            self, f"{path} changed while it was sent, or since it was checked with the same size and time: the "
                  f"bytes sent have {algorithm} {sent}, not the {planned} it had then; nothing is published with "
                  "them. Run again with the source: the file is checked anew before it is sent")
        self.path = path


def _when(mtime_ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(mtime_ns / 1e9, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class ExitCode(IntEnum):
    """``depot`` exit codes (closed set, as rclone's): documented in docs/errors.md."""

    OK = 0  # everything planned is published (or nothing to do)
    RECORDS_FAILED = 1  # the run finished, but some records failed (see depot status / report)
    USAGE = 2  # bad flags, settings, source or profile: nothing was sent
    FATAL = 3  # stopped early: credentials refused, ledger unusable
    INTERRUPTED = 4  # stopped by Ctrl-C or SIGTERM; run again to resume
    CHECK_FAILED = 5  # depot check found problems
    RETRY_LATER = 6  # records are waiting for a retry (e.g. an outage outlasted the run's patience)
    INTERNAL = 7  # an unexpected error (a bug): one line on stderr, the traceback in a depot-error-*.log file
