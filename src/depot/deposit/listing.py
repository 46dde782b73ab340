"""I/O: list every deposition of the account, past Zenodo's 10,000-hit search window.

Pages of 100 sorted oldest first; when the next page would pass the window, the listing restarts with
``created:[<last seen> TO *]`` and skips what it has already seen (several depositions can share a
timestamp), so any number of depositions is reached with the documented API alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol


class Lister(Protocol):
    """A RepositoryClient, or the checks' PatientClient that retries each page."""

    async def list_depositions(self, *, q: str | None = ..., page: int = ..., size: int = ...,
                               sort: str = ..., all_versions: bool = ...) -> list[dict[str, Any]]: ...

PAGE = 100
WINDOW = 10_000


async def all_depositions(client: Lister, *, page_size: int = PAGE,
                          window: int = WINDOW) -> AsyncIterator[dict[str, Any]]:
    seen: set[int] = set()
    since: str | None = None
    while True:
        page = 1
        last_created = since
        progressed = False
        while page * page_size <= window:
            # Quoted bounds: Elasticsearch's query syntax (and ours) takes a timestamp's colons inside quotes.
            q = f'created:["{since}" TO *]' if since else None
            hits = await client.list_depositions(q=q, page=page, size=page_size, sort="-mostrecent",
                                                 all_versions=True)
            for hit in hits:
                if int(hit["id"]) in seen:
                    continue
                seen.add(int(hit["id"]))
                progressed = True
                last_created = hit.get("created", last_created)
                yield hit
            if len(hits) < page_size:
                return
            page += 1
        if not progressed or last_created == since:
            return  # a single timestamp holds more than a window: nothing more can be reached
        since = last_created

