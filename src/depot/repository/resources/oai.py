"""Routes for issue 5 (oai); filled in by the work on that issue."""

from __future__ import annotations

from starlette.routing import BaseRoute

from depot.repository.resources.context import Context


def routes(ctx: Context) -> list[BaseRoute]:
    return []
