"""Contract: resumable uploads, tus 1.0 at /api/uploads (core, creation, termination, checksum, expiration)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx

from conftest import Api
from payloads import create

TUS = {"Tus-Resumable": "1.0.0"}
PATCH = {**TUS, "Content-Type": "application/offset+octet-stream"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def bucket_id(dep: dict[str, Any]) -> str:
    return str(dep["links"]["bucket"]).rsplit("/", 1)[1]


def start(api: Api, h: dict[str, str], dep: dict[str, Any], name: str, length: int) -> str:
    meta = f"bucket {b64(bucket_id(dep))},filename {b64(name)}"
    r = api.client.post("/api/uploads", headers={**h, **TUS, "Upload-Length": str(length), "Upload-Metadata": meta})
    assert r.status_code == 201, r.text
    assert r.headers["Tus-Resumable"] == "1.0.0" and "Upload-Expires" in r.headers
    location = httpx.URL(r.headers["Location"])
    assert location.path.startswith("/api/uploads/") and location.is_absolute_url
    return location.path


def patch(api: Api, h: dict[str, str], url: str, offset: int, body: bytes, **extra: str) -> httpx.Response:
    return api.client.patch(url, content=body, headers={**h, **PATCH, "Upload-Offset": str(offset), **extra})


def test_options_announces_version_extensions_and_limits(api: Api) -> None:
    r = api.client.options("/api/uploads")
    assert r.status_code == 204
    assert r.headers["Tus-Version"] == "1.0.0"
    assert set(r.headers["Tus-Extension"].split(",")) == {"creation", "termination", "checksum", "expiration"}
    assert int(r.headers["Tus-Max-Size"]) == api.config.upload_max_bytes
    assert "sha256" in r.headers["Tus-Checksum-Algorithm"].split(",")


def test_cors_preflight_and_exposed_tus_headers(api: Api) -> None:
    r = api.client.options("/api/uploads/abc", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "tus-resumable, upload-offset, content-type"})
    assert r.status_code == 200
    assert "PATCH" in r.headers["Access-Control-Allow-Methods"]
    assert "upload-offset" in r.headers["Access-Control-Allow-Headers"]
    r = api.client.post("/api/uploads", headers={**api.auth(), **TUS, "Upload-Length": "3",
                                                 "Origin": "https://example.org"})
    exposed = {h.strip().lower() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"location", "upload-offset", "tus-resumable", "upload-expires"} <= exposed


def test_create_patch_in_chunks_then_file_is_in_the_bucket(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    data = bytes(range(256)) * 40  # 10,240 bytes
    url = start(api, h, dep, "scan.tif", len(data))
    head = api.client.head(url, headers={**h, **TUS})
    assert head.status_code == 200 and head.headers["Upload-Offset"] == "0"
    assert head.headers["Upload-Length"] == str(len(data)) and head.headers["Cache-Control"] == "no-store"
    r = patch(api, h, url, 0, data[:4000])
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "4000" and "Upload-Expires" in r.headers
    assert api.client.head(url, headers={**h, **TUS}).headers["Upload-Offset"] == "4000"
    assert (api.config.data_dir / "uploads" / f"{url.rsplit('/', 1)[-1]}.part").exists()
    r = patch(api, h, url, 4000, data[4000:])
    assert r.status_code == 204 and r.headers["Upload-Offset"] == str(len(data))
    files = api.client.get(dep["links"]["files"], headers=h).json()
    assert [(f["filename"], f["filesize"], f["checksum"]) for f in files] == [
        ("scan.tif", len(data), hashlib.md5(data).hexdigest())]
    bucket = api.client.get(dep["links"]["bucket"], headers=h).json()
    assert bucket["contents"][0]["key"] == "scan.tif"
    assert api.client.get(bucket["contents"][0]["links"]["self"], headers=h).content == data
    # finished: HEAD still answers (offset = length), a further PATCH at another offset is a conflict
    assert api.client.head(url, headers={**h, **TUS}).headers["Upload-Offset"] == str(len(data))
    assert patch(api, h, url, 0, b"x").status_code == 409
    assert not (api.config.data_dir / "uploads" / f"{url.rsplit('/', 1)[-1]}.part").exists()


def test_wrong_offset_is_409_and_wrong_content_type_415(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    url = start(api, h, dep, "a.bin", 10)
    r = patch(api, h, url, 5, b"12345")
    assert r.status_code == 409 and r.headers["Tus-Resumable"] == "1.0.0"
    r = api.client.patch(url, content=b"12345", headers={**h, **TUS, "Upload-Offset": "0",
                                                          "Content-Type": "application/octet-stream"})
    assert r.status_code == 415
    assert patch(api, h, url, 0, b"0123456789abc").status_code == 413  # past Upload-Length
    assert api.client.head(url, headers={**h, **TUS}).headers["Upload-Offset"] == "0"


def test_missing_or_other_tus_version_is_412(api: Api) -> None:
    h = api.auth()
    r = api.client.post("/api/uploads", headers={**h, "Upload-Length": "3"})
    assert r.status_code == 412 and r.headers["Tus-Version"] == "1.0.0"
    r = api.client.post("/api/uploads", headers={**h, "Tus-Resumable": "0.2.2", "Upload-Length": "3"})
    assert r.status_code == 412


def test_checksum_match_kept_mismatch_460_and_discarded(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    url = start(api, h, dep, "c.bin", 8)
    good = base64.b64encode(hashlib.sha1(b"abcd").digest()).decode()
    assert patch(api, h, url, 0, b"abcd", **{"Upload-Checksum": f"sha1 {good}"}).status_code == 204
    bad = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    r = patch(api, h, url, 4, b"efgh", **{"Upload-Checksum": f"sha256 {bad}"})
    assert r.status_code == 460
    assert api.client.head(url, headers={**h, **TUS}).headers["Upload-Offset"] == "4"
    r = patch(api, h, url, 4, b"efgh", **{"Upload-Checksum": "crc32 AAAA"})
    assert r.status_code == 400 and "crc32" in r.json()["message"]
    md5 = base64.b64encode(hashlib.md5(b"efgh").digest()).decode()
    assert patch(api, h, url, 4, b"efgh", **{"Upload-Checksum": f"md5 {md5}"}).status_code == 204
    files = api.client.get(dep["links"]["files"], headers=h).json()
    assert files[0]["checksum"] == hashlib.md5(b"abcdefgh").hexdigest()


def test_termination_then_404(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    url = start(api, h, dep, "t.bin", 10)
    assert patch(api, h, url, 0, b"12345").status_code == 204
    assert api.client.delete(url, headers={**h, **TUS}).status_code == 204
    assert api.client.head(url, headers={**h, **TUS}).status_code == 404
    assert patch(api, h, url, 5, b"67890").status_code == 404
    assert not (api.config.data_dir / "uploads" / f"{url.rsplit('/', 1)[-1]}.part").exists()


def test_authentication_scopes_and_ownership(api: Api) -> None:
    owner = api.auth()
    dep = create(api.client, owner)
    meta = f"bucket {b64(bucket_id(dep))},filename {b64('x.bin')}"
    r = api.client.post("/api/uploads", headers={**TUS, "Upload-Length": "3", "Upload-Metadata": meta})
    assert r.status_code == 403  # anonymous
    read_only = api.auth(scopes=("user:email",))
    r = api.client.post("/api/uploads", headers={**read_only, **TUS, "Upload-Length": "3", "Upload-Metadata": meta})
    assert r.status_code == 403
    stranger = api.auth()
    r = api.client.post("/api/uploads", headers={**stranger, **TUS, "Upload-Length": "3", "Upload-Metadata": meta})
    assert r.status_code == 403  # not their bucket
    url = start(api, owner, dep, "x.bin", 3)
    assert api.client.head(url, headers={**stranger, **TUS}).status_code == 404
    assert patch(api, stranger, url, 0, b"abc").status_code == 404
    assert api.client.delete(url, headers={**stranger, **TUS}).status_code == 404
    assert api.client.head("/api/uploads/..%2f..%2fetc", headers={**owner, **TUS}).status_code == 404


def test_bad_creation_requests_are_400_or_413_with_reasons(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    meta = f"bucket {b64(bucket_id(dep))},filename {b64('x.bin')}"
    r = api.client.post("/api/uploads", headers={**h, **TUS, "Upload-Metadata": meta})
    assert r.status_code == 400 and "Upload-Length" in r.json()["message"]
    r = api.client.post("/api/uploads", headers={**h, **TUS, "Upload-Length": "3"})
    assert r.status_code == 400 and "bucket" in r.json()["message"]
    r = api.client.post("/api/uploads", headers={**h, **TUS, "Upload-Length": "3", "Upload-Metadata": "bucket !!!"})
    assert r.status_code == 400
    too_big = str(api.config.upload_max_bytes + 1)
    r = api.client.post("/api/uploads", headers={**h, **TUS, "Upload-Length": too_big, "Upload-Metadata": meta})
    assert r.status_code == 413 and "Tus-Max-Size" in r.json()["message"]
