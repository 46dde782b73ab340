"""Settling what the runner cannot know from an answer (pure decisions, I/O through the runner's calls).

A create, newversion or publish whose answer was lost leaves the specimen *uncertain*; a 404/409/410 on
a deposition we created means our picture of it is wrong (``reconcile``). A probe settles both before
anything is sent again: created depositions are found among the account's depositions by the specimen
key (many keys per listing request; Zenodo's search lags writes, so the first look waits
``probe_delay`` and a miss is looked at once more ``probe_recheck`` later; a repository that declares
its lag is looked at, and a miss believed, as soon as that proves enough: depot.deposit.search_lag),
publishes and reconciles by
reading the deposition back. Between looks the record is released with a due time, so a waiting probe
never holds a transfer slot. ``Probes`` is the part of :class:`depot.deposit.runner.Runner` that does this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from depot.deposit.errors import AuthError, HTTPStatusError, LedgerError, TransportError
from depot.deposit.ledger import Claim, FileRow, State
from depot.deposit.progress import Stats
from depot.deposit.search_lag import SearchLag

if TYPE_CHECKING:
    from depot.deposit.client import RepositoryClient
    from depot.deposit.ledger.journal import Journal
    from depot.deposit.run_settings import RunSettings

PROBE_BATCH = 20  # specimen keys per listing query when settling uncertain creates


class Probes:
    """Probing and settling, mixed into the Runner (which provides the attributes and calls below)."""

    ledger: Journal
    client: RepositoryClient
    settings: RunSettings
    stats: Stats
    owner: str
    stopping: bool
    fatal: BaseException | None
    clock: Callable[[], float]
    lag: SearchLag
    _settling: int
    _looked: set[str]
    _listed: dict[str, list[dict[str, Any]]]

    async def _call(self, key: str | None, step: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    async def _created(self, key: str, deposition: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _published(self, key: str, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def _wake(self) -> None:
        raise NotImplementedError

    async def _md5(self, spec: FileRow) -> str:
        raise NotImplementedError

    async def _adopt_version_draft(self, claim: Claim, looks: tuple[float, ...] | None = None) -> int | None:
        raise NotImplementedError

    async def _settle(self, claim: Claim) -> State | None:
        """Decide what an uncertain step really did; returns the state to go on from (None: published,
        or not listed yet and looked for again later, with the slot free meanwhile)."""
        self.stats.probes += 1
        key = claim.key
        if claim.step in ("publish", "reconcile"):
            return await self._read_back(claim)
        if claim.step == "newversion":
            if await self._adopt_version_draft(claim, looks=(0.0,)) is not None:
                return State.CREATED
            return await self._not_found(claim)
        # An uncertain create, due once the repository's search has caught up: look for the key, and
        # for the other uncertain creates that are due too, in the same listing query.
        listed = self._listed.pop(key) if key in self._listed else None
        matches = listed if listed is not None else (await self._look_for_due_creates(key)).get(key, [])
        if not matches:
            return await self._not_found(claim)
        self._looked.discard(key)
        self.lag.forget(key)
        return await self._keep_first(key, matches)

    async def _look_for_due_creates(self, key: str) -> dict[str, list[dict[str, Any]]]:
        """List ``key`` with up to PROBE_BATCH - 1 other uncertain creates that are due (leased meanwhile,
        so no worker sends one). Their answers are kept for the worker that claims each next (they stay
        due), except a first miss, which is looked at again ``probe_recheck`` later, as in _not_found."""
        others = [k for k in await self.ledger.uncertain_keys("create") if k != key]
        leased = await self.ledger.lease(others, owner=self.owner, lease_seconds=self.settings.lease_seconds,
                                   now=_utcnow()) if others else []
        for extra in leased[PROBE_BATCH - 1:]:
            await self.ledger.release(extra, self.owner)
        leased = leased[:PROBE_BATCH - 1]
        try:
            asked = self.clock()  # the listing's snapshot is taken at or after this
            found = await self.find_by_keys([key, *leased])
            self.lag.observe(self.client.search_lag)
            for k in (key, *leased):
                if not found[k] and self.lag.conclusive(k, asked):
                    self._looked.add(k)  # a miss that proves "not created": no second look (_not_found)
            for other in leased:
                if found[other] or other in self._looked:
                    self._listed[other] = found[other]
                else:
                    self.stats.probes += 1
                    self._looked.add(other)
                    await self.ledger.defer(other, retry_at=_utcnow() + timedelta(seconds=self._recheck_in(other)))
        finally:
            for other in leased:
                await self.ledger.release(other, self.owner)
            if leased:
                self._wake()
        return found

    async def _not_found(self, claim: Claim) -> State | None:
        """Not listed: not created, or not listed *yet*. A second, later look tells them apart."""
        if claim.key not in self._looked:
            self._looked.add(claim.key)
            await self.ledger.defer(claim.key, retry_at=_utcnow() + timedelta(seconds=self._recheck_in(claim.key)))
            return None
        self._looked.discard(claim.key)
        self.lag.forget(claim.key)
        await self.ledger.mark_planned(claim.key)
        return State.PLANNED

    def _recheck_in(self, key: str) -> float:
        return self.lag.recheck_in(key, self.clock(), self.settings.probe_recheck)

    async def _read_back(self, claim: Claim) -> State | None:
        """Read the deposition back: published (the publish happened), or a draft whose files are taken
        as the server lists them."""
        key = claim.key
        assert claim.deposition_id is not None
        deposition = await self._call(key, "probe", self.client.get, claim.deposition_id)
        if _is_done(deposition):
            await self._published(key, deposition)
            return None
        if claim.step == "publish":
            await self.ledger.mark_uploaded(key)
            return State.UPLOADED
        present = {str(f.get("filename") or f.get("key")): str(f.get("checksum", "")).removeprefix("md5:")
                   for f in deposition.get("files") or []}
        for spec in claim.files:
            if not spec.uploaded and spec.name in present:
                md5 = await self._md5(spec)
                if present[spec.name] == md5:
                    await self.ledger.mark_file_present(key, spec.name, md5=md5)
        await self._created(key, deposition)
        return (await self.ledger.get(key)).state

    async def _keep_first(self, key: str, matches: list[dict[str, Any]]) -> State | None:
        """The oldest deposition carrying the key is the specimen's; extra unpublished ones are discarded."""
        keep = min(matches, key=lambda d: int(d["id"]))
        for extra in matches:
            if extra is not keep and not extra.get("submitted"):
                await self._call(key, "discard", self.client.action, int(extra["id"]), "discard")
        full = await self._call(key, "get", self.client.get, int(keep["id"]))
        await self._created(key, full)
        if full.get("submitted"):
            await self._published(key, full)
            return None
        return (await self.ledger.get(key)).state

    async def _settle_crash_left(self, keys: list[str]) -> None:
        """Settle the creates a crash left uncertain (leased to us in run()) with batched listing queries
        (20 keys a request, instead of one search per record against Zenodo's 30/min search budget),
        while the workers go on with the rest. Whatever this cannot settle goes back to the workers."""
        pending = list(keys)
        try:
            await asyncio.sleep(self.settings.probe_delay)  # the search may not list a fresh create yet
            found = await self.find_by_keys(pending)
            unseen = [k for k in pending if not found.get(k)]
            if unseen:  # not listed yet, or not created: a second, later look tells them apart
                await asyncio.sleep(self.settings.probe_recheck)
                found.update(await self.find_by_keys(unseen))
            while pending and not self.stopping:
                key = pending[0]
                self.stats.probes += 1
                if found.get(key):
                    await self._keep_first(key, found[key])
                else:
                    await self.ledger.mark_planned(key)
                pending.pop(0)
                await self.ledger.release(key, self.owner)
                self._settling -= 1
                self._wake()
        except (HTTPStatusError, TransportError):
            # The workers settle these one by one once due (each is still uncertain).
            for key in pending:
                await self.ledger.defer(key, retry_at=_utcnow() + timedelta(seconds=self.settings.probe_delay))
        except (AuthError, LedgerError) as exc:
            self.fatal = exc
        finally:
            for key in pending:
                await self.ledger.release(key, self.owner)
            self._settling = 0
            self._wake()

    async def find_by_keys(self, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The account's depositions carrying each key as an alternate identifier (batched OR queries)."""
        out: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
        wanted = {k.lower(): k for k in keys}
        for i in range(0, len(keys), PROBE_BATCH):
            batch = keys[i:i + PROBE_BATCH]
            q = " OR ".join(f'alternate.identifier:"{_escape(k)}"' for k in batch)
            hits = await self._call(None, "probe", self.client.list_depositions, q=q, size=100, all_versions=True)
            for hit in hits:
                for rel in (hit.get("metadata") or {}).get("related_identifiers") or []:
                    original = wanted.get(str(rel.get("identifier", "")).lower())
                    if original is not None and rel.get("relation") == "isAlternateIdentifier":
                        out[original].append(hit)
        return out


def _is_done(deposition: dict[str, Any]) -> bool:
    """Published with no open draft ("done"); an edit is "inprogress" (and submitted) until published."""
    done = deposition.get("state") == "done" if "state" in deposition else deposition.get("submitted")
    return bool(done and deposition.get("doi"))


def _escape(key: str) -> str:
    return key.replace("\\", "\\\\").replace('"', '\\"')


def _utcnow() -> datetime:
    return datetime.now(UTC)
