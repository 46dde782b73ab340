"""An RDM request body -> the legacy deposit metadata Depot stores, or RdmBodyError (pure).

Both APIs work on one data model: a deposit's ``draft``/``record`` columns hold legacy (Zenodo deposit)
metadata, so a record made through one API is read and edited through the other. The correspondence
itself is ``depot.metadata.rdm``, which the depositor shares; this module adds what only a server does
with a body: refuse a wrong shape with every field at once, and read ``files.enabled``.
"""

from __future__ import annotations

from typing import Any

from depot.metadata import FieldError
from depot.metadata.rdm import legacy_of


class RdmBodyError(Exception):
    """Raised when an RDM request body has the wrong shape; ``errors`` carries every field at once."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("A validation error occurred.")
        self.errors = errors


def to_legacy(body: dict[str, Any]) -> tuple[dict[str, Any], bool | None]:
    """The legacy metadata of an RDM body, and its ``files.enabled`` (None when the body does not say).

    Raises RdmBodyError for a wrong shape; value rules (dates, vocabularies) are the legacy model's."""
    out, errors = legacy_of(body)
    if errors and errors[0].field == "metadata":  # nothing else is read without a metadata object
        raise RdmBodyError(errors)
    files = body.get("files")
    enabled = None
    if files is not None:
        if not isinstance(files, dict) or not isinstance(files.get("enabled", True), bool):
            errors.append(FieldError("files.enabled", ("Not a valid boolean.",)))
        else:
            enabled = bool(files.get("enabled", True))
    if errors:
        raise RdmBodyError(errors)
    return out, enabled
