"""OAI-PMH 2.0 at /oai2d: a real `depot serve` harvested with Sickle (every prefix, sets, resumption tokens),
every protocol error as HTTP 200 XML, and token expiry and tampering in-process with a controlled clock.

Each prefix's metadata is checked by its own standard: DataCite against the kernel-4.5 XSD the repository
ships (tests/data/schemas), MARC21 by its fields, DCAT parsed into triples with rdflib."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import rdflib
from lxml import etree
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF
from sickle import Sickle
from starlette.testclient import TestClient

from contract.payloads import metadata, published
from depot.repository.app import build_context, create_app
from depot.repository.config import RepositoryConfig
from depot.repository.resources.oai import OAIProvider

from conftest import Api, Served, serve_repository

OAI = "{http://www.openarchives.org/OAI/2.0/}"
NS = {"o": "http://www.openarchives.org/OAI/2.0/", "dc": "http://purl.org/dc/elements/1.1/",
      "dcite": "http://schema.datacite.org/oai/oai-1.1/", "k4": "http://datacite.org/schema/kernel-4",
      "marc": "http://www.loc.gov/MARC21/slim", "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#"}
SLUG = "icedig"
PREFIXES = ["oai_dc", "oai_datacite", "datacite", "marc21", "dcat"]
DATACITE_XSD = Path(__file__).parents[1] / "data" / "schemas" / "datacite-4.5" / "metadata.xsd"


@pytest.fixture(scope="module")
def datacite_schema() -> etree.XMLSchema:
    return etree.XMLSchema(file=str(DATACITE_XSD))


def marc_field(record: etree._Element, tag: str, code: str) -> list[str]:
    return [str(sf.text) for sf in record.iterfind(f"marc:datafield[@tag='{tag}']/marc:subfield[@code='{code}']", NS)]


def check_metadata(prefix: str, metadata: etree._Element, record: dict[str, Any],
                   datacite_schema: etree.XMLSchema) -> None:
    """One harvested record's metadata, by the rules of its own format."""
    if prefix == "oai_dc":
        assert metadata.findtext("dc:title", namespaces=NS) == record["title"]
    elif prefix == "oai_datacite":
        resource = metadata.find("dcite:payload/k4:resource", NS)
        assert resource is not None and datacite_schema.validate(resource), datacite_schema.error_log
        assert resource.findtext("k4:identifier", namespaces=NS) == record["doi"]
    elif prefix == "datacite":  # the bare kernel-4 resource, no oai-1.1 wrapper
        assert metadata.tag == "{http://datacite.org/schema/kernel-4}resource"
        assert datacite_schema.validate(metadata), datacite_schema.error_log
        assert metadata.findtext("k4:identifier", namespaces=NS) == record["doi"]
        assert metadata.findtext("k4:titles/k4:title", namespaces=NS) == record["title"]
    elif prefix == "marc21":
        assert metadata.tag == "{http://www.loc.gov/MARC21/slim}record"
        assert re.fullmatch(r"\d{5}n[a-z]m a22\d{5}uu 4500", str(metadata.findtext("marc:leader", namespaces=NS)))
        assert metadata.findtext("marc:controlfield[@tag='001']", namespaces=NS) == str(record["id"])
        assert marc_field(metadata, "245", "a") == [record["title"]]
        assert marc_field(metadata, "024", "a")[0] == record["doi"]
        assert marc_field(metadata, "909", "o") == [f"oai:127.0.0.1:{record['id']}"]
        # No MARC21slim.xsd offline: its rules, checked by hand. Indicators may be upper case here, where
        # the XSD says [\da-z ]: the 909 "CO" OAI field is Zenodo's (invenio-rdm-records' MARCXML) too.
        for field in metadata.iterfind("marc:datafield", NS):
            assert re.fullmatch(r"\d{3}", field.get("tag", "")), etree.tostring(field)
            assert all(re.fullmatch(r"[\dA-Za-z ]", field.get(i, "")) for i in ("ind1", "ind2"))
            subfields = field.findall("marc:subfield", NS)
            assert subfields and all(re.fullmatch(r"[\da-z]", sf.get("code", "")) and sf.text for sf in subfields)
        assert all(el.tag in {f"{{{NS['marc']}}}{t}" for t in ("leader", "controlfield", "datafield")}
                   for el in metadata)
    else:
        assert metadata.tag == "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF"
        graph = rdflib.Graph().parse(data=etree.tostring(metadata), format="xml")
        dataset = rdflib.URIRef(f"https://doi.org/{record['doi']}")
        assert list(graph.subjects(RDF.type, DCAT.Dataset)) == [dataset]
        assert graph.value(dataset, DCTERMS.title) == rdflib.Literal(record["title"])
        assert str(graph.value(dataset, DCTERMS.identifier)) == f"https://doi.org/{record['doi']}"
        assert str(graph.value(dataset, DCAT.landingPage)) == record["links"]["html"]
        names = {str(graph.value(agent, FOAF.name)) for agent in graph.objects(dataset, DCTERMS.creator)}
        assert names == {c["name"] for c in record["metadata"]["creators"]}
        assert str(graph.value(dataset, DCTERMS.issued)) == record["metadata"]["publication_date"]
        publisher = graph.value(dataset, DCTERMS.publisher)
        assert publisher is not None and graph.value(publisher, FOAF.name) is not None
        downloads = {str(graph.value(d, DCAT.downloadURL)) for d in graph.objects(dataset, DCAT.distribution)}
        base = record["links"]["html"].split("/records/")[0]
        assert downloads == {f"{base}/api/records/{record['id']}/files/{f['filename']}/content"
                             for f in record["files"]}
        assert len(downloads) == len(record["files"]) >= 1


