"""Reading a Creative Commons licence out of the prose an EML ``intellectualRights`` holds.

Publishers write "This work is licensed under a Creative Commons Attribution (CC-BY) 4.0 License", or
"CC-BY 4.0", or paste the licence URL. We return the licence's canonical URL, which the profiles'
``zenodo_license`` filter and the Darwin Core sidecar both understand, or None when the text names no
licence we can tell for certain.
"""

from __future__ import annotations

import re

_URL = re.compile(r"creativecommons\.org/(licenses|publicdomain)/([a-z-]+)/(\d(?:\.\d)?)", re.IGNORECASE)
_ZERO = re.compile(r"\bCC[\s-]?(?:0|zero)\b|Creative\s+Commons\s+Zero|\bCC0\b", re.IGNORECASE)
_VERSION = r"(?:v(?:ersion)?\s*)?(\d(?:\.\d)?)"
# "Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International"
_QUALIFIER = r"(?:Non[\s-]?Commercial|Share[\s-]?Alike|No[\s-]?Deriv(?:ative)?s?)"
_NAME = re.compile(r"Creative\s+Commons\s+Attribution((?:[\s-]+" + _QUALIFIER + r")*)"
                   r"\s*(?:\((?:CC[\s-]?BY[A-Z\s-]*)\))?\s*(?:License\s*)?" + _VERSION + "?", re.IGNORECASE)
# "CC-BY 4.0", "CC BY-NC-SA 3.0", "CC-BY-4.0"
_CODE = re.compile(r"\bCC[\s-]BY((?:[\s-](?:NC|SA|ND))*)(?:[\s-]+" + _VERSION + r")?\b", re.IGNORECASE)
_PARTS = (("nc", re.compile(r"non[\s-]?commercial|\bnc\b", re.I)),
          ("sa", re.compile(r"share[\s-]?alike|\bsa\b", re.I)), ("nd", re.compile(r"no[\s-]?deriv|\bnd\b", re.I)))


def _url(code: str, version: str) -> str:
    if "." not in version:
        version += ".0"
    return f"http://creativecommons.org/licenses/{code}/{version}/legalcode"


def _code(qualifiers: str) -> str:
    return "-".join(["by", *(part for part, pattern in _PARTS if pattern.search(qualifiers))])


def licence_from_text(text: str) -> str | None:
    """The canonical URL of the Creative Commons licence ``text`` names, or None.

    A URL wins over a name. Returns None when the text names none, or names two different ones.
    """
    url = _URL.search(text)
    if url:
        kind, code, version = url.group(1).lower(), url.group(2).lower(), url.group(3)
        if kind == "publicdomain":
            return "http://creativecommons.org/publicdomain/zero/1.0/legalcode" if code == "zero" else None
        return _url(code, version)
    named = [(_code(m.group(1)), m.group(2)) for pattern in (_NAME, _CODE) for m in pattern.finditer(text)]
    versions = {version for _, version in named if version}
    # "Creative Commons Attribution (CC-BY) 4.0": the bare code borrows the version the name states
    version = versions.pop() if len(versions) == 1 else "4.0" if not versions else None
    found = {code for code, _ in named}
    if version is None or len(found) > 1:
        return None
    if _ZERO.search(text):
        return None if found else "http://creativecommons.org/publicdomain/zero/1.0/legalcode"
    return _url(found.pop(), version) if found else None
