"""Communities the records name, checked against the target before a run sends anything.

Current Zenodo drops an unknown community without a word at publish; the legacy API answered 400
"Invalid communities". Either way the data manager should hear of it before the first record is made.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol
from urllib.parse import quote

from depot.deposit.errors import HTTPStatusError


class _Requests(Protocol):
    api_url: str

    async def request(self, step: str, method: str, url: str) -> object: ...


async def unknown_communities(client: _Requests, identifiers: Iterable[str]) -> list[str]:
    """The identifiers the target has no community for (``GET /api/communities/{id}`` answers 404)."""
    unknown = []
    for identifier in sorted(set(identifiers)):
        try:
            await client.request("community", "GET", f"{client.api_url}/communities/{quote(identifier, safe='')}")
        except HTTPStatusError as exc:
            if exc.status != 404:
                raise
            unknown.append(identifier)
    return unknown
