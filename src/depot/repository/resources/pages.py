"""HTML landing pages (issue 5): records, versions, search and communities, with schema.org JSON-LD.

Server-rendered with Jinja2 (autoescaped). A landing-page request is a COUNTER view of the record.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

import anyio.to_thread
import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from depot.repository.context import Context
from depot.repository.errors import GoneError, NotFoundError, ValidationError
from depot.repository.exports import bibtex, csl
from depot.repository.exports.registry import FORMATS
from depot.repository.exports.schemaorg import jsonld
from depot.repository.iiif.manifest import image_service, manifest_url
from depot.repository.pages import citations
from depot.repository.pages.locality import locality
from depot.repository.pages.readable import date_range, interval, license_name, timestamp
from depot.repository.resources.http import blocking, facet_filters, identity, off_loop
from depot.repository.resources.iiif import IMAGE_TYPES, _dimensions
from depot.repository.serializers.published import published_record
from depot.repository.services.facets import FACETS, SPLIT
from depot.repository.services.ids import parse_id
from depot.repository.services.records import RecordSearch
from depot.repository.services.richtext import snippet, to_html
from depot.repository.services.usage import UsageService, counts_as_access
from depot.repository.services.views import Deposit, StoredFile
from depot.repository.usage.counter import VIEW

PAGE_SIZE = 20
PREVIEW_EDGE = 800
PREVIEW_SIZE = f"!{PREVIEW_EDGE},{PREVIEW_EDGE}"
# Within 160 x 160; "^" lets an image smaller than that through (the server refuses !w,h above an image's size),
# so a hit needs no look at the image's dimensions.
THUMBNAIL_SIZE = "^!160,160"
# The search and community pages' sort menu: (value of ?sort=, label), the first the default.
SORTS = (("mostrecent", "Newest"), ("oldest", "Oldest"), ("title", "Title"), ("publication_date", "Publication date"))
IIIF_MANIFEST_TYPE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
# Darwin Core terms whose values are dates or intervals, shown as readable ranges.
DATE_TERMS = {"dwc:eventDate", "dwc:dateIdentified", "dcterms:modified"}


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(loader=PackageLoader("depot.repository", "templates"),
                       autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def render(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(environment().get_template(template).render(**values), status_code=status)


def not_found(message: str = "There is no published record, page or community at this address.") -> HTMLResponse:
    return render("not_found.html", 404, title="Not found", message=message)


def tombstone(ctx: Context, deposit: Deposit) -> HTMLResponse:
    """410 Gone with what a citation of the withdrawn record still needs: title, DOI, when and why."""
    doi = deposit.doi or ""
    return render("tombstone.html", 410, title=(deposit.record or {}).get("title") or doi, doi=doi,
                  doi_url=ctx.links.doi_url(doi) if doi else "", withdrawn=deposit.withdrawn or "",
                  reason=deposit.withdrawal_reason or "")


def size_label(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # unreachable: the loop returns at TB


def citation(record: dict[str, Any], publisher: str) -> str:
    """"Creator (Year). Title (Version v). Publisher. DOI URL" — the short form Zenodo's landing page offers."""
    meta = record.get("metadata") or {}
    names = [str(c.get("name")) for c in meta.get("creators") or [] if isinstance(c, dict) and c.get("name")]
    who = (", ".join(names[:-1]) + " & " + names[-1]) if len(names) > 1 else (names[0] if names else "Anonymous")
    year = str(meta.get("publication_date") or record.get("created") or "")[:4] or "n.d."
    title = str(meta.get("title") or record.get("title") or "").rstrip(".")
    version = f" (Version {meta['version']})" if meta.get("version") else ""
    doi = f" {record['doi_url']}" if record.get("doi_url") else ""
    return f"{who} ({year}). {title}{version}. {publisher}.{doi}"


def _custom_fields(meta: dict[str, Any]) -> list[tuple[str, str]]:
    custom = meta.get("custom")
    if not isinstance(custom, dict):
        return []
    def shown(term: str, value: object) -> str:
        return interval(str(value)) if term in DATE_TERMS else str(value)

    return [(str(term), "; ".join(shown(str(term), v) for v in (values if isinstance(values, list) else [values])))
            for term, values in sorted(custom.items())]


def _hit(ctx: Context, deposit: Deposit) -> dict[str, Any]:
    meta = deposit.record or {}
    names = [str(c.get("name")) for c in meta.get("creators") or [] if isinstance(c, dict)]
    description = str(meta.get("description") or "")
    image = next((f for f in deposit.files if f.mimetype in IMAGE_TYPES), None)
    thumbnail = f"{image_service('/api', str(deposit.id), image.key)}/full/{THUMBNAIL_SIZE}/0/default.jpg" \
        if image else None
    return {"url": f"/records/{deposit.id}", "title": meta.get("title") or f"Record {deposit.id}",
            "creators": "; ".join(names), "date": meta.get("publication_date"), "doi": deposit.doi,
            "description": snippet(description), "thumbnail": thumbnail}


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else [value] if value else []


