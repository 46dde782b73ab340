"""Record exports over HTTP on every backend: Accept negotiation on GET /api/records/{id} and the export URLs."""

from __future__ import annotations

import orjson
import pytest
from lxml import etree

from contract.payloads import create, metadata, published

from conftest import Api

# media type asked -> (export name, how to check the body)
ACCEPT = {
    "application/ld+json": "json-ld",
    "application/marcxml+xml": "marcxml",
    "application/vnd.citationstyles.csl+json": "csl",
    "application/vnd.datacite.datacite+json": "datacite-json",
    "application/vnd.datacite.datacite+xml": "datacite-xml",
    "application/x-datacite+xml": "datacite-xml",
    "application/x-dc+xml": "dublincore",
    "application/x-bibtex": "bibtex",
    "application/dcat+xml": "dcat-ap",
}


def check_body(name: str, body: bytes, record: dict[str, object]) -> None:
    doi = str(record["doi"])
    if name in ("datacite-xml", "dublincore", "marcxml", "dcat-ap"):
        root = etree.fromstring(body)
        assert doi in etree.tostring(root).decode()
        assert root.tag.split("}")[1] == {"datacite-xml": "resource", "dublincore": "dc", "marcxml": "record",
                                          "dcat-ap": "RDF"}[name]
    elif name == "bibtex":
        assert body.decode().startswith("@misc{") and f"doi = {{{doi}}}" in body.decode()
    else:
        doc = orjson.loads(body)
        found = {"json-ld": lambda: doc["@id"], "csl": lambda: "https://doi.org/" + doc["DOI"],
                 "datacite-json": lambda: "https://doi.org/" + doc["doi"], "json": lambda: doc["doi_url"]}[name]()
        assert found == f"https://doi.org/{doi}"


def test_content_negotiation_on_the_records_api(api: Api) -> None:
    record = published(api.client, api.auth(), metadata(title="Quercus robur L. (BR0000008525000)"))
    url = f"/api/records/{record['id']}"
    plain = api.client.get(url)
    assert plain.status_code == 200 and plain.headers["content-type"] == "application/json"
    for media_type, name in ACCEPT.items():
        r = api.client.get(url, headers={"Accept": media_type})
        assert r.status_code == 200, (media_type, r.text)
        assert r.headers["content-type"].split(";")[0] == media_type
        check_body(name, r.content, record)
    for media_type in ("application/json", "application/vnd.zenodo.v1+json", "*/*",
                       "text/html,application/xhtml+xml,*/*;q=0.8"):
        r = api.client.get(url, headers={"Accept": media_type})
        assert r.status_code == 200 and r.json()["id"] == record["id"] and r.json()["doi"] == record["doi"]
    r = api.client.get(url, headers={"Accept": "application/x-bibtex;q=0.2, application/ld+json;q=0.9"})
    assert r.headers["content-type"] == "application/ld+json"
    r = api.client.get(url, headers={"Accept": "text/plain"})
    assert r.status_code == 406 and r.headers["content-type"] == "application/json"
    assert r.json()["status"] == 406 and "application/x-bibtex" in r.json()["message"]
    assert api.client.get("/api/records/999999", headers={"Accept": "application/x-bibtex"}).status_code == 404


@pytest.mark.parametrize("name", ["json", "json-ld", "schemaorg_jsonld", "csl", "datacite-json", "datacite-xml",
                                  "dublincore", "marcxml", "dcat-ap", "bibtex"])
def test_export_urls(api: Api, name: str) -> None:
    h = api.auth()
    record = published(api.client, h)
    r = api.client.get(f"/records/{record['id']}/export/{name}")
    assert r.status_code == 200, r.text
    check_body("json-ld" if name == "schemaorg_jsonld" else name, r.content, record)
    assert "content-disposition" not in r.headers
    r = api.client.get(f"/records/{record['id']}/export/{name}", params={"download": "1"})
    assert r.headers["content-disposition"].startswith(f'attachment; filename="{record["id"]}.')
    draft = create(api.client, h)
    for missing in (f"/records/{draft['id']}/export/{name}", f"/records/999999/export/{name}"):
        r = api.client.get(missing)
        assert r.status_code == 404 and r.json()["status"] == 404


def test_unknown_export_name_is_404(api: Api) -> None:
    record = published(api.client, api.auth())
    r = api.client.get(f"/records/{record['id']}/export/datacite3")
    assert r.status_code == 404 and r.json()["status"] == 404
