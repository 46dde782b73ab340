"""Pure: a repository's links as the ledger keeps them (the path) and as requests need them (absolute).

A ledger outlives the address it was written against: the embedded repository's port changes from
run to run, and a server can move host. So the ledger keeps what names a bucket or a record *on the
server*, the URL's path (``/api/files/<uuid>``, ``/records/42``), and the scheme, host and port come
from the target in use each time. Ledgers written before this kept absolute URLs: those are rebased
the same way, their old host and port ignored.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def server_path(url: str | None) -> str | None:
    """The part of ``url`` that identifies the resource on its server: path and query, no host or port."""
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path or "/", parts.query, ""))


def on_target(ref: str | None, base: str) -> str | None:
    """``ref`` (a path, or an old absolute URL) on the server at ``base`` (an API or site URL)."""
    if not ref:
        return None
    parts, target = urlsplit(ref), urlsplit(base)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, ""))


def site_of(api_url: str) -> str:
    """The site a Zenodo-style API belongs to: ``https://zenodo.org/api`` -> ``https://zenodo.org``."""
    api_url = api_url.rstrip("/")
    return api_url[: -len("/api")] if api_url.endswith("/api") else api_url


def host_port(url: str) -> str:
    """``host:port`` of a URL, with the scheme's default port filled in (for messages)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname or '?'}:{port}"
