"""IIIF Presentation API 3.0 manifest of a record (pure): one canvas per image file, each painted by the
image's IIIF Image API service, with the record's metadata, licence and attribution.

Built as plain dicts (fast, no model layer on the request path); the tests validate the output with the
iiif-prezi3 models, which follow the Presentation 3 JSON schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from depot.repository.exports import common as c
from depot.repository.services.richtext import to_text

CONTEXT = "http://iiif.io/api/presentation/3/context.json"


@dataclass(frozen=True)
class Image:
    key: str
    width: int
    height: int


def image_service(api: str, recid: str, key: str) -> str:
    return f"{api}/iiif/{quote(f'record:{recid}:{key}', safe=':')}"


def manifest_url(api: str, recid: str) -> str:
    return f"{api}/iiif/record:{recid}/manifest"


def rights_uri(lic: str | None) -> str | None:
    """Presentation 3 ``rights`` takes only Creative Commons or RightsStatements.org URIs (spec §3.3.1)."""
    if not lic or not lic.startswith("cc-"):
        return None
    if lic == "cc-zero":
        return "http://creativecommons.org/publicdomain/zero/1.0/"
    code, _, version = lic[3:].rpartition("-")
    return f"http://creativecommons.org/licenses/{code}/{version}/" if code and version else None


def _lang(value: str) -> dict[str, list[str]]:
    return {"none": [value]}


def _pair(label: str, value: str) -> dict[str, Any]:
    return {"label": {"en": [label]}, "value": {"none": [value]}}


def _metadata(record: dict[str, Any]) -> list[dict[str, Any]]:
    m = c.meta(record)
    pairs = []
    creators = "; ".join(str(p["name"]) for p in c.people(record))
    if creators:
        pairs.append(_pair("Creators", creators))
    pairs.append(_pair("Published", c.publication_date(record)))
    if c.doi(record):
        pairs.append(_pair("DOI", f'<a href="{c.doi_url(record)}">{c.doi(record)}</a>'))
    lic = c.license_id(record)
    if lic:
        url = c.license_url(lic)
        pairs.append(_pair("Licence", f'<a href="{url}">{lic}</a>' if url else lic))
    if c.keywords(record):
        pairs.append(_pair("Keywords", "; ".join(c.keywords(record))))
    for term, values in sorted(c.custom(m).items()):
        text = "; ".join(str(v) for v in (values if isinstance(values, list) else [values]))
        if text:
            pairs.append(_pair(str(term), text))
    return pairs


def _canvas(url: str, n: int, image: Image, service: str) -> dict[str, Any]:
    canvas = f"{url}/canvas/{n}"
    body = {"id": f"{service}/full/max/0/default.jpg", "type": "Image", "format": "image/jpeg",
            "width": image.width, "height": image.height,
            "service": [{"id": service, "type": "ImageService3", "profile": "level2"}]}
    return {
        "id": canvas, "type": "Canvas", "label": _lang(image.key), "width": image.width, "height": image.height,
        "thumbnail": [{"id": f"{service}/full/!200,200/0/default.jpg", "type": "Image", "format": "image/jpeg",
                       "service": [{"id": service, "type": "ImageService3", "profile": "level2"}]}],
        "items": [{"id": f"{canvas}/page", "type": "AnnotationPage", "items": [
            {"id": f"{canvas}/page/painting", "type": "Annotation", "motivation": "painting", "body": body,
             "target": canvas}]}],
    }


def manifest(record: dict[str, Any], images: list[Image], api: str, *, export_url: str | None = None) -> dict[str, Any]:
    """The manifest of ``record`` (the records API's JSON) whose image files are ``images``, in file order."""
    m = c.meta(record)
    recid = c.recid(record)
    url = manifest_url(api, recid)
    title = str(m.get("title") or record.get("title") or f"Record {recid}")
    doc: dict[str, Any] = {"@context": CONTEXT, "id": url, "type": "Manifest", "label": _lang(title)}
    summary = to_text(str(m.get("description") or ""))
    if summary:
        doc["summary"] = _lang(summary)
    doc["metadata"] = _metadata(record)
    rights = rights_uri(c.license_id(record))
    if rights:
        doc["rights"] = rights
    creators = "; ".join(str(p["name"]) for p in c.people(record)) or c.publisher(record)
    doc["requiredStatement"] = {"label": {"en": ["Attribution"]},
                                "value": {"none": [f"{creators}, via {c.publisher(record)}"]}}
    landing = c.landing_url(record)
    if landing:
        doc["homepage"] = [{"id": landing, "type": "Text", "label": _lang(title), "format": "text/html"}]
    if export_url:
        doc["seeAlso"] = [{"id": export_url, "type": "Dataset", "format": "application/ld+json",
                           "profile": "https://schema.org/"}]
    doc["items"] = [_canvas(url, n, image, image_service(api, recid, image.key))
                    for n, image in enumerate(images, start=1)]
    return doc
