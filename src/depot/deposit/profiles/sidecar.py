"""The Darwin Core JSON-LD file deposited beside the images, as the 2019 ICEDIG pilot did.

Shape of the pilot's ``BR0000008525000.json``: a ``@context`` of prefixes and an ``@graph`` with the
occurrence (every term under its prefix, ``@id`` the CETAF URI) and one ``gbif:Multimedia`` node per
image. Unlike the pilot's file, which was windows-1252, this one is UTF-8.
"""

from __future__ import annotations

import json
import re
from typing import Any

from depot.deposit.models import Specimen
from depot.deposit.sources.terms import DCTERMS, DWC, term_prefix

CONTEXT = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": DCTERMS,
    "dwc": DWC,
    "ac": "http://rs.tdwg.org/ac/terms/",
    "gbif": "http://rs.gbif.org/terms/1.0/",
}
_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


def jsonld_document(specimen: Specimen, cetaf_id: str | None) -> bytes:
    """The specimen's terms (names outside Darwin/Dublin Core kept as they are) and media as JSON-LD."""
    occurrence: dict[str, Any] = {}
    for name, value in specimen.terms.items():
        prefix = term_prefix(name)
        occurrence[f"{prefix}:{name}" if prefix else name] = value
    identifier = cetaf_id or (specimen.key if _IRI.fullmatch(specimen.key) else None)
    if identifier:
        occurrence["@id"] = identifier
    occurrence["@type"] = "dwc:Occurrence"
    graph: list[dict[str, Any]] = [occurrence]
    for media in specimen.media:
        node = {
            "dcterms:identifier": media.uri, "dcterms:type": "StillImage" if _is_image(media.format) else None,
            "dcterms:format": media.format, "dcterms:license": media.license, "dcterms:title": media.title,
            "dcterms:creator": media.creator, "dcterms:rightsHolder": media.rights_holder,
        }
        graph.append({**{k: v for k, v in node.items() if v}, "@type": "gbif:Multimedia"})
    text = json.dumps({"@context": CONTEXT, "@graph": graph}, ensure_ascii=False, indent=2)
    return text.encode("utf-8") + b"\n"


def _is_image(media_format: str | None) -> bool:
    return media_format is not None and media_format.lower().startswith("image/")
