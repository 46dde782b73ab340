"""Which serializer answers which media type (``Accept``) and which export name (``/records/{id}/export/{name}``).

Media types are Zenodo's records-API serializers (zenodo-api.md §4.3); export names are InvenioRDM's
(standards.md §6), with ``schemaorg_jsonld`` kept as an alias because legacy Zenodo used it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from depot.repository.exports import bibtex, csl, datacite, dcat, dublincore, marc21, schemaorg


@dataclass(frozen=True)
class Format:
    name: str
    media_type: str
    extension: str
    render: Callable[[dict[str, Any]], bytes]


def _json(build: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], bytes]:
    return lambda record: orjson.dumps(build(record), option=orjson.OPT_INDENT_2)


FORMATS: tuple[Format, ...] = (
    Format("json", "application/json", "json", _json(lambda record: record)),
    Format("json-ld", "application/ld+json", "jsonld", _json(schemaorg.jsonld)),
    Format("csl", "application/vnd.citationstyles.csl+json", "json", _json(csl.item)),
    Format("datacite-json", "application/vnd.datacite.datacite+json", "json", _json(datacite.as_json)),
    Format("datacite-xml", "application/vnd.datacite.datacite+xml", "xml", datacite.as_xml),
    Format("dublincore", "application/x-dc+xml", "xml", dublincore.as_xml),
    Format("marcxml", "application/marcxml+xml", "xml", marc21.as_xml),
    Format("dcat-ap", "application/dcat+xml", "xml", dcat.as_xml),  # InvenioRDM's name and media type
    Format("bibtex", "application/x-bibtex", "bib", lambda record: bibtex.as_bibtex(record).encode()),
)
BY_NAME: dict[str, Format] = {f.name: f for f in FORMATS}
BY_NAME["schemaorg_jsonld"] = BY_NAME["json-ld"]

BY_MEDIA_TYPE: dict[str, Format] = {f.media_type: f for f in FORMATS}
BY_MEDIA_TYPE["application/vnd.zenodo.v1+json"] = BY_NAME["json"]
BY_MEDIA_TYPE["application/x-datacite+xml"] = BY_NAME["datacite-xml"]


def _ranges(accept: str) -> list[tuple[float, int, str]]:
    """(quality, position, media range) of each Accept entry; malformed q counts as 1 (lenient, as werkzeug)."""
    out = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 1.0
        out.append((quality, position, media.lower()))
    return out


def negotiate(accept: str | None) -> tuple[str, Format] | None:
    """The (media type, format) an Accept header asks for; JSON when absent or a wildcard wins; None -> 406."""
    if not accept or not accept.strip():
        return "application/json", BY_NAME["json"]
    # Highest quality first; among equals, the more specific range, then the header's order.
    for quality, _, media in sorted(_ranges(accept), key=lambda r: (-r[0], "*" in r[2], r[1])):
        if quality <= 0:
            continue
        if media in BY_MEDIA_TYPE:
            return media, BY_MEDIA_TYPE[media]
        if media in ("*/*", "application/*"):
            return "application/json", BY_NAME["json"]
    return None


def supported_media_types() -> list[str]:
    return list(BY_MEDIA_TYPE)
