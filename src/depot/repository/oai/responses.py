"""OAI-PMH 2.0 response XML (pure): the envelope, headers, records, resumption tokens, errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from lxml import etree

from depot.repository.exports.common import xml_text

NS = "http://www.openarchives.org/OAI/2.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_ID = "http://www.openarchives.org/OAI/2.0/oai-identifier"
# The oai-identifier scheme's repositoryIdentifier: a domain name (so "127.0.0.1" has no description block).
_DOMAIN = re.compile(r"^[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+$")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    child = etree.SubElement(parent, f"{{{NS}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        child.text = xml_text(text)
    return child


def envelope(base_url: str, now: datetime, args: dict[str, str] | None) -> etree._Element:
    """The OAI-PMH root; ``args`` (verb included) are echoed only for a request without badVerb/badArgument."""
    root = etree.Element(f"{{{NS}}}OAI-PMH", nsmap={None: NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    el(root, "responseDate", iso(now))
    el(root, "request", base_url, **(args or {}))
    return root


def error(root: etree._Element, code: str, message: str) -> None:
    el(root, "error", message, code=code)


def header(parent: etree._Element, identifier: str, datestamp: str, sets: list[str], *,
           deleted: bool = False) -> etree._Element:
    h = el(parent, "header", status="deleted") if deleted else el(parent, "header")
    el(h, "identifier", identifier)
    el(h, "datestamp", datestamp)
    for spec in sets:
        el(h, "setSpec", spec)
    return h


def record(parent: etree._Element, identifier: str, datestamp: str, sets: list[str],
           metadata: etree._Element | None) -> None:
    """A record; ``metadata`` None announces a deletion (a header with status="deleted" and nothing else)."""
    r = el(parent, "record")
    header(r, identifier, datestamp, sets, deleted=metadata is None)
    if metadata is not None:
        el(r, "metadata").append(metadata)


def resumption(parent: etree._Element, token: str | None, *, cursor: int, size: int,
               expires: datetime | None) -> None:
    """The token element, on one line; the last page of a multi-page list gets it empty (§3.5)."""
    attrs = {"completeListSize": str(size), "cursor": str(cursor)}
    if expires is not None and token:
        attrs["expirationDate"] = iso(expires)
    el(parent, "resumptionToken", token or None, **attrs)


def identify(root: etree._Element, *, name: str, base_url: str, earliest: str, email: str, host: str) -> None:
    body = el(root, "Identify")
    el(body, "repositoryName", name)
    el(body, "baseURL", base_url)
    el(body, "protocolVersion", "2.0")
    el(body, "adminEmail", email)
    el(body, "earliestDatestamp", earliest)
    # "persistent": a withdrawn record stays announced as deleted for ever (its DOI keeps a tombstone).
    el(body, "deletedRecord", "persistent")
    el(body, "granularity", "YYYY-MM-DDThh:mm:ssZ")
    if _DOMAIN.match(host):
        desc = el(body, "description")
        ident = etree.SubElement(desc, f"{{{OAI_ID}}}oai-identifier", nsmap={None: OAI_ID})
        ident.set(f"{{{XSI}}}schemaLocation", f"{OAI_ID} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd")
        for tag, text in (("scheme", "oai"), ("repositoryIdentifier", host), ("delimiter", ":"),
                          ("sampleIdentifier", f"oai:{host}:1")):
            etree.SubElement(ident, f"{{{OAI_ID}}}{tag}").text = text


def tostring(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