@lru_cache(maxsize=2048)
def _cached_citation(style: str, item: str) -> str:
    return citations.render(orjson.loads(item), style)


def _cited(ctx: Context, deposit: Deposit, style: str) -> str:
    """The entry of ``deposit`` in ``style``, cached by its CSL-JSON (a style costs up to ~60 ms to render)."""
    return _cached_citation(style, orjson.dumps(csl.item(published_record(ctx, deposit))).decode())


def _pager(request: Request, page: int, total: int) -> dict[str, Any]:
    pages = max(1, math.ceil(total / _page_size(request)))

    def url(n: int) -> str:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        return f"{request.url.path}?{urlencode([*params, ('page', n)])}"

    return {"page": page, "pages": pages, "previous_url": url(page - 1) if page > 1 else None,
            "next_url": url(page + 1) if page < pages else None}


def _facet_url(request: Request, filters: dict[str, tuple[str, ...]], facet: str, value: str) -> str:
    """This page's address with ``facet:value`` toggled, back at page 1; filters are spelled ``f=``."""
    chosen = {k: list(v) for k, v in filters.items()}
    values = chosen.setdefault(facet, [])
    if value in values:
        values.remove(value)
    else:
        values.append(value)
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "f", *FACETS)]
    params += [("f", f"{k}:{v}") for k, vs in chosen.items() for v in vs]
    return f"{request.url.path}?{urlencode(params)}" if params else request.url.path


def _facets(request: Request, aggregations: dict[str, Any], filters: dict[str, tuple[str, ...]]) -> list[Any]:
    """The facet menus of a search page: each bucket a link that adds or removes its filter."""
    menus = []
    for facet in FACETS:
        agg = aggregations.get(facet) or {}

        def entry(bucket: dict[str, Any], value: str, facet: str = facet) -> dict[str, Any]:
            return {"label": bucket["label"], "count": bucket["doc_count"], "selected": bucket["is_selected"],
                    "url": _facet_url(request, filters, facet, value)}

        buckets = [{**entry(b, b["key"]), "inner": [entry(i, f"{b['key']}{SPLIT}{i['key']}")
                                                   for i in (b.get("inner") or {}).get("buckets", [])]}
                   for b in agg.get("buckets", [])]
        if buckets:
            menus.append({"name": facet, "label": agg.get("label", facet), "buckets": buckets})
    return menus


def _filter_params(filters: dict[str, tuple[str, ...]]) -> list[str]:
    """The ``f=`` values the sort form carries along."""
    return [f"{k}:{v}" for k, vs in filters.items() for v in vs]


def _sort(request: Request) -> str:
    """The ``?sort=`` of the menu; anything else falls back to the default rather than failing the page."""
    raw = request.query_params.get("sort", "")
    return raw if raw in dict(SORTS) else SORTS[0][0]


def _page_size(request: Request) -> int:
    """``?size=`` of 1 to 25 records a page (the search's cap for an anonymous reader); else 20."""
    raw = request.query_params.get("size", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 25 else PAGE_SIZE


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) >= 1 else 1


def signposting(values: dict[str, Any]) -> str:
    """FAIR Signposting ``Link`` header of a landing page: cite-as, describedby, item, license (standards §5.8)."""
    base = values["base"]
    links = [f'<{values["doi_url"]}>; rel="cite-as"'] if values.get("doi_url") else []
    links += [f'<{base}{e["url"]}>; rel="describedby"; type="{e["media_type"]}"' for e in values["exports"]
              if e["name"] in ("json-ld", "datacite-xml", "datacite-json")]
    links += [f'<{base}{f["url"]}>; rel="item"; type="{f["mimetype"]}"' for f in values["files"]]
    if values.get("license_url"):
        links.append(f'<{values["license_url"]}>; rel="license"')
    return ", ".join(links)


