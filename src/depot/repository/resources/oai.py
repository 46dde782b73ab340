"""OAI-PMH 2.0 at ``/oai2d`` (GET and POST): six verbs, errors as XML with HTTP 200, signed resumption tokens.

Unlike InvenioRDM (which answers protocol errors with 422) every protocol error is a normal 200 response,
as the spec and the openarchives.org validator require (standards.md §2).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from depot.repository.context import Context
from depot.repository.exports import datacite, dcat, dublincore, marc21
from depot.repository.oai import protocol, responses, tokens
from depot.repository.oai.protocol import OAIError
from depot.repository.resources.http import read_body
from depot.repository.serializers import zenodo as serialize
from depot.repository.services.oai import Item, OAIService

Render = Callable[[dict[str, Any]], etree._Element]
# prefix -> (schema, metadataNamespace, renderer). Schema and namespace are announced exactly as Zenodo
# announces them (invenio-app-rdm OAISERVER_METADATA_FORMATS), quirks included: ``marc21`` names the
# MARCXML standard page as its namespace, where the records carry MARC21/slim; ``dcat`` names the
# DataCite XSD as its schema (RDF/XML has none); ``datacite`` names kernel-4.3 (docs/api.md).
FORMATS: dict[str, tuple[str, str, Render]] = {
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", dublincore.OAI_DC, dublincore.as_etree),
    "oai_datacite": ("http://schema.datacite.org/oai/oai-1.1/oai.xsd", datacite.OAI_DATACITE_NS,
                     datacite.oai_datacite_etree),
    "datacite": ("http://schema.datacite.org/meta/kernel-4.3/metadata.xsd", datacite.NS, datacite.as_etree),
    "marc21": ("https://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd",
               "https://www.loc.gov/standards/marcxml/", marc21.as_etree),
    "dcat": ("http://schema.datacite.org/meta/kernel-4/metadata.xsd", "https://www.w3.org/ns/dcat", dcat.as_etree),
}
SET_PREFIX = "user-"  # Zenodo's COMMUNITIES_OAI_SETS_PREFIX


class OAIProvider:
    """Answers one OAI-PMH request (a list of argument pairs) with the response document."""

    def __init__(self, ctx: Context, *, page_size: int = 50, token_seconds: int = 120,
                 admin_email: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.ctx = ctx
        self.service = OAIService(ctx.deposits.db)
        self.page_size = page_size
        self.token_seconds = token_seconds
        self.clock = clock
        self.base_url = ctx.config.base_url.rstrip("/") + "/oai2d"
        self.host = urlsplit(ctx.config.base_url).hostname or "localhost"
        self.admin_email = admin_email or f"repository@{self.host}"
        self.key = tokens.load_key(ctx.config.data_dir)

    def respond(self, pairs: list[tuple[str, str]]) -> bytes:
        now = datetime.fromtimestamp(self.clock(), UTC)
        try:
            req = protocol.parse(pairs)
        except OAIError as exc:
            root = responses.envelope(self.base_url, now, None)
            responses.error(root, exc.code, exc.message)
            return responses.tostring(root)
        root = responses.envelope(self.base_url, now, {"verb": req.verb, **req.args})
        try:
            body = getattr(self, req.verb)(req.args, now)
        except OAIError as exc:
            if exc.code == "badArgument":  # the request element echoes only valid arguments (§3.2)
                root = responses.envelope(self.base_url, now, None)
            responses.error(root, exc.code, exc.message)
            return responses.tostring(root)
        root.append(body)
        return responses.tostring(root)

    # -- verbs: each method is named after the verb it answers ------------------------------------------

    def Identify(self, _args: dict[str, str], now: datetime) -> etree._Element:
        holder = etree.Element("holder")
        earliest = self.service.earliest()
        responses.identify(holder, name=f"Depot repository ({self.host})", base_url=self.base_url,
                           earliest=protocol.datestamp(earliest) if earliest else responses.iso(now),
                           email=self.admin_email, host=self.host)
        return holder[0]

    def ListMetadataFormats(self, args: dict[str, str], _now: datetime) -> etree._Element:
        if "identifier" in args:
            self._item(args["identifier"])
        body = etree.Element(f"{{{responses.NS}}}ListMetadataFormats")
        for prefix, (schema, namespace, _) in FORMATS.items():
            fmt = responses.el(body, "metadataFormat")
            responses.el(fmt, "metadataPrefix", prefix)
            responses.el(fmt, "schema", schema)
            responses.el(fmt, "metadataNamespace", namespace)
        return body

    def ListSets(self, args: dict[str, str], _now: datetime) -> etree._Element:
        if "resumptionToken" in args:  # ListSets is never paged, so no token of ours can be valid here
            raise OAIError("badResumptionToken", "The resumptionToken is invalid or expired")
        found = self.service.sets()
        if not found:
            raise OAIError("noSetHierarchy", "This repository has no sets (no communities)")
        body = etree.Element(f"{{{responses.NS}}}ListSets")
        for slug, title in found:
            entry = responses.el(body, "set")
            responses.el(entry, "setSpec", SET_PREFIX + slug)
            responses.el(entry, "setName", title)
        return body

    def GetRecord(self, args: dict[str, str], _now: datetime) -> etree._Element:
        protocol.check_prefix(args["metadataPrefix"])
        item = self._item(args["identifier"])
        body = etree.Element(f"{{{responses.NS}}}GetRecord")
        self._record(body, item, args["metadataPrefix"])
        return body

    def ListRecords(self, args: dict[str, str], now: datetime) -> etree._Element:
        return self._list("ListRecords", args, now)

    def ListIdentifiers(self, args: dict[str, str], now: datetime) -> etree._Element:
        return self._list("ListIdentifiers", args, now)

    # -- lists -------------------------------------------------------------------------------------------

    def _list(self, verb: str, args: dict[str, str], now: datetime) -> etree._Element:
        state = self._state(verb, args, now)
        after = (state["m"], state["i"]) if "m" in state else None
        items = self.service.page(state["f"], state["u"], state["s"], after, self.page_size + 1)
        more = len(items) > self.page_size
        items = items[:self.page_size]
        if not items:
            raise OAIError("noRecordsMatch", "The combination of the values of the from, until, set and "
                                             "metadataPrefix arguments results in an empty list")
        body = etree.Element(f"{{{responses.NS}}}{verb}")
        for item in items:
            if verb == "ListRecords":
                self._record(body, item, state["p"])
            else:
                responses.header(body, self._identifier(item), protocol.datestamp(item.deposit.modified),
                                 self._sets(item), deleted=item.deleted)
        cursor = int(state["c"])
        if more or cursor:
            size = max(int(state["n"]), cursor + len(items) + (1 if more else 0))
            token = None
            expires = now + timedelta(seconds=self.token_seconds)
            if "exp" in state:
                # A page asked for by token: from the token's own expiry (not yet passed, so the new one lasts
                # at least as long), so that the same token always gets the same answer, byte for byte (a
                # retried request straddling a second got another expirationDate and token before).
                expires = datetime.fromtimestamp(int(state["exp"]), UTC) + timedelta(seconds=self.token_seconds)
            if more:
                last = items[-1].deposit
                token = tokens.sign(self.key, {**state, "m": last.modified, "i": last.id,
                                               "c": cursor + len(items), "n": size,
                                               "exp": int(expires.timestamp())})
            responses.resumption(body, token, cursor=cursor, size=size, expires=expires)
        return body

    def _state(self, verb: str, args: dict[str, str], now: datetime) -> dict[str, Any]:
        """The list query: from a verified token, or from fresh arguments (then counted once)."""
        if "resumptionToken" in args:
            return tokens.verify(self.key, args["resumptionToken"], now=now.timestamp(), verb=verb)
        protocol.check_prefix(args["metadataPrefix"])
        win = protocol.window(args)
        slug = None
        if win.set_spec is not None:
            if not self.service.sets():
                raise OAIError("noSetHierarchy", "This repository has no sets (no communities)")
            if not win.set_spec.startswith(SET_PREFIX):
                raise OAIError("noRecordsMatch", f"No such set: {win.set_spec}")
            slug = win.set_spec[len(SET_PREFIX):]
        size = self.service.count(win.lower, win.upper, slug)
        return {"verb": verb, "p": args["metadataPrefix"], "f": win.lower, "u": win.upper, "s": slug, "c": 0,
                "n": size}

    # -- items -------------------------------------------------------------------------------------------

    def _item(self, identifier: str) -> Item:
        item = self.service.get(protocol.local_id(identifier, self.host))
        if item is None:
            raise OAIError("idDoesNotExist", "No matching identifier")
        return item

    def _identifier(self, item: Item) -> str:
        return f"oai:{self.host}:{item.deposit.id}"

    @staticmethod
    def _sets(item: Item) -> list[str]:
        return [SET_PREFIX + slug for slug in item.communities]

    def _record(self, parent: etree._Element, item: Item, prefix: str) -> None:
        metadata = None
        if not item.deleted:
            record = serialize.record(self.ctx.links, item.deposit, is_last=item.is_last,
                                      communities=item.communities)
            metadata = FORMATS[prefix][2](record)
        responses.record(parent, self._identifier(item), protocol.datestamp(item.deposit.modified),
                         self._sets(item), metadata)


OAI_BODY_MAX = 64 * 1024  # a POSTed request's arguments: a verb, a prefix, dates, a set, a token


def routes(ctx: Context) -> list[BaseRoute]:
    provider = OAIProvider(ctx, page_size=ctx.config.oai_page_size, token_seconds=ctx.config.oai_token_seconds,
                           admin_email=ctx.config.admin_email)

    async def oai2d(request: Request) -> Response:
        if request.method == "POST":
            body = (await read_body(request, OAI_BODY_MAX)).decode("utf-8", "replace")
            pairs = parse_qsl(body, keep_blank_values=True)
        else:
            pairs = list(request.query_params.multi_items())
        document = await run_in_threadpool(provider.respond, pairs)
        return Response(document, media_type="text/xml; charset=utf-8")

    return [Route("/oai2d", oai2d, methods=["GET", "POST"])]