def oai_get(client: httpx.Client, **params: str) -> etree._Element:
    r = client.get("/oai2d", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    return etree.fromstring(r.content)


def error_code(root: etree._Element) -> str | None:
    err = root.find("o:error", NS)
    return None if err is None else str(err.get("code"))


@pytest.fixture(scope="module")
def harvested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, list[dict[str, Any]]]]:
    """`depot serve` with 3 items per OAI page and 7 published records, the first two in community icedig."""
    tmp = tmp_path_factory.mktemp("oai")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEPOT_OAI_PAGE_SIZE", "3")
        with serve_repository(tmp) as served:
            subprocess.run([sys.executable, "-m", "depot", "repo", "create-community", SLUG, "--owner",
                            "museum@example.org", "--title", "ICEDIG pilot", "--data-dir", str(served.data)],
                           check=True, capture_output=True)
            with httpx.Client(base_url=served.base, timeout=60) as client:
                records = [published(client, served.headers, metadata(
                    title=f"Quercus robur L. sheet {i} (BR000000852500{i})",
                    communities=[{"identifier": SLUG}] if i < 2 else [],
                    related_identifiers=[{"identifier": f"BR000000852500{i}", "relation": "isAlternateIdentifier",
                                          "scheme": "other"}])) for i in range(7)]
            yield served, records


def test_identify(harvested: tuple[Served, list[dict[str, Any]]]) -> None:
    served, records = harvested
    identify = Sickle(served.base + "/oai2d").Identify()
    assert identify.protocolVersion == "2.0" and identify.deletedRecord == "persistent"
    assert identify.granularity == "YYYY-MM-DDThh:mm:ssZ" and identify.baseURL == served.base + "/oai2d"
    assert identify.earliestDatestamp == records[0]["modified"][:19] + "Z"
    assert identify.adminEmail == "repository@127.0.0.1"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_sickle_harvests_every_record_across_pages(harvested: tuple[Served, list[dict[str, Any]]],
                                                     prefix: str, datacite_schema: etree.XMLSchema) -> None:
    served, records = harvested
    harvest = list(Sickle(served.base + "/oai2d").ListRecords(metadataPrefix=prefix))
    assert [h.header.identifier for h in harvest] == [f"oai:127.0.0.1:{r['id']}" for r in records]
    assert [h.header.datestamp for h in harvest] == [r["modified"][:19] + "Z" for r in records]
    assert [h.header.setSpecs for h in harvest] == [["user-icedig"]] * 2 + [[]] * 5
    if prefix == "oai_dc":
        assert [h.metadata["title"] for h in harvest] == [[r["title"]] for r in records]
    for h, record in zip(harvest, records, strict=True):
        payload = h.xml.find("o:metadata", NS)
        assert payload is not None and len(payload) == 1
        check_metadata(prefix, payload[0], record, datacite_schema)