class Pages:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def usage(self) -> UsageService:
        return self.ctx.usage

    def _published(self, raw: str) -> Deposit | None:
        record_id = parse_id(raw)
        if record_id is None:
            return None
        try:
            return self.ctx.records.read(record_id)
        except NotFoundError:
            return None

    @off_loop
    def record(self, request: Request) -> Response:
        try:
            deposit = self._published(request.path_params["id"])
        except GoneError as gone:
            assert isinstance(gone.tombstone, Deposit)
            return tombstone(self.ctx, gone.tombstone)
        if deposit is None:
            return not_found()
        if counts_as_access(request.method, None):  # a landing-page view (a COUNTER investigation)
            self.usage.record(VIEW, deposit, item=str(deposit.id), ip=request.client.host if request.client else "",
                              user_agent=request.headers.get("user-agent", ""))
        values = self.record_values(deposit)
        response = render("record.html", **values)
        response.headers["link"] = signposting(values)
        return response

    def record_values(self, deposit: Deposit) -> dict[str, Any]:
        """Everything the record template shows, from the same JSON the records API serves."""
        ctx = self.ctx
        versions = ctx.records.versions(deposit.id)
        record = published_record(ctx, deposit, is_last=versions[-1].id == deposit.id)
        stats = record["stats"]
        accepted = [c["id"] for c in record["metadata"].get("communities") or []]
        meta: dict[str, Any] = record["metadata"]
        # Relative links in the page work behind any proxy; the JSON-LD keeps the absolute ones.
        files = [{"key": f.key, "size": f.size, "size_label": size_label(f.size), "md5": f.md5, "mimetype": f.mimetype,
                  "url": f"/api/records/{deposit.id}/files/{quote(f.key)}/content"} for f in deposit.files]
        images = [f for f in deposit.files if f.mimetype in IMAGE_TYPES]
        image = images[0] if images else None
        doc = jsonld(record)
        preview_url = iiif_info_url = manifest = None
        if image is not None:
            path = f"/api/iiif/{quote(f'record:{deposit.id}:{image.key}', safe=':')}"
            preview_url = f"{path}/full/{self._preview_size(image)}/0/default.jpg"
            iiif_info_url = f"{path}/info.json"
            manifest = manifest_url("/api", str(deposit.id))
            doc.setdefault("thumbnailUrl", ctx.links.base + preview_url)
            doc.setdefault("image", [f"{ctx.links.record(deposit.id)}/files/{quote(image.key)}/content"])
            # The IIIF manifest, for viewers and aggregators that start from the page's JSON-LD.
            doc["subjectOf"] = [*_as_list(doc.get("subjectOf")), {
                "@type": "CreativeWork", "name": "IIIF Presentation 3 manifest", "encodingFormat": IIIF_MANIFEST_TYPE,
                "url": manifest_url(ctx.links.api, str(deposit.id))}]
        publisher = doc.get("publisher", {}).get("name") if isinstance(doc.get("publisher"), dict) else None
        lic = meta.get("license")
        license_id = lic.get("id") if isinstance(lic, dict) else lic
        raw = meta.get("custom")
        custom: dict[str, Any] = raw if isinstance(raw, dict) else {}
        occurrence = custom.get("dwc:occurrenceID")
        return {
            "title": meta.get("title") or record["title"], "url": record["links"]["self_html"], "id": deposit.id,
            "creators": [c for c in meta.get("creators") or [] if isinstance(c, dict)],
            "description": Markup(to_html(str(meta.get("description") or ""))),
            "publication_date": meta.get("publication_date"),
            "version": meta.get("version"), "doi": record["doi"], "doi_url": record["doi_url"],
            "resource_type": (meta.get("resource_type") or {}).get("title"),
            "license": license_id, "license_name": license_name(str(license_id)) if license_id else None,
            "license_url": doc.get("license"),
            "keywords": meta.get("keywords") or [], "created": timestamp(record["created"]),
            "modified": timestamp(record["modified"]),
            "dates": [{"type": d.get("type", ""), "value": date_range(d.get("start"), d.get("end"))}
                      for d in meta.get("dates") or [] if isinstance(d, dict)],
            "communities": accepted, "custom": _custom_fields(meta), "files": files,
            "occurrence_id": str(occurrence[0] if isinstance(occurrence, list) and occurrence else occurrence or ""),
            "locality": locality(meta), "map_tile_url": ctx.config.map_tile_url,
            "map_tile_attribution": ctx.config.map_tile_attribution or "",
            "preview_url": preview_url, "iiif_info_url": iiif_info_url, "manifest_url": manifest,
            "manifest_type": IIIF_MANIFEST_TYPE,
            "preview_key": image.key if image else None,
            "images": [{"key": f.key, "info": f"{image_service('/api', str(deposit.id), f.key)}/info.json"}
                       for f in images],
            "citation": citation(record, str(publisher or "Depot")), "bibtex": bibtex.as_bibtex(record),
            "citation_styles": [(name, label) for name, (label, _) in citations.STYLES.items()],
            "versions": [{"url": f"/records/{v.id}", "current": v.id == deposit.id, "doi": v.doi,
                          "label": (v.record or {}).get("version") or f"Version {v.version_index or i + 1}",
                          "date": (v.record or {}).get("publication_date")}
                         for i, v in enumerate(reversed(versions))],
            "stats": stats, "jsonld": doc,
            "exports": [{"name": f.name, "media_type": f.media_type, "url": f"/records/{deposit.id}/export/{f.name}"}
                        for f in FORMATS],
            "base": ctx.links.base,
        }

    async def citation(self, request: Request) -> Response:
        """One bibliography entry in a CSL style, as an HTML fragment for the page's style menu."""
        style = request.query_params.get("style", "apa")
        if style not in citations.STYLES:
            return HTMLResponse(f"Unknown citation style; use one of {', '.join(citations.STYLES)}.", 400)
        deposit = await blocking(self.ctx, self._published, request.path_params["id"])
        if deposit is None:
            return HTMLResponse("There is no published record at this address.", 404)
        text = await anyio.to_thread.run_sync(_cited, self.ctx, deposit, style)
        return HTMLResponse(text, headers={"cache-control": "public, max-age=3600"})

    def _preview_size(self, image: StoredFile) -> str:
        """``!800,800``, or ``max`` for a smaller image: our IIIF server refuses ``!w,h`` above the image's size."""
        try:
            width, height = _dimensions(str(self.ctx.blobs.path(image.uri)), image.file_id)
        except Exception:  # an unreadable image still gets a page; its preview will show the IIIF error
            return PREVIEW_SIZE
        return PREVIEW_SIZE if width > PREVIEW_EDGE or height > PREVIEW_EDGE else "max"

    @off_loop
    def latest(self, request: Request) -> Response:
        raw = request.path_params["id"]
        record_id = parse_id(raw)
        if record_id is None:
            return not_found()
        try:
            newest = self.ctx.records.latest(record_id)
        except NotFoundError:
            return not_found()
        return RedirectResponse(f"/records/{newest.id}", status_code=302)

    @off_loop
    def search(self, request: Request) -> Response:
        query = request.query_params.get("q") or None
        page = _page_number(request)
        sort = _sort(request)
        values: dict[str, Any] = {"title": f"Search: {query}" if query else "Records", "query": query,
                                  "sort": sort, "sorts": SORTS}
        try:
            filters = facet_filters(request)
            search = RecordSearch(q=query, page=page, size=_page_size(request), sort=sort, filters=filters)
            found = self.ctx.records.search(identity(request), search)
        except ValidationError as exc:
            return render("search.html", 400, error=f"The search could not run: {exc}", **values)
        return render("search.html", **values, total=found.total, hits=[_hit(self.ctx, d) for d in found.hits],
                      facets=_facets(request, found.aggregations, filters), filters=_filter_params(filters),
                      **_pager(request, page, found.total))

    @off_loop
    def community(self, request: Request) -> Response:
        try:
            community = self.ctx.accounts.get_community(request.path_params["slug"])
        except NotFoundError:
            return not_found("There is no community with this name.")
        page = _page_number(request)
        sort = _sort(request)
        try:
            filters = facet_filters(request)
            search = RecordSearch(communities=community.slug, page=page, size=_page_size(request), sort=sort,
                                  filters=filters)
            found = self.ctx.records.search(identity(request), search)
            # The community's own count, whatever the filters.
            count = found.total if not filters else self.ctx.records.search(
                identity(request), RecordSearch(communities=community.slug, size=1)).total
        except ValidationError:
            return not_found("There is no such page of this community.")
        logo = f"/communities/{quote(community.slug)}/logo" if community.logo_type else None
        return render("community.html", title=community.title, community=community, total=found.total,
                      description=Markup(community.description), logo_url=logo,
                      count=count, sort=sort, sorts=SORTS,
                      facets=_facets(request, found.aggregations, filters), filters=_filter_params(filters),
                      hits=[_hit(self.ctx, d) for d in found.hits], **_pager(request, page, found.total),
                      listing_url=f"{self.ctx.links.api}/communities/{quote(community.id)}/listing")


    @off_loop
    def logo(self, request: Request) -> Response:
        try:
            data, media_type = self.ctx.accounts.community_logo(request.path_params["slug"])
        except NotFoundError:
            return not_found("This community has no logo.")
        # nosniff: the bytes were checked to be an image; a browser must not take them for anything else.
        return Response(data, media_type=media_type, headers={"cache-control": "public, max-age=3600",
                                                              "x-content-type-options": "nosniff"})


def routes(ctx: Context) -> list[BaseRoute]:
    pages = Pages(ctx)
    return [
        Route("/records/{id}", pages.record, methods=["GET"]),
        Route("/records/{id}/latest", pages.latest, methods=["GET"]),
        Route("/records/{id}/citation", pages.citation, methods=["GET"]),
        Route("/search", pages.search, methods=["GET"]),
        Route("/communities/{slug}", pages.community, methods=["GET"]),
        Route("/communities/{slug}/logo", pages.logo, methods=["GET"]),
    ]
