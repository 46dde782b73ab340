"""The yardstick (../shared/yardstick/ideal_repo.py) plus the one request `depot run` sends before its
work: ``GET /api/deposit/depositions`` (its preflight), answered with an empty list. Nothing per record
is added. Run by bench.harness.serve_yardstick as ``uvicorn bench.yardstick_app:app``, with the yardstick's
folder on sys.path (``--app-dir``) and the repository root as the working directory.
"""

from __future__ import annotations

from typing import Any

import ideal_repo  # type: ignore[import-not-found]
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def depositions(_request: Request) -> JSONResponse:
    return JSONResponse([])


app: Any = ideal_repo.app
app.router.routes.append(Route("/api/deposit/depositions", depositions, methods=["GET"]))
