"""The preservation jobs (bags and the fixity cycle) as queue jobs: ``fn(ctx, **args)``, each idempotent."""

from __future__ import annotations

import logging
from typing import Any

from depot.repository.preservation.service import Preservation, of

FIXITY_LOCK = "fixity"
log = logging.getLogger("depot.repository.bags")


def _keeper(ctx: Any) -> Preservation:
    keeper = of(ctx)
    if keeper is None:
        raise RuntimeError("the repository context has no preservation service")
    return keeper


def write_bag(ctx: Any, recid: int, state: dict[str, Any] | None = None, alone: bool = False) -> None:
    """Write the bag of ``state`` (captured in the publish transaction), or of the record's current published
    state; nothing when that bag exists (so a retried or repeated job is harmless). ``alone``: a bag that
    failed in its group, never grouped again (``groupable``)."""
    keeper = _keeper(ctx)
    if keeper.bags is not None:
        keeper.bags.write_counted(recid, state)


def write_bags(ctx: Any, items: list[dict[str, Any]]) -> None:
    """Write the bags of many published states at once (``BagWriter.enqueue_group``: a bulk ingest group).
    A bag that fails goes back to the queue as a job of its own, with its own retries and its own entry among
    the failed bags: the group's other bags are not written again."""
    keeper = _keeper(ctx)
    if keeper.bags is None:
        return
    states = {item["recid"]: item["state"] for item in items}  # a record once at most (groupable)
    for recid, reason in keeper.bags.write_group(items).items():
        log.warning("bag of record %s failed in its group (%s); queued on its own", recid, reason)
        ctx.jobs.enqueue("bag", lock=f"bag:{recid}", recid=recid, state=states[recid], alone=True)


def groupable(args: dict[str, Any], members: list[dict[str, Any]]) -> bool:
    """A bag job the in-process queue may run in a group (``write_bags``): one with its captured state, not
    one that already failed in a group, and not a second state of a record already in it (its own turn)."""
    return (args.get("state") is not None and not args.get("alone")
            and all(m.get("recid") != args.get("recid") for m in members))


def scan_bags(ctx: Any) -> None:
    """Queue a bag job for every published record whose current state has no bag."""
    keeper = _keeper(ctx)
    if keeper.bags is None:
        return
    for recid in keeper.bags.missing():
        ctx.jobs.enqueue("bag", lock=f"bag:{recid}", recid=recid)


def fixity_tick(ctx: Any, reschedule: bool = False) -> None:
    """One batch of the fixity cycle; with ``reschedule``, queue the next one a tick later (the worker's
    cycle: at most one waits in the queue, and two never run at once)."""
    keeper = _keeper(ctx)
    try:
        keeper.tick()
    finally:
        if reschedule:
            ctx.jobs.enqueue("fixity_tick", lock=FIXITY_LOCK, queueing_lock=FIXITY_LOCK,
                             delay_s=max(1, keeper.config.fixity_tick_seconds), reschedule=True)
