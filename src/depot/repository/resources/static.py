"""The landing pages' own scripts, styles and images (vendored OpenSeadragon and Leaflet): /static/<path>.

Served from the installed package, so a page needs no CDN and works offline or behind a strict firewall.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from depot.repository.resources.pages import not_found

ROOT = Path(str(files("depot.repository") / "static")).resolve()
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml",
         ".txt": "text/plain; charset=utf-8"}


async def static(request: Request) -> Response:
    path = (ROOT / request.path_params["path"]).resolve()
    if not path.is_relative_to(ROOT) or path.suffix not in TYPES or not path.is_file():
        return not_found("There is no such file.")
    # The vendored files change only with a package release, whose pages ask for them with a new ?v=.
    return FileResponse(path, media_type=TYPES[path.suffix], headers={"cache-control": "public, max-age=86400"})


def routes() -> list[BaseRoute]:
    return [Route("/static/{path:path}", static, methods=["GET"])]
