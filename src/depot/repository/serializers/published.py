"""The records-API JSON of a published version, as every reader of it (API, exports, pages, IIIF) serves it."""

from __future__ import annotations

from typing import Any

from depot.repository.context import Context
from depot.repository.serializers import zenodo as serialize
from depot.repository.services.views import Deposit


def published_record(ctx: Context, deposit: Deposit, *, is_last: bool | None = None) -> dict[str, Any]:
    """Accepted communities and COUNTER stats included; ``is_last`` is looked up when not given."""
    if is_last is None:
        is_last = ctx.records.latest(deposit.id).id == deposit.id
    accepted = [slug for slug, status in ctx.records.communities_of(deposit.concept_id) if status == "accepted"]
    return serialize.record(ctx.links, deposit, is_last=is_last, communities=accepted,
                            stats=ctx.usage.stats(deposit))
