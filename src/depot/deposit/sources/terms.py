"""Darwin Core and Dublin Core term names: simple name <-> term URI, and spellings found in real files.

The list is python-dwca-reader's own (``dwca.darwincore.terms``, Darwin Core occurrence and taxon terms
plus the dcterms record-level terms) with the Darwin Core terms it predates added.
"""

from __future__ import annotations

from functools import cache

from dwca.darwincore.terms import TERMS

DWC = "http://rs.tdwg.org/dwc/terms/"
DCTERMS = "http://purl.org/dc/terms/"
PREFIXES = {DWC: "dwc", DCTERMS: "dcterms"}

_ADDED = [DWC + name for name in (
    "recordedByID", "identifiedByID", "organismID", "organismName", "organismScope", "organismRemarks",
    "organismQuantity", "organismQuantityType", "associatedOrganisms", "degreeOfEstablishment", "pathway",
    "verbatimLabel", "vitality", "eventType", "verbatimIdentification", "cultivarEpithet", "subfamily",
    "tribe", "subtribe", "superfamily", "genericName", "infragenericEpithet", "materialEntityID",
)] + [DCTERMS + "identifier"]
_ROW_TYPES = {"Occurrence", "Event", "Taxon"}

TERM_URIS: dict[str, str] = {
    uri.rsplit("/", 1)[1]: uri for uri in [*TERMS, *_ADDED] if uri.rsplit("/", 1)[1] not in _ROW_TYPES
}
_BY_LOWER = {name.lower(): name for name in TERM_URIS}


@cache  # called for every cell of every row; the distinct spellings in one dataset are few
def simple_name(term: str) -> str:
    """The simple name of a term given as a URI, a prefixed name (``dwc:family``) or a simple name.

    Known Darwin/Dublin Core names come back in their canonical case (``scientificname`` ->
    ``scientificName``, as in GBIF downloads); anything else comes back stripped but unchanged.
    """
    name = term.strip()
    if "/" in name:
        name = name.rstrip("/").rsplit("/", 1)[1]
    if ":" in name:
        name = name.rsplit(":", 1)[1]
    return _BY_LOWER.get(name.lower(), name)


def term_uri(name: str) -> str | None:
    """The URI of a simple term name, or None for a name that is not a known Darwin/Dublin Core term."""
    return TERM_URIS.get(name)


def term_prefix(name: str) -> str | None:
    """``dwc`` or ``dcterms`` for a known term, else None."""
    uri = TERM_URIS.get(name)
    return None if uri is None else PREFIXES[uri.rsplit("/", 1)[0] + "/"]
