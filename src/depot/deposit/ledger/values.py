"""Small shared pieces of the ledger: timestamps, hashes, and how a failed record is taken up again."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from depot.deposit.ledger.tables import specimens


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def now_iso() -> str:
    return iso(datetime.now(UTC))


def hash_of(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def resume(step: str | None) -> dict[str, Any]:
    """Where a failed record with a deposition starts again: publish failures are settled by a probe
    (the publish may have happened), anything earlier re-uploads what is missing."""
    return {"state": "uncertain", "step": "publish"} if step == "publish" else {"state": "created", "step": None}


def replan_condition() -> Any:
    return sa.and_(specimens.c.state == "failed", sa.or_(specimens.c.last_status.is_(None), sa.not_(sa.and_(
        specimens.c.last_status >= 400, specimens.c.last_status < 500,
        specimens.c.last_status.not_in((404, 408, 409, 410, 429))))))


def refused(status: int | None) -> bool:
    """Did the repository refuse the record itself (not a transient or an outage answer)?"""
    return status is not None and 400 <= status < 500 and status not in (404, 408, 409, 410, 429)
