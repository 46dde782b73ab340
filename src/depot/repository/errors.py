"""Domain errors raised by the repository's services. They carry fields, never HTTP codes.

RepositoryError
 ├── NotFoundError            the thing does not exist, or the caller may not know it exists
 ├── PermissionDeniedError    no or bad credentials, or not the owner
 ├── InvalidStateError        the action is not allowed in the deposit's current state (e.g. PUT after publish)
 ├── ValidationError          request data is wrong; carries every field error at once
 ├── ConflictError            e.g. a file name that already exists
 ├── QuotaExceededError       record quota, file count or request size exceeded
 ├── UnsupportedMediaError    wrong Content-Type
 ├── MethodNotAllowedError    an endpoint current Zenodo no longer implements (sort, rename)
 ├── GoneError                a withdrawn record: its DOI stays, its content does not (a tombstone)
 ├── ContentLostError         a file failed fixity and no verified copy of it exists (bags included)
 └── RateLimitedError         too many requests in the window

``resources/errors.py`` maps each class to a status and Zenodo's error body in one table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from depot.metadata import FieldError


class RepositoryError(Exception):
    """Base of every error the repository's services raise on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(RepositoryError):
    """Raised when an id, bucket or file does not exist (or belongs to someone else where Zenodo hides it)."""

    def __init__(self, message: str = "The persistent identifier does not exist.") -> None:
        super().__init__(message)


class PermissionDeniedError(RepositoryError):
    """Raised for a missing or bad token, or an action on another user's deposit."""

    def __init__(self, message: str = "Permission denied.") -> None:
        super().__init__(message)


class InvalidStateError(RepositoryError):
    """Raised for an action the deposit's state forbids; Zenodo answers these with 404 or 403 (``status``)."""

    def __init__(self, message: str, status: int = 404) -> None:
        super().__init__(message)
        self.status = status


class ValidationError(RepositoryError):
    """Raised when request data fails validation; ``errors`` holds every field error found."""

    def __init__(self, errors: Sequence[FieldError] = (), message: str = "A validation error occurred.") -> None:
        super().__init__(message)
        self.errors = list(errors)


class ConflictError(RepositoryError):
    """Raised when a request would overwrite something it may not (a duplicate file name, say)."""


class QuotaExceededError(RepositoryError):
    """Raised when a record's quota, file count or a request size limit is exceeded (``status`` 400 or 413)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class UnsupportedMediaError(RepositoryError):
    """Raised when a request body has a Content-Type the endpoint does not take."""


class GoneError(RepositoryError):
    """Raised for a record the operator withdrew; ``tombstone`` is the deposit, for the landing page."""

    def __init__(self, tombstone: object, message: str = "The record has been deleted.") -> None:
        super().__init__(message)
        self.tombstone = tombstone


class MethodNotAllowedError(RepositoryError):
    """Raised for endpoints that current Zenodo answers with 405 (file sort and rename)."""

    def __init__(self, message: str = "The method is not allowed for the requested URL.") -> None:
        super().__init__(message)


@dataclass
class RateLimitedError(RepositoryError):
    """Raised when a caller exceeds a rate limit; ``limit`` is the limit string, ``reset`` epoch seconds."""

    limit: str
    reset: int

    def __post_init__(self) -> None:
        super().__init__(self.limit)


class ContentLostError(RepositoryError):
    """Raised for a file whose stored content failed fixity and of which no verified copy exists (410)."""


class UploadError(RepositoryError):
    """Raised by the resumable-upload (tus 1.0) protocol; ``status`` is the one tus names for the case:
    409 (the PATCH's Upload-Offset is not the upload's offset), 412 (an unsupported Tus-Resumable),
    423 (another PATCH of the same upload is in progress), 460 (the Upload-Checksum did not match the
    PATCH's bytes, which were thrown away)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
