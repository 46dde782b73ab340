"""Field limits on deposit metadata (pure): one 400 in Zenodo's error shape lists every field past its limit.

Zenodo sets no maximum on these fields (its schemas ask only ``Length(min=3)`` of title and description,
invenio-rdm-records ``services/schemas/metadata.py``); its one bound is the 100 MiB of any request
(``MAX_CONTENT_LENGTH``). Depot bounds each field, so that one deposition cannot grow the database, the
search terms, the bags and every export by megabytes. The limits sit far above real records: Zenodo's
longest author lists (particle physics collaborations) hold about 3,000 names.
"""

from __future__ import annotations

from typing import Any

from depot.metadata import FieldError
from depot.repository.errors import ValidationError

# field -> most characters of a text field
TEXT_LIMITS = {"title": 1_000, "description": 100_000, "notes": 100_000, "version": 1_000}
# field -> most entries of a list field
COUNT_LIMITS = {"creators": 5_000, "contributors": 5_000, "keywords": 1_000, "related_identifiers": 10_000,
                "references": 10_000}


def check_limits(metadata: object) -> None:
    """Raise a ValidationError naming each field of ``metadata`` past its limit (other errors are left to
    the metadata model)."""
    if not isinstance(metadata, dict):
        return
    errors = [*_texts(metadata), *_counts(metadata)]
    if errors:
        raise ValidationError(errors)


def _texts(metadata: dict[str, Any]) -> list[FieldError]:
    return [FieldError(f"metadata.{name}", (f"Longer than the limit of {limit:,} characters "
                                             f"({len(metadata[name]):,}).",))
            for name, limit in TEXT_LIMITS.items()
            if isinstance(metadata.get(name), str) and len(metadata[name]) > limit]


def _counts(metadata: dict[str, Any]) -> list[FieldError]:
    return [FieldError(f"metadata.{name}", (f"More entries than the limit of {limit:,} ({len(metadata[name]):,}).",))
            for name, limit in COUNT_LIMITS.items()
            if isinstance(metadata.get(name), list) and len(metadata[name]) > limit]
