"""Small shared pieces of the ledger: timestamps, hashes, and how a failed record is taken up again."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from depot.deposit.ledger.states import State
from depot.deposit.ledger.tables import specimens
from depot.deposit.policy import NOT_REFUSED_4XX
from depot.deposit.policy import refused as refused


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def now_iso() -> str:
    return iso(datetime.now(UTC))


def hash_of(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def resume(step: str | None) -> dict[str, Any]:
    """Where a failed record with a deposition starts again: publish failures are settled by a probe
    (the publish may have happened), anything earlier re-uploads what is missing."""
    if step == "publish":
        return {"state": State.UNCERTAIN, "step": "publish"}
    return {"state": State.CREATED, "step": None}


def replan_condition() -> Any:
    """Failed records the repository did not refuse (SQL for ``policy.refused``: the same table)."""
    return sa.and_(specimens.c.state == State.FAILED, sa.or_(specimens.c.last_status.is_(None), sa.not_(sa.and_(
        specimens.c.last_status >= 400, specimens.c.last_status < 500,
        specimens.c.last_status.not_in(NOT_REFUSED_4XX)))))
