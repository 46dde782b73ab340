"""What every export reads from a record: licence URLs, people, dates, files (pure)."""

from __future__ import annotations

import mimetypes
import re
from html import unescape
from typing import Any

PUBLISHER = "Depot"

# Licence ids as the records API prints them (Zenodo's vocabulary, lower case) -> SPDX id.
SPDX = {
    "cc-zero": "CC0-1.0", "mit-license": "MIT", "apache-2.0": "Apache-2.0", "bsd-3-clause": "BSD-3-Clause",
    "bsd-2-clause": "BSD-2-Clause", "gpl-2.0": "GPL-2.0-only", "gpl-3.0": "GPL-3.0-only", "lgpl-3.0": "LGPL-3.0-only",
    "odc-by-1.0": "ODC-By-1.0", "odbl-1.0": "ODbL-1.0", "pddl-1.0": "PDDL-1.0", "etalab-2.0": "etalab-2.0",
}


def meta(record: dict[str, Any]) -> dict[str, Any]:
    value = record.get("metadata")
    return value if isinstance(value, dict) else {}


def custom(m: dict[str, Any]) -> dict[str, Any]:
    """The ``custom`` (Darwin Core etc.) fields of a metadata object."""
    value = m.get("custom")
    return value if isinstance(value, dict) else {}


def license_id(record: dict[str, Any]) -> str | None:
    lic = meta(record).get("license")
    if isinstance(lic, dict):
        lic = lic.get("id")
    return lic if isinstance(lic, str) and lic else None


def spdx_id(lic: str) -> str | None:
    if lic.startswith("cc-") and lic != "cc-zero":
        return lic.upper()  # cc-by-nc-4.0 -> CC-BY-NC-4.0
    return SPDX.get(lic)


def license_url(lic: str) -> str | None:
    """The licence's canonical URL: Creative Commons legal code, else the SPDX page, else None."""
    if lic == "cc-zero":
        return "https://creativecommons.org/publicdomain/zero/1.0/legalcode"
    if lic.startswith("cc-"):
        code, _, version = lic[3:].rpartition("-")
        if code and version:
            return f"https://creativecommons.org/licenses/{code}/{version}/legalcode"
    spdx = spdx_id(lic)
    return f"https://spdx.org/licenses/{spdx}.html" if spdx else None


def is_open(record: dict[str, Any]) -> bool:
    return bool(meta(record).get("access_right", "open") == "open")


def people(record: dict[str, Any], field: str = "creators") -> list[dict[str, Any]]:
    value = meta(record).get(field)
    return [p for p in value if isinstance(p, dict) and p.get("name")] if isinstance(value, list) else []


def is_person(person: dict[str, Any]) -> bool:
    """Zenodo's legacy names have no type: "Family, Given" (or an ORCID) is a person, anything else an
    organisation, which keeps museum names such as "Meise Botanic Garden" from being split into a given name."""
    return bool(person.get("orcid")) or "," in str(person.get("name", ""))


def split_name(name: str) -> tuple[str, str]:
    """("Family", "Given") from "Family, Given"; ("Name", "") when there is no comma."""
    family, _, given = name.partition(",")
    return family.strip(), given.strip()


def orcid_url(person: dict[str, Any]) -> str | None:
    orcid = person.get("orcid")
    return f"https://orcid.org/{orcid}" if orcid else None


def publication_date(record: dict[str, Any]) -> str:
    value = meta(record).get("publication_date") or str(record.get("created", ""))[:10]
    return str(value)


def publication_year(record: dict[str, Any]) -> str:
    return publication_date(record)[:4]


def doi(record: dict[str, Any]) -> str | None:
    value = record.get("doi") or meta(record).get("doi")
    return str(value) if value else None


def doi_url(record: dict[str, Any]) -> str | None:
    value = doi(record)
    return f"https://doi.org/{value}" if value else None


def landing_url(record: dict[str, Any]) -> str | None:
    links = record.get("links") or {}
    value = links.get("self_html") or links.get("html")
    return str(value) if value else None


def recid(record: dict[str, Any]) -> str:
    return str(record.get("recid") or record.get("id"))


def publisher(record: dict[str, Any]) -> str:
    return str(meta(record).get("imprint_publisher") or PUBLISHER)


def keywords(record: dict[str, Any]) -> list[str]:
    value = meta(record).get("keywords")
    return [k for k in value if isinstance(k, str) and k.strip()] if isinstance(value, list) else []


def related(record: dict[str, Any]) -> list[dict[str, Any]]:
    value = meta(record).get("related_identifiers")
    return [r for r in value if isinstance(r, dict) and r.get("identifier")] if isinstance(value, list) else []


def files(record: dict[str, Any]) -> list[dict[str, Any]]:
    value = record.get("files")
    return [f for f in value if isinstance(f, dict) and f.get("key")] if isinstance(value, list) else []


def file_url(f: dict[str, Any]) -> str | None:
    links = f.get("links") or {}
    value = links.get("self") or links.get("download")
    return str(value) if value else None


def media_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def resource_type(record: dict[str, Any]) -> tuple[str, str | None]:
    """(upload_type, subtype) with Zenodo's default "other"."""
    m = meta(record)
    rtype = m.get("resource_type")
    if isinstance(rtype, dict) and rtype.get("type"):
        return str(rtype["type"]), (str(rtype["subtype"]) if rtype.get("subtype") else None)
    kind = str(m.get("upload_type") or "other")
    sub = m.get("image_type") if kind == "image" else m.get("publication_type") if kind == "publication" else None
    return kind, (str(sub) if sub else None)


# Characters XML 1.0 cannot carry (C0 controls other than tab, newline and carriage return).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str) -> str:
    """``value`` without the characters XML 1.0 forbids; lxml would refuse the whole document otherwise."""
    return _NOT_XML.sub("", value)


def plain_text(html: str) -> str:
    """Descriptions are HTML on Zenodo; formats without markup get the text."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def oai_identifier(record: dict[str, Any]) -> str:
    """``oai:<host>:<recid>``, the host taken from the record's landing page (the server's public base URL)."""
    from urllib.parse import urlsplit

    host = urlsplit(landing_url(record) or "").hostname or "localhost"
    return f"oai:{host}:{recid(record)}"
