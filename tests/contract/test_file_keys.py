"""Contract: file keys (issue 13, part 3). One spelling per name (NFC), invalid UTF-8 is a 400, and names that
hide what they say or look like paths are refused with the reason."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from conftest import Api
from payloads import create, put_file

INPROCESS = pytest.mark.parametrize("api", ["inprocess-sqlite", "inprocess-postgres"], indirect=True)
NFC = unicodedata.normalize("NFC", "café.txt")
NFD = unicodedata.normalize("NFD", "café.txt")

REFUSED = {
    "a\u2215b.txt": "U+2215",  # division slash ∕
    "a\u2044b.txt": "U+2044",  # fraction slash ⁄
    "a\uff0fb.txt": "path separator",  # full-width solidus ／
    "\uff0e\uff0e": "'..'",  # full-width full stops ．．
    "\u2024\u2024": "'..'",  # one dot leaders ․․
    "a\u2025b": "'..'",  # two dot leader ‥
    "photo\u202egpj.exe": "U+202E",  # right-to-left override: reads as photoexe.jpg
    "a\u2066b.jpg": "U+2066",  # left-to-right isolate
    "a\u200bb.jpg": "U+200B",  # zero-width space
    "a\u200db.jpg": "U+200D",  # zero-width joiner
    "\ufeffa.jpg": "U+FEFF",  # byte-order mark
    "a\u0085b.jpg": "control",  # next line (C1 control)
    "a\u2028b.jpg": "U+2028",  # line separator
    "a\ufffdb.jpg": "U+FFFD",
}


def _bucket_put(api: Api, h: dict[str, str], deposit: dict[str, Any], raw_key: str, content: bytes) -> httpx.Response:
    return api.client.put(f"{deposit['links']['bucket']}/{raw_key}", content=content,
                          headers={**h, "Content-Type": "application/octet-stream"})


@INPROCESS
def test_nfc_and_nfd_names_are_one_file(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    assert put_file(api.client, h, dep, quote(NFD), b"first").status_code == 201
    r = put_file(api.client, h, dep, quote(NFC), b"second")
    assert r.status_code == 201 and r.json()["key"] == NFC
    listing = api.client.get(f"/api/deposit/depositions/{dep['id']}/files", headers=h).json()
    assert [f["filename"] for f in listing] == [NFC] and listing[0]["filesize"] == len(b"second")
    assert api.client.get(f"{dep['links']['bucket']}/{quote(NFD)}", headers=h).content == b"second"
    assert api.client.delete(f"{dep['links']['bucket']}/{quote(NFD)}", headers=h).status_code == 204
    assert api.client.get(f"/api/deposit/depositions/{dep['id']}/files", headers=h).json() == []


@INPROCESS
def test_multipart_names_are_nfc_and_one_file(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    url = f"/api/deposit/depositions/{dep['id']}/files"
    r = api.client.post(url, data={"name": NFD}, files={"file": ("x", b"one")}, headers=h)
    assert r.status_code == 201 and r.json()["filename"] == NFC
    r = api.client.post(url, data={"name": NFC}, files={"file": ("x", b"two")}, headers=h)
    assert r.status_code == 400 and "already exists" in r.json()["message"]


@INPROCESS
def test_invalid_utf8_in_a_key_is_400_not_a_replacement_character(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    for raw in ("a%FFb", "a%FEb", "%C3", "a%ED%A0%80b"):  # stray bytes, a cut sequence, a surrogate
        r = _bucket_put(api, h, dep, raw, b"bytes")
        assert r.status_code == 400, raw
        assert "UTF-8" in r.json()["message"]
        r = api.client.get(f"{dep['links']['bucket']}/{raw}", headers=h)
        assert r.status_code == 400, raw
    assert api.client.get(f"/api/deposit/depositions/{dep['id']}/files", headers=h).json() == []


@INPROCESS
@pytest.mark.parametrize("key", list(REFUSED))
def test_deceptive_keys_are_refused_with_the_reason(api: Api, key: str) -> None:
    h = api.auth()
    dep = create(api.client, h)
    r = _bucket_put(api, h, dep, quote(key), b"bytes")
    assert r.status_code == 400, key
    body = r.json()
    assert body["message"].startswith("Invalid file name: ") and REFUSED[key] in body["message"], body
    assert body["errors"][0]["field"] == "filename"
    r = api.client.post(f"/api/deposit/depositions/{dep['id']}/files", data={"name": key},
                        files={"file": ("x", b"bytes")}, headers=h)
    assert r.status_code == 400 and REFUSED[key] in r.json()["message"]
    assert api.client.get(f"/api/deposit/depositions/{dep['id']}/files", headers=h).json() == []


@INPROCESS
@pytest.mark.parametrize("key", ["Ascophyllum nodosum (TROM-A-8528).jpg", "Ærø-ø_Þórr.tif", "標本 1.png",
                                 "O-DP-12345.dng", "a.b.c.txt", "naïve résumé.pdf"])
def test_ordinary_names_in_any_script_are_kept(api: Api, key: str) -> None:
    h = api.auth()
    dep = create(api.client, h)
    r = _bucket_put(api, h, dep, quote(key), b"bytes")
    assert r.status_code == 201, r.text
    assert r.json()["key"] == unicodedata.normalize("NFC", key)
