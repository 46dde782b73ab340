"""--fetch-media against a real HTTP server on loopback, started here (no network needed)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from depot.cli import main
from depot.deposit.sources import MediaCache, open_source
from depot.deposit.sources.fetch import FetchSummary, fetch_media

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)
ROUTES: dict[str, tuple[int, str, bytes]] = {
    "/img/A1.jpg": (200, "image/jpeg", JPEG),
    "/missing.jpg": (404, "text/html", b"<html>not found</html>"),
    "/page.jpg": (200, "text/html; charset=utf-8", b"<!doctype html><html>login</html>"),
    "/empty.jpg": (200, "image/jpeg", b""),
    "/disguised": (200, "application/octet-stream", b"<!DOCTYPE html><html>error</html>"),
    "/iiif/A6/full/max/0/default": (200, "image/png", PNG),
    "/bilder/hent.php?id=A9&type=jpeg": (200, "application/octet-stream", JPEG),
}


class Server:
    """A loopback HTTP server that serves ROUTES, counts requests, and can fail a path a few times."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.fail_first: dict[str, int] = {}
        self.short: set[str] = set()
        self.fail_status = 503
        self.retry_after: str | None = None
        self.inflight = 0
        self.most_inflight = 0
        self.holding = False  # while True, requests for /slow/ paths wait (the test releases them)
        self.condition = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with server.condition:
                    server.requests[self.path] += 1
                    server.inflight += 1
                    server.most_inflight = max(server.most_inflight, server.inflight)
                    server.condition.notify_all()
                    if self.path.startswith("/slow/"):
                        server.condition.wait_for(lambda: not server.holding, timeout=30)
                try:
                    self._answer()
                finally:
                    with server.condition:
                        server.inflight -= 1

            def _answer(self) -> None:
                if server.fail_first.get(self.path, 0) > 0:
                    server.fail_first[self.path] -= 1
                    self.send_response(server.fail_status)
                    if server.retry_after is not None:
                        self.send_header("Retry-After", server.retry_after)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, kind, body = ROUTES.get(self.path, (200, "image/jpeg", JPEG))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                if self.path in server.short:  # promise more than is sent, then hang up
                    self.send_header("Content-Length", str(len(body) * 2))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                    self.close_connection = True
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    running.thread.start()
    try:
        yield running
    finally:
        running.httpd.shutdown()
        running.httpd.server_close()


def _meta(folder: Path, row_type: str, terms: list[str]) -> None:
    """meta.xml of an archive: occurrence.txt (id, catalogNumber) and multimedia.txt (coreid, ``terms``)."""
    fields = "".join(f'<field index="{i}" term="{term}"/>' for i, term in enumerate(terms, 1))
    (folder / "meta.xml").write_text(
        '<archive xmlns="http://rs.tdwg.org/dwc/text/"><core encoding="UTF-8" fieldsTerminatedBy="\\t" '
        'linesTerminatedBy="\\n" ignoreHeaderLines="1" rowType="http://rs.tdwg.org/dwc/terms/Occurrence">'
        '<files><location>occurrence.txt</location></files><id index="0"/>'
        '<field index="1" term="http://rs.tdwg.org/dwc/terms/catalogNumber"/></core>'
        '<extension encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" ignoreHeaderLines="1" '
        f'rowType="{row_type}"><files><location>multimedia.txt</location></files>'
        f'<coreid index="0"/>{fields}</extension></archive>', encoding="utf-8")


def _archive(folder: Path, media: dict[str, list[str]]) -> Path:
    folder.mkdir()
    _meta(folder, "http://rs.gbif.org/terms/1.0/Multimedia", ["http://purl.org/dc/terms/identifier"])
    (folder / "occurrence.txt").write_text("id\tcatalogNumber\n" + "".join(f"{n}\t{key}\n" for n, key in
                                                                             enumerate(media, 1)), encoding="utf-8")
    (folder / "multimedia.txt").write_text("id\tidentifier\n" + "".join(
        f"{n}\t{url}\n" for n, urls in enumerate(media.values(), 1) for url in urls), encoding="utf-8")
    return folder


def _fetched(archive: Path, cache: Path) -> dict[str, tuple[list[tuple[str, bytes]], tuple[str, ...]]]:
    with open_source(archive, media_cache=MediaCache(cache), require_local=True) as source:
        return {s.key: ([(f.name, Path(f.path).read_bytes()) for f in s.files], s.problems) for s in source}


