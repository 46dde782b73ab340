"""BibTeX of a record (``application/x-bibtex``). Like Zenodo, every image and dataset is ``@misc``."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from depot.repository.exports import common as c

ENTRY = {("publication", "article"): "article", ("publication", "book"): "book",
         ("publication", "section"): "inbook", ("publication", "conferencepaper"): "inproceedings",
         ("publication", "report"): "techreport", ("publication", "thesis"): "phdthesis",
         ("software", None): "software"}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
            "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def escape(text: str) -> str:
    """LaTeX-safe text; braces stay balanced whatever the input, so one bad title cannot break a .bib file."""
    return "".join(_SPECIAL.get(ch, ch) for ch in " ".join(text.split()))


def _author(p: dict[str, Any]) -> str:
    name = escape(str(p["name"]))
    return name if c.is_person(p) else "{" + name + "}"  # an organisation is one name, never "Last, First"


def cite_key(record: dict[str, Any]) -> str:
    """Zenodo's ``<first author's family name>_<year>_<recid>``, ASCII letters and digits only."""
    people = c.people(record)
    family = c.split_name(str(people[0]["name"]))[0] if people else "record"
    ascii_name = unicodedata.normalize("NFKD", family).encode("ascii", "ignore").decode()
    word = re.sub(r"[^a-z0-9]", "", ascii_name.lower().split(" ")[0]) or "record"
    return f"{word}_{c.publication_year(record)}_{c.recid(record)}"


def as_bibtex(record: dict[str, Any]) -> str:
    m = c.meta(record)
    kind, sub = c.resource_type(record)
    entry = ENTRY.get((kind, sub)) or ENTRY.get((kind, None)) or "misc"
    fields: list[tuple[str, str]] = []
    authors = [_author(p) for p in c.people(record)]
    if authors:
        fields.append(("author", " and ".join(authors)))
    fields.append(("title", "{" + escape(str(m.get("title") or record.get("title") or "")) + "}"))
    date = c.publication_date(record)
    month = int(date[5:7]) if len(date) >= 7 and date[5:7].isdigit() else 0
    fields.append(("year", c.publication_year(record)))
    fields.append(("publisher", escape(c.publisher(record))))
    if m.get("version"):
        fields.append(("version", escape(str(m["version"]))))
    if c.doi(record):
        fields.append(("doi", escape(str(c.doi(record)))))
        fields.append(("url", str(c.doi_url(record))))
    if c.keywords(record):
        fields.append(("keywords", escape(", ".join(c.keywords(record)))))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    if 1 <= month <= 12:
        body += f",\n  month = {MONTHS[month - 1]}"
    return f"@{entry}{{{cite_key(record)},\n{body}\n}}\n"
