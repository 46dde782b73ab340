"""Administration routes: ``GET /api/admin/fixity`` (last audit runs, current problems, bag queue).

Admin is whoever presents the config's ``admin_token`` as a bearer token (users have no admin flag);
with no admin token configured the routes answer 403 to everyone. The Gateway has already rate-limited
the request (the admin token is no user token, so it counts as anonymous).
"""

from __future__ import annotations

import hmac

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from depot.repository.context import Context
from depot.repository.errors import NotFoundError, PermissionDeniedError
from depot.repository.resources.http import json_response


def is_admin(request: Request, admin_token: str | None) -> bool:
    if not admin_token:
        return False
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), admin_token.encode())


def routes(ctx: Context) -> list[BaseRoute]:
    from depot.repository.preservation.service import of

    async def fixity(request: Request) -> Response:
        if not is_admin(request, ctx.config.admin_token):
            raise PermissionDeniedError()
        preservation = of(ctx)
        if preservation is None:
            raise NotFoundError()
        return json_response(await anyio.to_thread.run_sync(preservation.status))

    return [Route("/api/admin/fixity", fixity, methods=["GET"])]