def test_fetch_media_downloads_checks_and_resumes(server: Server, tmp_path: Path) -> None:
    media = {"A1": [server.url("/img/A1.jpg")], "A2": [server.url("/missing.jpg")], "A3": [server.url("/page.jpg")],
             "A4": [server.url("/empty.jpg")], "A5": [server.url("/disguised")],
             "A6": [server.url("/iiif/A6/full/max/0/default")], "A7": [server.url("/flaky.jpg")],
             "A8": ["ftp://example.org/A8.jpg"], "A9": [server.url("/bilder/hent.php?id=A9&type=jpeg")]}
    archive = _archive(tmp_path / "dwca", media)
    cache = tmp_path / "cache"
    server.fail_first["/flaky.jpg"] = 2
    urls = [u for urls in media.values() for u in urls]
    summary = fetch_media([*urls, urls[0]], cache, retries=3, backoff=0.01)
    assert (summary.downloaded, summary.failed) == (4, 4)
    got = _fetched(archive, cache)
    assert got["A1"] == ([("A1.jpg", JPEG)], ())
    assert got["A6"] == ([("A6.png", PNG)], ())  # IIIF: named by its identifier; the extension from the type
    assert got["A7"] == ([("flaky.jpg", JPEG)], ())  # 503, 503, then the file
    assert got["A9"] == ([("A9.jpg", JPEG)], ())  # named by its id, the extension from the bytes
    assert got["A2"] == ([], (f"row 2: image {media['A2'][0]} could not be fetched: HTTP 404 Not Found "
                              "(--fetch-media)",))
    assert got["A3"][1] == (f"row 3: image {media['A3'][0]} could not be fetched: the server answered with a "
                            "text/html page, not an image (--fetch-media)",)
    assert got["A4"][1] == (f"row 4: image {media['A4'][0]} could not be fetched: the server answered with 0 bytes "
                            "(--fetch-media)",)
    assert "an HTML page, not an image" in got["A5"][1][0]
    assert got["A8"] == ([], ("row 8: image ftp://example.org/A8.jpg cannot be fetched: only http and https links "
                              "can (--fetch-media)",))
    assert server.requests["/img/A1.jpg"] == 1  # asked for twice, fetched once
    assert server.requests["/flaky.jpg"] == 3
    # a rerun fetches nothing it already has, and tries the failures again
    before = Counter(server.requests)
    again = fetch_media(urls, cache, retries=0, backoff=0.01)
    assert (again.downloaded, again.cached, again.failed) == (0, 4, 4)
    assert server.requests - before == Counter({"/missing.jpg": 1, "/page.jpg": 1, "/empty.jpg": 1, "/disguised": 1})


def test_a_cut_short_answer_leaves_no_file(server: Server, tmp_path: Path) -> None:
    url = server.url("/img/A1.jpg")
    server.short.add("/img/A1.jpg")
    summary = fetch_media([url], tmp_path / "cache", retries=1, backoff=0.01)
    assert summary.failed == 1 and server.requests["/img/A1.jpg"] == 2
    folder = MediaCache(tmp_path / "cache").folder(url)
    assert [p.name for p in folder.iterdir()] == [".error"]  # no partial file under any name
    assert MediaCache(tmp_path / "cache").lookup(url)[0] is None


def test_retry_after_is_honoured(server: Server, tmp_path: Path) -> None:
    server.fail_first["/img/A1.jpg"] = 1
    server.fail_status, server.retry_after = 429, "0"
    done: list[FetchSummary] = []
    # with a backoff of ten minutes, only honouring "Retry-After: 0" lets this finish
    fetching = threading.Thread(target=lambda: done.append(fetch_media([server.url("/img/A1.jpg")], tmp_path / "cache",
                                                                       retries=1, backoff=600)), daemon=True)
    fetching.start()
    fetching.join(timeout=60)
    assert done and done[0].downloaded == 1 and server.requests["/img/A1.jpg"] == 2


def test_a_partial_file_from_a_killed_run_is_not_taken_for_a_download(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path)
    folder = cache.folder("http://x/A1.jpg")
    folder.mkdir(parents=True)
    (folder / ".download.part").write_bytes(JPEG[:10])
    assert cache.lookup("http://x/A1.jpg") == (None, None)


def test_downloads_in_flight_are_bounded(server: Server, tmp_path: Path) -> None:
    server.holding = True
    urls = [server.url(f"/slow/{n}.jpg") for n in range(6)]
    done: list[FetchSummary] = []
    fetching = threading.Thread(target=lambda: done.append(fetch_media(urls, tmp_path / "cache", transfers=2,
                                                                       retries=0)))
    fetching.start()
    try:
        with server.condition:
            assert server.condition.wait_for(lambda: server.inflight >= 2, timeout=30)
            # two are held; a client that does not bound its transfers sends a third at once
            assert not server.condition.wait_for(lambda: server.inflight >= 3, timeout=0.5)
    finally:
        with server.condition:
            server.holding = False
            server.condition.notify_all()
        fetching.join(timeout=30)
    assert done[0].downloaded == 6 and server.most_inflight == 2


