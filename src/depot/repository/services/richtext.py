"""Descriptions as Zenodo keeps them: a limited HTML, sanitised with nh3 (Ammonia) when saved and again when shown.

The allowed tags and attributes follow Invenio's defaults (``ALLOWED_HTML_TAGS``/``ALLOWED_HTML_ATTRS``), which
Zenodo's deposit form writes. Cleaning twice costs little (nh3 is Rust) and keeps a record stored before the
sanitiser existed, or written straight into the store, from carrying a script onto a page.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape, unescape

import nh3

TAGS = {"a", "abbr", "acronym", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "i",
        "li", "ol", "p", "pre", "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr",
        "u", "ul"}
ATTRIBUTES = {"*": {"class"}, "a": {"href", "title", "name"}, "abbr": {"title"}, "acronym": {"title"}}
URL_SCHEMES = {"http", "https", "mailto"}

# Elements that end a run of words: their text must not run into the next one's when the tags go.
_BLOCK = re.compile(r"</?(?:p|div|br|li|ul|ol|h[1-6]|blockquote|pre|table|thead|tbody|tr|td|th)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")
_HAS_TAG = re.compile(r"<[a-zA-Z/][^>]*>")
# What nh3 could remove or change so that it decodes differently: a tag or comment, an entity, a carriage return, a
# NUL, a byte-order mark, a lone surrogate (nh3 refuses it). Text without any is stored as it came, unparsed (most
# specimen descriptions; a bulk batch's thousands of them).
_MAY_CHANGE = re.compile("[<&\r\x00\ufeff\ud800-\udfff]")


def sanitize(html: str) -> str:
    """Allowed tags only: no script, style, event handler or javascript: link. (No ``rel`` is added to links:
    ``target`` is not allowed, so there is no window to protect.)"""
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel=None,
                     strip_comments=True)


def sanitize_stored(html: str) -> str:
    """The description to store: ``html`` itself when cleaning removes nothing from it, else the cleaned form.

    nh3 re-serialises what it keeps (``&#39;`` becomes ``'``), so storing its output would change a depositor's
    harmless description, and ``depot reconcile`` would then see metadata that differs from its ledger. When the
    cleaned text and the original decode to the same characters, nothing was removed and the original is kept;
    pages clean it again when they show it.
    """
    if not _MAY_CHANGE.search(html):
        return html
    clean = sanitize(html)
    return html if clean == html or unescape(clean) == unescape(html) else clean


@lru_cache(maxsize=4096)
def to_html(description: str) -> str:
    """Safe HTML for a page. Plain text (no tags, as many depositors send) keeps its paragraphs and line breaks."""
    if not _HAS_TAG.search(description):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", description.replace("\r\n", "\n")) if p.strip()]
        return "".join(f"<p>{escape(unescape(p)).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return sanitize(description)


def to_text(description: str) -> str:
    """Plain text for a search hit: block ends and line breaks become spaces, so words never run together."""
    return " ".join(unescape(_TAG.sub("", _BLOCK.sub(" ", description))).split())


def snippet(description: str, limit: int = 240) -> str:
    text = to_text(description)
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"
