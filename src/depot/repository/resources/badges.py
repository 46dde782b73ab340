"""DOI badges (``links.badge``, ``links.conceptbadge``): ``/badge/doi/{doi}.svg``, an SVG as Zenodo serves.

Zenodo draws a two-part "DOI | 10.5281/zenodo.123" shield (invenio-formatter's badge); ours has the same
shape, drawn here without a font file: widths come from an average glyph width, which the SVG's
``textLength`` then holds the text to.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from depot.repository.context import Context
from depot.repository.errors import NotFoundError

SVG = "image/svg+xml"
CHAR_WIDTH = 7  # px per character of 11 px Verdana, on average
PAD = 6
QUOTE = {'"': "&quot;"}


def badge_svg(label: str, value: str) -> str:
    """A flat two-part shield: grey ``label``, blue ``value`` (both escaped)."""
    left = len(label) * CHAR_WIDTH + 2 * PAD
    right = len(value) * CHAR_WIDTH + 2 * PAD
    width = left + right
    lab, val = escape(label, QUOTE), escape(value, QUOTE)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{lab}: {val}">'
        f"<title>{lab}: {val}</title>"
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="#007ec6"/>'
        f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{PAD}" y="14" textLength="{left - 2 * PAD}">{lab}</text>'
        f'<text x="{left + PAD}" y="14" textLength="{right - 2 * PAD}">{val}</text>'
        f"</g></svg>"
    )


def routes(ctx: Context) -> list[BaseRoute]:
    async def doi_badge(request: Request) -> Response:
        raw = str(request.path_params["doi"])
        doi = raw.removesuffix(".svg")
        # Hostile text never reaches the database (PostgreSQL refuses a NUL in a string outright).
        if doi == raw or not doi or len(doi) > 255 or not doi.isprintable() or not ctx.records.minted(doi):
            raise NotFoundError("There is no record with this DOI here.")
        # A badge never changes for its DOI, so caches may keep it.
        return Response(badge_svg("DOI", doi), media_type=SVG, headers={"Cache-Control": "public, max-age=86400"})

    return [Route("/badge/doi/{doi:path}", doi_badge, methods=["GET"])]
