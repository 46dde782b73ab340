"""What Zenodo accepts: its Darwin Core custom fields (with their value types) and licence ids.

The custom fields are Zenodo's biodiversity fields (zenodo-rdm ``site/zenodo_rdm/custom_fields/
domain_fields.py``): keywords unless noted; ``number`` fields are DoubleCF, ``date`` fields ISODateStringCF.
Every value goes in an array.
"""

from __future__ import annotations

import re

NUMBER, DATE, KEYWORD = "number", "date", "keyword"

_DWC_KEYWORDS = (
    "basisOfRecord", "catalogNumber", "class", "collectionCode", "country", "county", "family", "genus",
    "identifiedBy", "individualCount", "institutionCode", "kingdom", "lifeStage", "locality", "materialSampleID",
    "namePublishedInID", "namePublishedInYear", "order", "otherCatalogNumbers", "phylum", "preparations",
    "recordedBy", "scientificName", "scientificNameAuthorship", "scientificNameID", "sex", "specificEpithet",
    "stateProvince", "taxonID", "taxonRank", "taxonomicStatus", "typeStatus", "verbatimElevation",
    "verbatimEventDate",
)

# simple Darwin/Dublin Core term name -> (Zenodo custom field, value type)
ZENODO_CUSTOM_TERMS: dict[str, tuple[str, str]] = {
    **{name: (f"dwc:{name}", KEYWORD) for name in _DWC_KEYWORDS},
    "decimalLatitude": ("dwc:decimalLatitude", NUMBER),
    "decimalLongitude": ("dwc:decimalLongitude", NUMBER),
    "eventDate": ("dwc:eventDate", DATE),
    "dateIdentified": ("dwc:dateIdentified", DATE),
    "recordedByID": ("gbif-dwc:recordedByID", KEYWORD),
    "identifiedByID": ("gbif-dwc:identifiedByID", KEYWORD),
    "rightsHolder": ("dc:rightsHolder", KEYWORD),
}

HTML_FIELDS = frozenset({"description", "notes", "method", "access_conditions"})

# licence ids other than Creative Commons that Zenodo knows and data publishers use
_OTHER_LICENCES = frozenset({"mit", "apache-2.0", "odbl-1.0", "odc-by-1.0", "pddl-1.0", "gpl-3.0", "bsd-3-clause",
                             "etalab-2.0", "ogl-uk-3.0"})
_CC_URL = re.compile(r"creativecommons\.org/(licenses|publicdomain)/([a-z-]+)/(\d+(?:\.\d+)?)", re.IGNORECASE)
_CC_ZERO = re.compile(r"cc-?(?:0|zero)(?:-?1(?:[.-]0)?)?(?:-universal)?")
_CC_BY = re.compile(r"cc-(by(?:-(?:nc|sa|nd))*)(?:-(\d)(?:[.-](\d))?)?")


def zenodo_license_id(value: str) -> str:
    """A Zenodo licence id (``cc-by-4.0``, ``cc0-1.0``...) for a licence URL, name or GBIF code.

    Raises ValueError for anything it does not recognise: leaving the licence out would make Zenodo
    apply its default (CC BY 4.0), which may not be what the data publisher chose.
    """
    text = value.strip()
    url = _CC_URL.search(text)
    if url:
        kind, code, version = url.group(1).lower(), url.group(2).lower(), url.group(3)
        if kind == "publicdomain":
            if code == "zero":
                return "cc0-1.0"
            raise ValueError(f"{text!r} is a public domain mark, not a licence Zenodo accepts")
        return f"cc-{code}-{version if '.' in version else version + '.0'}"
    norm = re.sub(r"[\s_]+", "-", text.lower()).replace("(", "").replace(")", "").removesuffix("-license")
    if _CC_ZERO.fullmatch(norm):
        return "cc0-1.0"
    by = _CC_BY.fullmatch(norm)
    if by:
        version = f"{by.group(2)}.{by.group(3) or '0'}" if by.group(2) else "4.0"
        return f"cc-{by.group(1)}-{version}"
    if norm in _OTHER_LICENCES:
        return norm
    raise ValueError(f"unrecognised licence {text!r}: give a licence URL or a Zenodo id such as cc-by-4.0")
