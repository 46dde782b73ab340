"""Operating `depot serve` (issue 13, part 4): DEPOT_* variables for every setting, a JSON-lines access log,
client disconnects at INFO without a traceback, and data files only their owner can read."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from contract.payloads import metadata

from conftest import free_port


@dataclass
class Server:
    api: str  # where it listens
    token: str
    data: Path
    log: Path  # its standard error
    access: Path  # its access log


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`depot serve` configured by environment variables alone: no --port, --base-url, --log-level flags."""
    root = tmp_path_factory.mktemp("ops")
    data, log, access = root / "repo", root / "serve.log", root / "access.jsonl"
    port = free_port()
    env = {**os.environ, "DEPOT_PORT": str(port), "DEPOT_BASE_URL": "https://depot.example.org",
           "DEPOT_LOG_LEVEL": "info", "DEPOT_ACCESS_LOG": str(access), "DEPOT_DOI_PREFIX": "10.99999",
           "DEPOT_USER_LIMIT_PER_MINUTE": "0", "DEPOT_USER_LIMIT_PER_HOUR": "0", "DEPOT_FIXITY_CYCLE": "0"}
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "depot", "serve", "--data-dir", str(data)], env=env,
                                stdout=sink, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _up(api) or proc.poll() is not None, 30)
        assert proc.poll() is None, log.read_text()
        token = subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "ops@example.org",
                                "--data-dir", str(data)], capture_output=True, text=True, check=True).stdout.strip()
        yield Server(api, token, data, log, access)
    finally:
        proc.terminate()
        proc.wait(10)


def _up(api: str) -> bool:
    try:
        httpx.get(api + "/api/communities", timeout=1)
        return True
    except httpx.TransportError:
        return False


def _wait(condition: Callable[[], object], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds} s")
        time.sleep(0.05)


def _headers(server: Server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def test_environment_variables_configure_serve(server: Server) -> None:
    r = httpx.post(server.api + "/api/deposit/depositions", json={"metadata": metadata()}, headers=_headers(server))
    assert r.status_code == 201
    assert r.json()["links"]["self"].startswith("https://depot.example.org/api/deposit/depositions/")
    assert r.json()["metadata"]["prereserve_doi"]["doi"].startswith("10.99999/")


def test_access_log_is_json_lines_without_tokens(server: Server) -> None:
    httpx.get(server.api + "/api/records", params={"q": "title:x", "access_token": server.token})
    httpx.get(server.api + "/api/records/1_0")

    def entries() -> list[dict[str, object]]:
        return [orjson.loads(line) for line in server.access.read_text().splitlines()]

    _wait(lambda: any(e["path"] == "/api/records/1_0" for e in entries()), 10)
    found = {e["path"]: e for e in entries()}
    search, missing = found["/api/records"], found["/api/records/1_0"]
    assert search["method"] == "GET" and search["status"] == 200 and search["query"].startswith("q=title")
    assert isinstance(search["bytes"], int) and search["bytes"] > 0 and isinstance(search["ms"], float)
    assert search["user"] is not None and search["client"] == "127.0.0.1"
    assert missing["status"] == 404 and missing["user"] is None
    assert server.token not in server.access.read_text()
    assert "REDACTED" in str(search["query"])
    assert '"GET /api/records' not in server.log.read_text()  # uvicorn's text log gives way to the JSON one


def test_client_disconnect_is_one_info_line_without_traceback(server: Server) -> None:
    deposit = httpx.post(server.api + "/api/deposit/depositions", json={}, headers=_headers(server)).json()
    bucket = deposit["links"]["bucket"].replace("https://depot.example.org", "")
    port = int(server.api.rsplit(":", 1)[1])
    for method, path, ctype in (("PUT", f"{bucket}/half.bin", "application/octet-stream"),
                                ("POST", "/api/deposit/depositions", "application/json")):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n"
                         f"Content-Type: {ctype}\r\nContent-Length: 1000000\r\n\r\n".encode() + b" " * 100_000)
        expected = f"disconnected during {method} {path}"
        _wait(lambda line=expected: line in server.log.read_text(), 10)
    text = server.log.read_text()
    assert "Traceback" not in text and "ERROR" not in text, text
    assert "INFO:     client 127.0.0.1 disconnected during PUT" in text
    _wait(lambda: not list((server.data / "tmp").glob("*.part")), 10)
    _wait(lambda: '"status":499' in server.access.read_text(), 10)


def test_data_files_are_private(server: Server) -> None:
    h = _headers(server)
    deposit = httpx.post(server.api + "/api/deposit/depositions", json={"metadata": metadata()}, headers=h).json()
    bucket = deposit["links"]["bucket"].replace("https://depot.example.org", server.api)
    assert httpx.put(bucket + "/sheet.jpg", content=b"\xff\xd8\xff bytes",
                     headers={**h, "Content-Type": "application/octet-stream"}).status_code == 201
    publish = f"{server.api}/api/deposit/depositions/{deposit['id']}/actions/publish"
    assert httpx.post(publish, headers=h).status_code == 202
    # A complete bag: its bagit.txt outside a ".tmp-" folder (one being built is renamed into place, and a
    # listing taken meanwhile named a folder gone by the time it was looked at).
    _wait(lambda: any(not any(part.startswith(".tmp-") for part in p.parts)
                      for p in (server.data / "bags").rglob("bagit.txt")), 30)
    paths = [server.data, *server.data.rglob("*")]
    kinds = {p.suffix or p.name for p in paths if p.is_file()}
    assert {".sqlite3", "bagit.txt"} <= kinds | {p.name for p in paths}, kinds
    loose = [f"{p} {stat.filemode(p.stat().st_mode)}" for p in paths if p.stat().st_mode & 0o077]
    assert loose == []