@pytest.mark.parametrize("prefix", PREFIXES[2:])
def test_get_record_in_each_new_format(harvested: tuple[Served, list[dict[str, Any]]], prefix: str,
                                       datacite_schema: etree.XMLSchema) -> None:
    served, records = harvested
    rec = Sickle(served.base + "/oai2d").GetRecord(identifier=f"oai:127.0.0.1:{records[3]['id']}",
                                                    metadataPrefix=prefix)
    payload = rec.xml.find("o:metadata", NS)
    assert payload is not None and rec.header.identifier == f"oai:127.0.0.1:{records[3]['id']}"
    check_metadata(prefix, payload[0], records[3], datacite_schema)


def test_resumption_tokens_carry_cursor_and_complete_list_size(
        harvested: tuple[Served, list[dict[str, Any]]]) -> None:
    served, records = harvested
    seen, cursors = [], []
    with httpx.Client(base_url=served.base, timeout=30) as client:
        root = oai_get(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
        while True:
            seen += [h.findtext("o:identifier", namespaces=NS) for h in root.iterfind("o:ListIdentifiers/o:header", NS)]
            token = root.find("o:ListIdentifiers/o:resumptionToken", NS)
            assert token is not None and token.get("completeListSize") == "7"
            cursors.append(int(token.get("cursor", "-1")))
            if not token.text:
                assert token.get("expirationDate") is None
                break
            assert re.fullmatch(r"\S+", token.text) and token.get("expirationDate", "").endswith("Z")
            again = oai_get(client, verb="ListIdentifiers", resumptionToken=token.text)  # idempotent
            root = oai_get(client, verb="ListIdentifiers", resumptionToken=token.text)
            same = [etree.tostring(r.find("o:ListIdentifiers", NS)) for r in (again, root)]
            assert same[0] == same[1]
        # A token for ListIdentifiers is not one for ListRecords.
        first = oai_get(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
        text = first.findtext("o:ListIdentifiers/o:resumptionToken", namespaces=NS)
        assert error_code(oai_get(client, verb="ListRecords", resumptionToken=text)) == "badResumptionToken"
    assert cursors == [0, 3, 6] and seen == [f"oai:127.0.0.1:{r['id']}" for r in records]


def test_set_harvest_and_list_sets(harvested: tuple[Served, list[dict[str, Any]]]) -> None:
    served, records = harvested
    sickle = Sickle(served.base + "/oai2d")
    sets = list(sickle.ListSets())
    assert [(s.setSpec, s.setName) for s in sets] == [("user-icedig", "ICEDIG pilot")]
    members = list(sickle.ListIdentifiers(metadataPrefix="oai_datacite", set="user-icedig"))
    assert [m.identifier for m in members] == [f"oai:127.0.0.1:{r['id']}" for r in records[:2]]
    with httpx.Client(base_url=served.base, timeout=30) as client:
        root = oai_get(client, verb="ListIdentifiers", metadataPrefix="oai_dc", set="user-icedig")
        assert root.find("o:ListIdentifiers/o:resumptionToken", NS) is None  # one page: no token at all


def test_from_until_select_by_datestamp(harvested: tuple[Served, list[dict[str, Any]]]) -> None:
    served, records = harvested
    stamps = [r["modified"][:19] + "Z" for r in records]
    with httpx.Client(base_url=served.base, timeout=30) as client:
        def identifiers(**params: str) -> list[str]:
            root = oai_get(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **params)
            return [str(h.findtext("o:identifier", namespaces=NS)) for h in root.iterfind(".//o:header", NS)]
        expected = [f"oai:127.0.0.1:{r['id']}" for r, s in zip(records, stamps, strict=True) if s >= stamps[3]]
        assert identifiers(**{"from": stamps[3]})[:3] == expected[:3]
        assert set(identifiers(until=stamps[0])) <= {f"oai:127.0.0.1:{r['id']}" for r in records}
        assert f"oai:127.0.0.1:{records[0]['id']}" in identifiers(until=stamps[0])
        day = stamps[0][:10]
        assert len(identifiers(**{"from": day, "until": stamps[-1][:10]})) == 3  # first page of 7
        root = oai_get(client, verb="ListRecords", metadataPrefix="oai_dc", until="2000-01-01")
        assert error_code(root) == "noRecordsMatch"


def test_get_record_and_metadata_formats(harvested: tuple[Served, list[dict[str, Any]]]) -> None:
    served, records = harvested
    sickle = Sickle(served.base + "/oai2d")
    rec = sickle.GetRecord(identifier=f"oai:127.0.0.1:{records[0]['id']}", metadataPrefix="oai_dc")
    assert rec.metadata["identifier"][0] == f"https://doi.org/{records[0]['doi']}"
    for formats in (list(sickle.ListMetadataFormats(identifier=f"oai:127.0.0.1:{records[0]['id']}")),
                    list(sickle.ListMetadataFormats())):
        # As Zenodo (invenio-app-rdm OAISERVER_METADATA_FORMATS) announces them, quirks included.
        assert [(f.metadataPrefix, f.schema, f.metadataNamespace) for f in formats] == [
            ("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", "http://www.openarchives.org/OAI/2.0/oai_dc/"),
            ("oai_datacite", "http://schema.datacite.org/oai/oai-1.1/oai.xsd",
             "http://schema.datacite.org/oai/oai-1.1/"),
            ("datacite", "http://schema.datacite.org/meta/kernel-4.3/metadata.xsd",
             "http://datacite.org/schema/kernel-4"),
            ("marc21", "https://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd",
             "https://www.loc.gov/standards/marcxml/"),
            ("dcat", "http://schema.datacite.org/meta/kernel-4/metadata.xsd", "https://www.w3.org/ns/dcat"),
        ]


ERRORS = [
    ("badVerb", {"verb": "Harvest"}),
    ("badVerb", {}),
    ("badArgument", {"verb": "ListRecords"}),
    ("badArgument", {"verb": "Identify", "extra": "1"}),
    ("badArgument", {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-13-45"}),
    ("badArgument", {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-01-01T00:00:00"}),
    ("badArgument", {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-01-01",
                     "until": "2024-02-01T00:00:00Z"}),
    ("badArgument", {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-02-01",
                     "until": "2024-01-01"}),
    ("badArgument", {"verb": "ListRecords", "metadataPrefix": "oai_dc", "resumptionToken": "x"}),
    ("badArgument", {"verb": "GetRecord", "identifier": "oai:127.0.0.1:1"}),
    ("badResumptionToken", {"verb": "ListRecords", "resumptionToken": "not-a-token"}),
    ("badResumptionToken", {"verb": "ListSets", "resumptionToken": "anything"}),
    ("cannotDisseminateFormat", {"verb": "ListRecords", "metadataPrefix": "marcxml"}),
    ("cannotDisseminateFormat", {"verb": "GetRecord", "identifier": "oai:127.0.0.1:1", "metadataPrefix": "DCAT"}),
    ("idDoesNotExist", {"verb": "GetRecord", "identifier": "oai:127.0.0.1:999999", "metadataPrefix": "oai_dc"}),
    ("idDoesNotExist", {"verb": "GetRecord", "identifier": "oai:elsewhere.org:1", "metadataPrefix": "oai_dc"}),
    ("idDoesNotExist", {"verb": "ListMetadataFormats", "identifier": "<oai&\"bad'>"}),
    ("noRecordsMatch", {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "set": "user-nope"}),
    ("noRecordsMatch", {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "from": "2000-01-01",
                        "until": "2000-01-02"}),
]


@pytest.mark.parametrize(("code", "params"), ERRORS, ids=[f"{c}-{i}" for i, (c, _) in enumerate(ERRORS)])
def test_every_error_is_xml_with_http_200(harvested: tuple[Served, list[dict[str, Any]]], code: str,
                                          params: dict[str, str]) -> None:
    served, _ = harvested
    for method in ("GET", "POST"):
        if method == "GET":
            r = httpx.get(served.base + "/oai2d", params=params, timeout=30)
        else:
            r = httpx.post(served.base + "/oai2d", data=params, timeout=30)
        assert r.status_code == 200, r.text
        root = etree.fromstring(r.content)
        assert error_code(root) == code, r.text
        request = root.find("o:request", NS)
        assert request is not None and request.text == served.base + "/oai2d"
        if code in ("badVerb", "badArgument"):
            assert dict(request.attrib) == {}  # nothing of an invalid request is echoed


def test_repeated_argument_is_bad(harvested: tuple[Served, list[dict[str, Any]]]) -> None:
    served, _ = harvested
    r = httpx.get(served.base + "/oai2d?verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc", timeout=30)
    assert r.status_code == 200 and error_code(etree.fromstring(r.content)) == "badArgument"
    r = httpx.get(served.base + "/oai2d?verb=Identify&verb=Identify", timeout=30)
    assert error_code(etree.fromstring(r.content)) == "badVerb"


# --- in-process: a clock the test controls ---------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def clocked(tmp_path: Path) -> tuple[Any, TestClient, dict[str, str], Clock, OAIProvider]:
    """A repository with a clock the test moves, an OAI provider of one item a page on it, and a client and
    headers to publish with (enter the client)."""
    config = RepositoryConfig(data_dir=tmp_path / "repo", base_url="http://depot.example.org",
                              user_limit_per_minute=0, user_limit_per_hour=0, search_limit_per_minute=0)
    ctx = build_context(config)
    clock = Clock()
    provider = OAIProvider(ctx, page_size=1, token_seconds=120, clock=clock)
    client = TestClient(create_app(config, context=ctx), base_url="http://testserver")
    headers = {"Authorization": "Bearer " + ctx.accounts.create_token("m@example.org", "2026-01-01T00:00:00Z")}
    return ctx, client, headers, clock, provider


def test_tokens_expire_and_resist_tampering(tmp_path: Path) -> None:
    ctx, client, headers, clock, provider = clocked(tmp_path)
    with client:
        # No communities yet: sets are not supported.
        assert error_code(etree.fromstring(provider.respond([("verb", "ListSets")]))) == "noSetHierarchy"
        for _ in range(2):
            published(client, headers)

        def ask(*pairs: tuple[str, str]) -> etree._Element:
            return etree.fromstring(provider.respond([("verb", "ListIdentifiers"), *pairs]))

        assert error_code(ask(("metadataPrefix", "oai_dc"), ("set", "user-x"))) == "noSetHierarchy"
        token = ask(("metadataPrefix", "oai_dc")).findtext(".//o:resumptionToken", namespaces=NS)
        assert token
        assert error_code(ask(("resumptionToken", token))) is None
        payload, _, mac = token.partition(".")
        forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac
        assert error_code(ask(("resumptionToken", forged))) == "badResumptionToken"
        clock.now += 121
        assert error_code(ask(("resumptionToken", token))) == "badResumptionToken"
        # A restarted server (new provider, same data dir) still honours fresh tokens: the key is kept on disk.
        fresh = ask(("metadataPrefix", "oai_dc")).findtext(".//o:resumptionToken", namespaces=NS)
        again = OAIProvider(ctx, page_size=1, clock=clock)
        assert error_code(etree.fromstring(again.respond([("verb", "ListIdentifiers"),
                                                          ("resumptionToken", str(fresh))]))) is None


def test_the_same_token_gets_the_same_page_a_second_later(tmp_path: Path) -> None:
    """A harvester's retry (or a cache) asks with the same token: the page, its next token and that token's
    expirationDate are the same bytes whatever the clock says meanwhile (they followed the clock before)."""
    _, client, headers, clock, provider = clocked(tmp_path)
    with client:
        for _ in range(3):
            published(client, headers)

    def page(*pairs: tuple[str, str]) -> etree._Element:
        body = etree.fromstring(provider.respond([("verb", "ListIdentifiers"), *pairs])).find("o:ListIdentifiers", NS)
        assert body is not None
        return body

    first = page(("metadataPrefix", "oai_dc")).findtext("o:resumptionToken", namespaces=NS)
    answers = []
    for _ in range(2):
        answers.append(etree.tostring(page(("resumptionToken", str(first)))))
        clock.now += 1.5
    assert answers[0] == answers[1]
    clock.now += 100  # the first token is still good (120 s): the next one lasts at least as long from now
    token = page(("resumptionToken", str(first))).find("o:resumptionToken", NS)
    assert token is not None and token.text and token.get("cursor") == "1"
    expires = datetime.fromisoformat(str(token.get("expirationDate")).replace("Z", "+00:00")).timestamp()
    assert expires >= int(clock.now) + 120


def test_list_records_on_every_backend(api: Api) -> None:
    """The OAI queries (keyset, EXISTS set filter, datestamps as text) on SQLite and PostgreSQL."""
    slug = f"oai-{uuid.uuid4().hex[:6]}"
    owner = f"owner-{slug}@example.org"
    api.accounts.create_community(slug, "OAI backends", owner, "2026-01-01T00:00:00+00:00")
    mine = [published(api.client, api.auth(owner), metadata(communities=[{"identifier": slug}])) for _ in range(2)]
    root = oai_get(api.client, verb="ListIdentifiers", metadataPrefix="oai_datacite", set=f"user-{slug}")
    ids = [str(h.findtext("o:identifier", namespaces=NS)).rsplit(":", 1)[1] for h in root.iterfind(".//o:header", NS)]
    assert ids == [str(r["id"]) for r in mine]
    root = oai_get(api.client, verb="ListRecords", metadataPrefix="oai_dc", set=f"user-{slug}",
                   **{"from": mine[0]["modified"][:10]})
    titles = [el.text for el in root.iterfind(".//dc:title", NS)]
    assert titles == [r["title"] for r in mine]
    for prefix in PREFIXES[2:]:  # one metadata element per record, whatever the backend
        root = oai_get(api.client, verb="ListRecords", metadataPrefix=prefix, set=f"user-{slug}")
        assert error_code(root) is None and len(root.findall(".//o:record/o:metadata/*", NS)) == 2
    assert error_code(oai_get(api.client, verb="ListRecords", metadataPrefix="oai_dc", set=f"user-{slug}",
                              until="2001-01-01")) == "noRecordsMatch"


def test_withdrawn_records_stay_announced_as_deleted_in_every_format(tmp_path: Path) -> None:
    config = RepositoryConfig(data_dir=tmp_path / "repo", base_url="http://depot.example.org",
                              user_limit_per_minute=0, user_limit_per_hour=0, search_limit_per_minute=0)
    ctx = build_context(config)
    app = create_app(config, context=ctx)
    provider = OAIProvider(ctx, page_size=50)
    with TestClient(app, base_url="http://testserver") as client:
        headers = {"Authorization": "Bearer " + ctx.accounts.create_token("m@example.org", "2026-01-01T00:00:00Z")}
        kept, gone = published(client, headers), published(client, headers)
        assert ctx.records.withdraw(gone["id"], "Takedown request 2026-12") == [gone["id"]]
        for prefix in PREFIXES:
            root = etree.fromstring(provider.respond([("verb", "ListRecords"), ("metadataPrefix", prefix)]))
            entries = root.findall("o:ListRecords/o:record", NS)
            assert [e.findtext("o:header/o:identifier", namespaces=NS) for e in entries] == [
                f"oai:depot.example.org:{kept['id']}", f"oai:depot.example.org:{gone['id']}"]
            assert [e.find("o:header", NS).get("status") for e in entries] == [None, "deleted"]  # type: ignore[union-attr]
            assert [e.find("o:metadata", NS) is None for e in entries] == [False, True]
            one = etree.fromstring(provider.respond([("verb", "GetRecord"), ("metadataPrefix", prefix),
                                                     ("identifier", f"oai:depot.example.org:{gone['id']}")]))
            header = one.find("o:GetRecord/o:record/o:header", NS)
            assert header is not None and header.get("status") == "deleted"
            assert one.find("o:GetRecord/o:record/o:metadata", NS) is None