def test_without_fetch_media_a_link_only_specimen_is_a_problem(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "dwca", {"A1": ["http://img.example.org/A1.jpg", "http://img.example.org/A1b.jpg"],
                                           "A2": []})
    with open_source(archive, require_local=True) as source:
        first, second = list(source)
    assert first.problems == ("row 1: image http://img.example.org/A1.jpg (and 1 more) is only a web link; pass "
                              "--fetch-media to download it, or --images with a folder that holds the files",)
    assert second.problems == ()
    result = CliRunner().invoke(main, ["check", str(archive), "--problems-file", str(tmp_path / "p.tsv")])
    assert result.exit_code != 0 and "is only a web link; pass --fetch-media" in result.output


def test_check_with_fetch_media(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = _archive(tmp_path / "dwca", {"A1": [server.url("/img/A1.jpg")], "A2": [server.url("/missing.jpg")]})
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        result = CliRunner().invoke(main, ["check", str(archive), "--fetch-media", "--problems-file", "p.tsv"])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "media: 0 downloaded (0.0 MB), 1 failed" in result.output  # the second run found A1 in the cache
    listing = (tmp_path / "p.tsv").read_text(encoding="utf-8")
    # columns: key, row, kind, file, message
    assert re.search(r"^A2\t2\trecord\t[^\t]*\trow 2: image .*HTTP 404", listing, flags=re.M), listing
    assert not re.search(r"^A1\t1\trecord\t[^\t]*\trow 1: image", listing, flags=re.M), listing
    assert server.requests["/img/A1.jpg"] == 1
    assert (tmp_path / "depot-media-cache").is_dir()


def test_a_fetched_file_is_checked_against_the_archives_audubon_core_checksum(server: Server, tmp_path: Path) -> None:
    import hashlib

    from depot.deposit.images import ImageRules, check_file

    folder = tmp_path / "dwca"
    folder.mkdir()
    _meta(folder, "http://rs.tdwg.org/ac/terms/Multimedia", [f"http://rs.tdwg.org/ac/terms/{t}" for t in
                                                             ("accessURI", "hashFunction", "hashValue")])
    (folder / "occurrence.txt").write_text("id\tcatalogNumber\n1\tA1\n2\tA6\n3\tA9\n", encoding="utf-8")
    url1, url6, url9 = (server.url(p) for p in ("/img/A1.jpg", "/iiif/A6/full/max/0/default",
                                                 "/bilder/hent.php?id=A9&type=jpeg"))
    (folder / "multimedia.txt").write_text(
        "id\taccessURI\thashFunction\thashValue\n"
        f"1\t{url1}\tSHA-256\t{hashlib.sha256(JPEG).hexdigest().upper()}\n"
        f"2\t{url6}\tMD5\t{hashlib.md5(b'what the publisher hashed').hexdigest()}\n"
        f"3\t{url9}\tcrc32\t1234abcd\n", encoding="utf-8")
    cache = tmp_path / "cache"
    assert fetch_media([url1, url6, url9], cache, retries=0, backoff=0.01).downloaded == 3
    with open_source(folder, media_cache=MediaCache(cache), require_local=True) as source:
        a1, a6, a9 = list(source)
    assert [(e.algorithm, e.digest) for e in a1.files[0].expected] == [("sha256", hashlib.sha256(JPEG).hexdigest())]
    assert a1.problems == ()
    assert a9.files[0].expected == () and a9.problems == (
        f"row 3: image {url9}: ac:hashValue '1234abcd' comes with ac:hashFunction 'crc32', so it cannot be checked "
        "(one of md5, sha1, sha224, sha256, sha384, sha512; fix the archive's multimedia row)",)

    rules = ImageRules(min_bytes=1, min_pixels=1)
    ok = check_file(a1.files[0].path, a1.files[0].name, "A1", rules, a1.files[0].expected)
    assert not any("sha256" in p for p in ok.problems)
    spec = a6.files[0]
    bad = check_file(spec.path, spec.name, "A6", rules, spec.expected)
    assert any(p.startswith(f"A6.png: its md5 is {hashlib.md5(PNG).hexdigest()}, but the archive's ac:hashValue "
                            f"for {url6} (if the download is damaged, delete {Path(spec.path).parent} and run again")
               for p in bad.problems), bad.problems
