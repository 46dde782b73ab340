"""Contract: the bucket API and the legacy files endpoints (spec §2.5, §6)."""

from __future__ import annotations

import uuid

import pytest

from conftest import Api
from payloads import create, published, put_file, stored_files


def temporary_files(api: Api) -> set[str]:
    return {p.name for p in (api.config.data_dir / "tmp").glob("*")}


def test_bucket_put_matches_zenodo_test_vector(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    r = put_file(api.client, h, dep, "my_third_file.csv", b"4, 5, 6")
    assert r.status_code == 201
    body = r.json()
    assert body["checksum"] == "md5:c2d626f8beba73ad0cf4e66214f7d949"
    assert body["size"] == 7 and body["key"] == "my_third_file.csv" and body["mimetype"] == "text/csv"
    assert body["is_head"] is True and body["delete_marker"] is False
    assert set(body["links"]) == {"self", "version", "uploads"}
    files = api.client.get(dep["links"]["files"], headers=h).json()
    assert files[0]["checksum"] == "c2d626f8beba73ad0cf4e66214f7d949" and files[0]["filesize"] == 7
    r = api.client.get(body["links"]["self"], headers=h)
    assert r.status_code == 200 and r.content == b"4, 5, 6"


def test_bucket_put_without_content_type_is_accepted(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    r = api.client.put(f"{dep['links']['bucket']}/a.bin", content=b"abc", headers={**h, "Content-Type": ""})
    assert r.status_code == 201


def test_bucket_put_with_other_content_type_is_415(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    r = api.client.put(f"{dep['links']['bucket']}/a.txt", content=b"abc", headers={**h, "Content-Type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["message"] == "Invalid 'Content-Type' header. Expected one of: application/octet-stream"


def test_reput_overwrites_and_frees_old_content(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    before, tag = stored_files(api), uuid.uuid4().hex.encode()  # contents no other test stored
    put_file(api.client, h, dep, "a.txt", b"first" + tag)
    r = put_file(api.client, h, dep, "a.txt", b"second" + tag)
    assert r.status_code == 201 and r.json()["size"] == 6 + len(tag)
    files = api.client.get(dep["links"]["files"], headers=h).json()
    assert [(f["filename"], f["filesize"]) for f in files] == [("a.txt", 6 + len(tag))]
    assert len(stored_files(api) - before) == 1


def test_empty_file_is_400_and_nothing_stored(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    before = stored_files(api)
    r = put_file(api.client, h, dep, "empty.jpg", b"")
    assert r.status_code == 400 and r.json()["message"] == "Empty files are not accepted."
    assert stored_files(api) == before


@pytest.mark.parametrize("name", ["%2E%2E", "a..b", "a%5Cb", "bad%01name", "x" * 256, "%C3%A9" * 128])
def test_unsafe_file_names_are_400_and_nothing_written(api: Api, name: str) -> None:
    h = api.auth()
    dep = create(api.client, h)
    before, tmp_before = stored_files(api), temporary_files(api)
    r = api.client.put(f"{dep['links']['bucket']}/{name}", content=b"data",
                       headers={**h, "Content-Type": "application/octet-stream"})
    assert r.status_code == 400, r.text
    assert "Invalid file name" in r.json()["message"]
    assert stored_files(api) == before
    assert temporary_files(api) - tmp_before == set()


def test_file_name_with_slash_is_rejected(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    before = stored_files(api)
    r = api.client.put(f"{dep['links']['bucket']}/dir/a.jpg", content=b"data",
                       headers={**h, "Content-Type": "application/octet-stream"})
    assert r.status_code == 400
    assert stored_files(api) == before


def test_legacy_multipart_post_matches_zenodo_test_vector(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    r = api.client.post(dep["links"]["files"], files={"file": ("ignored.csv", b"1, 2, 3")},
                        data={"name": "test.csv"}, headers=h)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["filename"] == "test.csv" and body["filesize"] == 7
    assert body["checksum"] == "66ce05ea43c73b8e33c74c12d0371bc9"
    assert set(body["links"]) == {"self", "download"}
    r = api.client.post(dep["links"]["files"], files={"file": ("x", b"again")}, data={"name": "test.csv"}, headers=h)
    assert r.status_code == 400 and "already exists" in r.json()["message"]
    r = api.client.get(f"{dep['links']['files']}/{body['id']}", headers=h)
    assert r.status_code == 200 and r.json()["id"] == body["id"]
    r = api.client.get(body["links"]["download"], headers=h)
    assert r.status_code == 200 and r.content == b"1, 2, 3"


def test_file_delete_sort_and_rename(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    before = stored_files(api)
    put_file(api.client, h, dep, "a.txt", b"aaa" + uuid.uuid4().hex.encode())
    file_id = api.client.get(dep["links"]["files"], headers=h).json()[0]["id"]
    assert api.client.put(dep["links"]["files"], json=[{"id": file_id}], headers=h).status_code == 405
    assert api.client.put(f"{dep['links']['files']}/{file_id}", json={"filename": "b.txt"},
                          headers=h).status_code == 405
    assert api.client.delete(f"{dep['links']['files']}/{file_id}", headers=h).status_code == 204
    assert api.client.get(dep["links"]["files"], headers=h).json() == []
    assert stored_files(api) == before


def test_bucket_delete_and_multipart_protocol(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    r = put_file(api.client, h, dep, "a.txt", b"aaa")
    assert api.client.post(f"{dep['links']['bucket']}/a.txt?uploads&size=3&partSize=3", headers=h).status_code == 405
    assert api.client.delete(r.json()["links"]["self"], headers=h).status_code == 204
    assert api.client.delete(r.json()["links"]["self"], headers=h).status_code == 404


def test_bucket_listing(api: Api) -> None:
    h = api.auth()
    dep = create(api.client, h)
    put_file(api.client, h, dep, "a.txt", b"aaa")
    r = api.client.get(dep["links"]["bucket"], headers=h)
    assert r.status_code == 200 and [c["key"] for c in r.json()["contents"]] == ["a.txt"]
    assert r.json()["locked"] is False


def test_published_record_files_are_public(api: Api) -> None:
    rec = published(api.client, api.auth(), files={"sheet.jpg": b"jpeg-bytes"})
    r = api.client.get(f"/api/records/{rec['id']}/files/sheet.jpg/content")
    assert r.status_code == 200 and r.content == b"jpeg-bytes"
    r = api.client.get(rec["files"][0]["links"]["download"])
    assert r.status_code == 200 and r.content == b"jpeg-bytes"
