"""Every repository error maps to one status and Zenodo's error body (datasette's test_error_shape idea)."""

from __future__ import annotations

import inspect

import pytest

from depot.metadata import FieldError
from depot.repository import errors
from depot.repository.resources.errors import error_body

SAMPLES: dict[type[errors.RepositoryError], errors.RepositoryError] = {
    errors.NotFoundError: errors.NotFoundError(),
    errors.PermissionDeniedError: errors.PermissionDeniedError(),
    errors.InvalidStateError: errors.InvalidStateError("locked", 403),
    errors.ValidationError: errors.ValidationError([FieldError("metadata.title", ("Missing data.",))]),
    errors.ConflictError: errors.ConflictError("File with key a.txt already exists."),
    errors.QuotaExceededError: errors.QuotaExceededError("too big", 413),
    errors.UnsupportedMediaError: errors.UnsupportedMediaError("Invalid 'Content-Type' header."),
    errors.MethodNotAllowedError: errors.MethodNotAllowedError(),
    errors.RateLimitedError: errors.RateLimitedError("100 per 1 minute", 30),
    errors.GoneError: errors.GoneError(object()),
    errors.ContentLostError: errors.ContentLostError("The stored content of 'a.jpg' failed its fixity check."),
    errors.BulkPackageError: errors.BulkPackageError("not a BagIt bag: no bagit.txt"),
    errors.UploadError: errors.UploadError("Upload-Offset 5 is not the upload's offset 0.", 409),
}
EXPECTED = {
    errors.NotFoundError: 404, errors.PermissionDeniedError: 403, errors.InvalidStateError: 403,
    errors.ValidationError: 400, errors.ConflictError: 400, errors.QuotaExceededError: 413,
    errors.UnsupportedMediaError: 415, errors.MethodNotAllowedError: 405, errors.RateLimitedError: 429,
    errors.GoneError: 410, errors.ContentLostError: 410, errors.BulkPackageError: 400,
    errors.UploadError: 409,
}


def test_every_error_class_is_covered() -> None:
    classes = {obj for _, obj in inspect.getmembers(errors, inspect.isclass)
               if issubclass(obj, errors.RepositoryError) and obj is not errors.RepositoryError}
    assert classes == set(SAMPLES)


@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda c: c.__name__)
def test_error_body_has_zenodo_shape(cls: type[errors.RepositoryError]) -> None:
    status, body = error_body(SAMPLES[cls])
    assert status == EXPECTED[cls]
    assert body["status"] == status and isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"status", "message", "errors"}
    if "errors" in body:
        assert all(set(e) == {"field", "messages"} and isinstance(e["messages"], list) for e in body["errors"])
    assert cls.__doc__ and "raised" in cls.__doc__.lower()
