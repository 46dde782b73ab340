"""Contract: bounded requests (issue 13, part 2). Anonymous bodies are refused before they are read; JSON and
multipart bodies past their limit are a 413, declared or streamed; metadata fields past theirs a 400."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from depot.repository.services.limits import COUNT_LIMITS, TEXT_LIMITS

from conftest import Api, Served, serve_repository
from payloads import create, metadata

INPROCESS = pytest.mark.parametrize("api", ["inprocess-sqlite", "inprocess-postgres"], indirect=True)
MB = 1024 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One loopback server whose multipart limit is 1 MiB (set through DEPOT_MULTIPART_MAX_BYTES)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DEPOT_MULTIPART_MAX_BYTES", str(MB))
    try:
        with serve_repository(tmp_path_factory.mktemp("bounded")) as s:
            yield s
    finally:
        mp.undo()


def _connect(base: str, head: str) -> socket.socket:
    url = urlsplit(base)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10)
    sock.sendall(head.encode("latin-1"))
    return sock


def _answer(sock: socket.socket, wait: float = 30.0) -> bytes:
    """The whole response (head and Content-Length body), or b"" if none began within ``wait`` seconds
    (generous: the machine is shared)."""
    ready, _, _ = select.select([sock], [], [], wait)
    if not ready:
        return b""
    data = sock.recv(65536)
    while b"\r\n\r\n" in data:
        head, _, body = data.partition(b"\r\n\r\n")
        lengths = [line.split(b":", 1)[1] for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")]
        if not lengths or len(body) >= int(lengths[0]):
            break
        more = sock.recv(65536) if select.select([sock], [], [], wait)[0] else b""
        if not more:
            break
        data += more
    return data


def _head(method: str, path: str, length: int | None, token: str | None = None,
          ctype: str = "application/json") -> str:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {ctype}"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.mark.parametrize(("path", "ctype"), [
    ("/api/deposit/depositions", "application/json"),
    ("/api/deposit/depositions/1", "application/json"),
    ("/api/deposit/depositions/1/files", "multipart/form-data; boundary=x")])
def test_anonymous_large_body_is_refused_before_it_is_read(served: Served, path: str, ctype: str) -> None:
    method = "PUT" if path.endswith("/1") else "POST"
    with _connect(served.base, _head(method, path, 200 * MB, ctype=ctype)) as sock:
        sock.sendall(b"{" * 4096)  # 4 KiB of a declared 200 MiB: the answer must not wait for the rest
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 403"), answer[:200]


def test_declared_json_body_past_the_limit_is_413_before_it_is_read(served: Served) -> None:
    with _connect(served.base, _head("POST", "/api/deposit/depositions", 200 * MB, served.token)) as sock:
        sock.sendall(b"{" * 4096)
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"exceeds the capacity limit" in answer


def _stream_until_answer(sock: socket.socket, total: int, chunk: int = 64 * 1024) -> tuple[bytes, int]:
    """Send a chunked body of up to ``total`` bytes, stopping when the server answers; (answer, bytes sent)."""
    sent = 0
    piece = f"{chunk:x}\r\n".encode() + b" " * chunk + b"\r\n"
    while sent < total:
        if (answer := _answer(sock, 0)) != b"":
            return answer, sent
        try:
            sock.sendall(piece)
        except OSError:  # the server answered and closed: read what it said
            break
        sent += chunk
    return _answer(sock), sent


def test_streamed_json_body_past_the_limit_is_413_while_streaming(served: Served) -> None:
    with _connect(served.base, _head("POST", "/api/deposit/depositions", None, served.token)) as sock:
        answer, sent = _stream_until_answer(sock, 64 * MB)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 16 * MB, sent  # refused near the 2 MiB limit (socket buffers hold a few MiB more)


def test_streamed_multipart_past_the_limit_is_413_and_nothing_is_stored(served: Served) -> None:
    import httpx

    deposit = httpx.post(served.base + "/api/deposit/depositions", json={}, headers=served.headers).json()
    boundary = "depotboundary"
    with _connect(served.base, _head("POST", f"/api/deposit/depositions/{deposit['id']}/files", None, served.token,
                                     f"multipart/form-data; boundary={boundary}")) as sock:
        part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        answer, sent = _stream_until_answer(sock, 64 * MB)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 16 * MB, sent
    files = httpx.get(served.base + f"/api/deposit/depositions/{deposit['id']}/files", headers=served.headers)
    assert files.json() == []
    assert _wait_for_no_part_files(served.data)


def _wait_for_no_part_files(data: Path) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        parts = list((data / "tmp").glob("*.part")) if (data / "tmp").exists() else []
        if not parts:
            return True
        time.sleep(0.05)
    return False


@INPROCESS
def test_large_json_bodies_are_413_in_zenodos_shape(api: Api) -> None:
    h = api.auth()
    body = {"metadata": metadata(description="x" * (3 * MB))}
    r = api.client.post("/api/deposit/depositions", json=body, headers=h)
    assert r.status_code == 413 and r.json() == {
        "status": 413, "message": "The data value transmitted exceeds the capacity limit."}
    dep = create(api.client, h)
    r = api.client.put(f"/api/deposit/depositions/{dep['id']}", json=body, headers=h)
    assert r.status_code == 413
    assert api.client.get(f"/api/deposit/depositions/{dep['id']}", headers=h).json()["title"] == dep["title"]


@INPROCESS
@pytest.mark.parametrize(("field", "value"), [
    ("description", "<p>" + "d" * TEXT_LIMITS["description"] + "</p>"),
    ("title", "T" * (TEXT_LIMITS["title"] + 1)),
    ("creators", [{"name": f"Collector {i}"} for i in range(COUNT_LIMITS["creators"] + 1)]),
    ("keywords", [f"k{i}" for i in range(COUNT_LIMITS["keywords"] + 1)]),
])
def test_fields_past_their_limit_are_400_on_create_and_update(api: Api, field: str, value: object) -> None:
    h = api.auth()
    r = api.client.post("/api/deposit/depositions", json={"metadata": metadata(**{field: value})}, headers=h)
    assert r.status_code == 400, r.text[:200]
    body = r.json()
    assert body["status"] == 400 and body["message"] == "A validation error occurred."
    assert [e["field"] for e in body["errors"]] == [f"metadata.{field}"]
    assert "limit" in body["errors"][0]["messages"][0]
    dep = create(api.client, h)
    r = api.client.put(f"/api/deposit/depositions/{dep['id']}", json={"metadata": metadata(**{field: value})},
                       headers=h)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == f"metadata.{field}"


@INPROCESS
def test_fields_at_their_limit_are_accepted(api: Api) -> None:
    meta = metadata(title="T" * TEXT_LIMITS["title"], keywords=[f"k{i}" for i in range(COUNT_LIMITS["keywords"])],
                    description="d" * TEXT_LIMITS["description"])
    r = api.client.post("/api/deposit/depositions", json={"metadata": meta}, headers=api.auth())
    assert r.status_code == 201, r.text[:300]


def test_oai_post_body_is_bounded(served: Served) -> None:
    with _connect(served.base, _head("POST", "/oai2d", 200 * MB, ctype="application/x-www-form-urlencoded")) as sock:
        sock.sendall(b"verb=Identify&" * 100)
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    import httpx

    r = httpx.post(served.base + "/oai2d", data={"verb": "Identify"})
    assert r.status_code == 200 and "<repositoryName>" in r.text
