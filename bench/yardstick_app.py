"""The yardstick repository (../shared/yardstick/ideal_repo.py) plus the one read `depot run` makes first.

`depot run` looks before it leaps: its preflight lists the account's depositions (GET, size=1) to check the
target and the token. The yardstick has only the deposit cycle, so this answers that listing with an
empty account; the create -> PUT -> publish being measured is the yardstick's own. Run with uvicorn's
``--app-dir`` set to the yardstick's folder and this folder on PYTHONPATH.
"""

from __future__ import annotations

from ideal_repo import app  # type: ignore[import-not-found]
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def no_depositions(_request: Request) -> JSONResponse:
    return JSONResponse([])


app.router.routes.insert(0, Route("/api/deposit/depositions", no_depositions, methods=["GET"]))
