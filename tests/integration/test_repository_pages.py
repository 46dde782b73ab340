"""Landing pages in headless Chromium against a real `depot serve`, and their JSON-LD as a crawler sees it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import extruct
import httpx
import pytest

from contract.payloads import metadata, published

from conftest import CHROMEDRIVER, CHROMIUM, REPO_ROOT, Served, require_browser, serve_repository

IMAGE = REPO_ROOT / "src" / "depot" / "demo" / "data" / "images" / "RBGE_specimen_with_sellotape.png"
# HeadlessChrome is on the COUNTER robot list, so the browser presents itself as a desktop Chrome.
DESKTOP_CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Safari/537.36")
SLUG = "rbge-herbarium"
TITLE = "Eriophorum angustifolium Honck. (E00001234)"




@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--user-agent={DESKTOP_CHROME}", "--window-size=1200,1600"):
        options.add_argument(arg)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(60)
    browser.downloads_dir = downloads
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Served, dict[str, Any], dict[str, Any]]]:
    """A served repository with a community and a two-version image record in it: (served, v1, v2)."""
    assert IMAGE.exists(), f"demo image missing: {IMAGE}"
    with serve_repository(tmp_path) as served:
        subprocess.run([sys.executable, "-m", "depot", "repo", "create-community", SLUG, "--owner",
                        "museum@example.org", "--title", "RBGE herbarium", "--data-dir", str(served.data)],
                       check=True, capture_output=True)
        with httpx.Client(base_url=served.base, timeout=60) as client:
            meta = metadata(title=TITLE, creators=[{"name": "Royal Botanic Garden Edinburgh"}],
                            publication_date="2025-06-01", version="1",
                            description="<p>Herbarium sheet of <em>Eriophorum</em>, digitised at RBGE.</p>"
                                        "<script>document.title = 'owned'</script><p>Held by E.</p>",
                            communities=[{"identifier": SLUG}],
                            custom={"dwc:scientificName": ["Eriophorum angustifolium Honck."],
                                    "dwc:catalogNumber": ["E00001234"], "dwc:occurrenceID": ["urn:catalog:E:E00001234"],
                                    "dwc:decimalLatitude": ["55.965"], "dwc:decimalLongitude": ["-3.209"]})
            v1 = published(client, served.headers, meta, files={"sheet.png": IMAGE.read_bytes()})
            r = client.post(f"/api/deposit/depositions/{v1['id']}/actions/newversion", headers=served.headers)
            draft = client.get(r.json()["links"]["latest_draft"], headers=served.headers).json()
            r = client.put(draft["links"]["self"], headers=served.headers,
                           json={"metadata": {**meta, "version": "2", "publication_date": "2025-07-01"}})
            assert r.status_code == 200, r.text
            r = client.post(draft["links"]["publish"], headers=served.headers)
            assert r.status_code == 202, r.text
            yield served, v1, r.json()


def _text(browser: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(browser.find_element(By.CSS_SELECTOR, css).text)


def _tile_requests(browser: Any, ident: str) -> list[str]:
    """The IIIF image requests the page made for ``ident`` (from the browser's resource timing)."""
    names = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return [n for n in names if f"/api/iiif/{ident}/" in n and not n.endswith("/info.json")]


AXE = REPO_ROOT / "tests" / "data" / "vendor" / "axe-core" / "axe.min.js"


def _serious_violations(browser: Any) -> list[str]:
    """axe-core's serious and critical accessibility violations of the page now shown ("rule: node, ...")."""
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    result = browser.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done(String(e)));")
    assert isinstance(result, list), result
    return [f"{v['id']}: {', '.join(str(n['target']) for n in v['nodes'])}" for v in result
            if v.get("impact") in ("serious", "critical")]


def _count(browser: Any, ident: str) -> int:
    return int(_text(browser, f"#{ident}"))


def test_record_pages_in_a_browser(driver: Any, site: tuple[Served, dict[str, Any], dict[str, Any]]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    served, v1, v2 = site
    md5 = hashlib.md5(IMAGE.read_bytes()).hexdigest()
    driver.get(f"{served.base}/records/{v1['id']}/latest")
    assert driver.current_url == f"{served.base}/records/{v2['id']}"
    assert _text(driver, "#title") == TITLE
    assert driver.title.startswith(TITLE)
    assert md5 in _text(driver, ".md5")
    assert "Royal Botanic Garden Edinburgh" in _text(driver, "#creators")
    assert _text(driver, "#citation") == (f"Royal Botanic Garden Edinburgh (2025). {TITLE} (Version 2). "
                                          f"Depot. https://doi.org/{v2['doi']}")
    assert "Herbarium sheet of Eriophorum" in _text(driver, "#description")
    assert _text(driver, "#description em") == "Eriophorum"  # the description's HTML, rendered
    assert not driver.find_elements(By.CSS_SELECTOR, "#description script")
    assert "Eriophorum angustifolium Honck." in _text(driver, "#darwin-core")
    assert _text(driver, "#license") == "Creative Commons Attribution 4.0 International"
    assert _text(driver, "#occurrence-id") == "urn:catalog:E:E00001234"
    # No tile URL configured: the coordinates and a link, and no map that would call a tile server.
    assert _text(driver, "#coordinates") == "55.9650° N, 3.2090° W"
    assert "openstreetmap.org" in driver.find_element(By.ID, "map-link").get_attribute("href")
    assert not driver.find_elements(By.ID, "map")
    versions = driver.find_elements(By.CSS_SELECTOR, "#versions li")
    assert [v.text.split()[0] for v in versions] == ["2", "1"]
    assert "current" in versions[0].get_attribute("class") and "current" not in versions[1].get_attribute("class")

    # The viewer shows the image from its IIIF tiles.
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return window.depotViewer && window.depotViewer.world.getItemCount() > 0"
        " && window.depotViewer.world.getItemAt(0).getFullyLoaded()"))
    assert _tile_requests(driver, f"record:{v2['id']}:sheet.png")

    # This view counts; the download link adds a download.
    assert (_count(driver, "version-views"), _count(driver, "views"), _count(driver, "downloads")) == (1, 1, 0)
    driver.find_element(By.CSS_SELECTOR, "a.download").click()
    target = driver.downloads_dir / "sheet.png"
    deadline = time.monotonic() + 30
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert hashlib.md5(target.read_bytes()).hexdigest() == md5

    # Version 1 through the versions list: a view of another version adds to the concept's views.
    versions[1].find_element(By.TAG_NAME, "a").click()
    assert driver.current_url == f"{served.base}/records/{v1['id']}"
    assert (_count(driver, "version-views"), _count(driver, "views")) == (1, 2)
    assert (_count(driver, "version-downloads"), _count(driver, "downloads")) == (0, 1)
    # Back to version 2 within 30 s: a double click, so its views stay at 1; its download shows.
    driver.find_element(By.CSS_SELECTOR, "#versions li:first-child a").click()
    assert (_count(driver, "version-views"), _count(driver, "views")) == (1, 2)
    assert (_count(driver, "version-downloads"), _count(driver, "unique-downloads")) == (1, 1)
    stats = httpx.get(f"{served.base}/api/records/{v2['id']}").json()["stats"]
    assert (stats["version_views"], stats["views"], stats["unique_views"], stats["downloads"]) == (1, 2, 1, 1)

    # Search from the header's search box, then follow the hit.
    driver.get(f"{served.base}/search")
    box = driver.find_element(By.NAME, "q")
    box.send_keys("Eriophorum")
    box.submit()
    WebDriverWait(driver, 10).until(lambda d: "q=Eriophorum" in d.current_url)
    assert _text(driver, "#total") == "1 record"
    hits = driver.find_elements(By.CSS_SELECTOR, "a.hit")
    assert [h.text for h in hits] == [TITLE]
    # The hit's text has a space where one paragraph ends and the next begins, and no script.
    assert "digitised at RBGE. Held by E." in _text(driver, "ul.hits li")
    assert "owned" not in _text(driver, "ul.hits li")
    thumb = driver.find_element(By.CSS_SELECTOR, "ul.hits img.thumb")
    assert thumb.get_attribute("src").endswith(f"/api/iiif/record:{v2['id']}:sheet.png/full/%5E!160,160/0/default.jpg")
    assert WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth", thumb)) == 100  # 355 x 568 within 160 x 160
    Select(driver.find_element(By.ID, "sort")).select_by_visible_text("Title")
    driver.find_element(By.CSS_SELECTOR, "form.sort button").click()
    WebDriverWait(driver, 10).until(lambda d: "sort=title" in d.current_url and "q=Eriophorum" in d.current_url)
    hits = driver.find_elements(By.CSS_SELECTOR, "a.hit")
    assert [h.text for h in hits] == [TITLE]
    assert Select(driver.find_element(By.ID, "sort")).first_selected_option.text == "Title"
    assert _serious_violations(driver) == []
    hits = driver.find_elements(By.CSS_SELECTOR, "a.hit")
    hits[0].click()
    assert driver.current_url == f"{served.base}/records/{v2['id']}"

    # The community page lists the record and links its listing.
    driver.get(f"{served.base}/communities/{SLUG}")
    assert _text(driver, "h1") == "RBGE herbarium"
    assert [h.get_attribute("href") for h in driver.find_elements(By.CSS_SELECTOR, "a.hit")] == [
        f"{served.base}/records/{v2['id']}"]
    assert _serious_violations(driver) == []
    listing = httpx.get(driver.find_element(By.ID, "listing-json").get_attribute("href"))
    assert listing.status_code == 200 and [row["doi"] for row in listing.json()] == [v2["doi"]]

    driver.get(f"{served.base}/records/999999")
    assert _text(driver, "h1") == "Not found"


def test_record_page_json_ld_and_errors(site: tuple[Served, dict[str, Any], dict[str, Any]]) -> None:
    served, _, v2 = site
    url = f"{served.base}/records/{v2['id']}"
    page = httpx.get(url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.links["cite-as"]["url"] == f"https://doi.org/{v2['doi']}"
    described = [raw for raw in page.headers["link"].split(", ") if 'rel="describedby"' in raw]
    assert any("/export/json-ld>" in raw and "application/ld+json" in raw for raw in described), described
    assert httpx.get(f"{url}/export/json-ld").json()["@id"] == f"https://doi.org/{v2['doi']}"
    assert 'rel="item"; type="image/png"' in page.headers["link"]
    docs = extruct.extract(page.text, base_url=url, syntaxes=["json-ld"], uniform=True)["json-ld"]
    assert len(docs) == 1
    doc = docs[0]
    types = doc["@type"] if isinstance(doc["@type"], list) else [doc["@type"]]
    assert "Dataset" in types and "Photograph" in types
    doi_url = f"https://doi.org/{v2['doi']}"
    assert doc["@id"] == doi_url and doi_url in str(doc["identifier"])
    assert doc["license"] == "https://creativecommons.org/licenses/by/4.0/legalcode"
    assert doc["name"] == TITLE and doc["url"] == url
    images = doc["image"] if isinstance(doc["image"], list) else [doc["image"]]
    content = f"{served.base}/api/records/{v2['id']}/files/sheet.png/content"
    assert images == [content] and doc["contentUrl"] == content
    assert httpx.get(content).content == IMAGE.read_bytes()
    thumbnail = httpx.get(doc["thumbnailUrl"])
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"

    # Scripts (python-httpx here) are robots to COUNTER: none of the fetches above counted.
    stats = httpx.get(f"{served.base}/api/records/{v2['id']}").json()["stats"]
    assert stats["views"] == 0 and stats["downloads"] == 0

    for missing in ("/records/999999", "/records/abc", "/records/999999/latest", "/communities/nope"):
        r = httpx.get(served.base + missing)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), missing
        assert "Not found" in r.text
    draft = httpx.post(f"{served.base}/api/deposit/depositions", json={"metadata": metadata()},
                       headers=served.headers).json()
    assert httpx.get(f"{served.base}/records/{draft['id']}").status_code == 404  # unpublished


def test_large_image_preview_is_confined_to_800(tmp_path: Path) -> None:
    import io

    from PIL import Image
    from starlette.testclient import TestClient

    from depot.repository.app import create_app
    from depot.repository.config import RepositoryConfig

    from conftest import CORPUS

    sheet = CORPUS / "icedig-benchmark-BR0000008525000" / "BR0000008525000.jpg"
    assert sheet.exists(), f"corpus image missing: {sheet} (it ships in tests/data/corpus)"
    app = create_app(RepositoryConfig(data_dir=tmp_path, base_url="http://testserver", user_limit_per_minute=0,
                                      user_limit_per_hour=0, search_limit_per_minute=0, fsync=False))
    token = app.context.accounts.create_token("p@example.org", "2026-01-01T00:00:00+00:00")  # type: ignore[attr-defined]
    with TestClient(app, base_url="http://testserver") as client:
        rec = published(client, {"Authorization": f"Bearer {token}"}, metadata(),
                        files={"BR0000008525000.jpg": sheet.read_bytes()})
        page = client.get(f"/records/{rec['id']}").text
        src = f"/api/iiif/record:{rec['id']}:BR0000008525000.jpg/full/!800,800/0/default.jpg"
        assert f'src="{src}"' in page
        preview = client.get(src)
        assert preview.status_code == 200
        assert Image.open(io.BytesIO(preview.content)).size == (567, 800)  # 7319 x 10319 confined to 800 x 800


def _scales(urls: list[str]) -> set[float]:
    """Scale factors of the tiles requested (region width / output width); a deeper zoom asks for smaller ones."""
    scales = set()
    for url in urls:
        region, size = url.split("/api/iiif/", 1)[1].split("/")[1:3]
        if region.count(",") == 3 and size.split(",")[0].isdigit():
            scales.add(round(int(region.split(",")[2]) / int(size.split(",")[0]), 1))
    return scales


def _fully_loaded(browser: Any) -> bool:
    return bool(browser.execute_script("var v = window.depotViewer; return v && v.world.getItemCount() > 0"
                                       " && v.world.getItemAt(0).getFullyLoaded()"))


def test_viewer_map_citations_and_screenshots(driver: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A two-image record with a map (tiles from a configured URL): deep zoom, file chooser, map tiles, a
    citation style and the page at desktop and phone widths (screenshots in DEPOT_SCREENSHOT_DIR if set)."""
    import io
    import os

    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    big = io.BytesIO()
    Image.linear_gradient("L").resize((2400, 3200)).convert("RGB").save(big, "JPEG", quality=70)
    # Leaflet fetches its tiles from the configured template; here the server's own PNG stands in for a tile.
    monkeypatch.setenv("DEPOT_MAP_TILE_URL", "/static/vendor/leaflet/images/layers.png?z={z}&x={x}&y={y}")
    monkeypatch.setenv("DEPOT_MAP_TILE_ATTRIBUTION", "Test tiles")
    with serve_repository(tmp_path) as served, httpx.Client(base_url=served.base, timeout=60) as client:
        meta = metadata(title=TITLE, creators=[{"name": "Royal Botanic Garden Edinburgh"}],
                        publication_date="2025-06-01", description="Line one\nline two",
                        custom={"dwc:decimalLatitude": ["55.965"], "dwc:decimalLongitude": ["-3.209"],
                                "dwc:eventDate": ["1959-07-09/1959-07-09"]})
        rec = published(client, served.headers, meta,
                        files={"big.jpg": big.getvalue(), "sheet.png": IMAGE.read_bytes()})
        manifest = client.get(f"/api/iiif/record:{rec['id']}/manifest")
        assert manifest.status_code == 200, manifest.text
        from iiif_prezi3 import Manifest

        Manifest(**manifest.json())  # valid Presentation 3
        assert [c["label"]["none"][0] for c in manifest.json()["items"]] == ["big.jpg", "sheet.png"]

        driver.get(f"{served.base}/records/{rec['id']}")
        assert driver.find_element(By.ID, "manifest-link").get_attribute("href") == manifest.url
        assert "1959-07-09/" not in _text(driver, "#darwin-core") and "1959-07-09" in _text(driver, "#darwin-core")
        assert driver.find_element(By.CSS_SELECTOR, "#description br")  # the line break kept
        WebDriverWait(driver, 60).until(_fully_loaded)
        first = _tile_requests(driver, f"record:{rec['id']}:big.jpg")
        assert first, "no IIIF tiles were requested for the first image"
        driver.execute_script("var v = window.depotViewer.viewport; v.zoomTo(v.getMaxZoom()); v.applyConstraints();")
        WebDriverWait(driver, 60).until(
            lambda d: len(_tile_requests(d, f"record:{rec['id']}:big.jpg")) > len(first) and _fully_loaded(d))
        deeper = _tile_requests(driver, f"record:{rec['id']}:big.jpg")[len(first):]
        assert min(_scales(deeper)) < min(_scales(first)), (first, deeper)

        # The file chooser turns to the second image.
        Select(driver.find_element(By.ID, "image-chooser")).select_by_visible_text("sheet.png")
        WebDriverWait(driver, 30).until(lambda d: _text(d, "#viewer-key") == "sheet.png" and _fully_loaded(d))
        assert _tile_requests(driver, f"record:{rec['id']}:sheet.png")

        # The map loads its tiles from the configured URL.
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#map img.leaflet-tile-loaded"))
        assert "Test tiles" in _text(driver, "#map")

        # A citation style from the menu.
        Select(driver.find_element(By.ID, "citation-style")).select_by_visible_text("APA")
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "citation").get_attribute("data-style"))
        assert "(2025)" in _text(driver, "#citation") and "[Graphic]" in _text(driver, "#citation")
        assert "@misc{" in driver.find_element(By.ID, "bibtex-text").get_attribute("textContent")

        shots = Path(os.environ.get("DEPOT_SCREENSHOT_DIR") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        for name, width in (("desktop", 1280), ("phone", 390)):
            driver.set_window_size(width, 900)
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(width, min(int(height) + 400, 6000))  # + the window frame
            driver.execute_script("window.scrollTo(0, 0); window.depotViewer.goToPage(0);")
            WebDriverWait(driver, 30).until(_fully_loaded)
            assert driver.save_screenshot(str(shots / f"record-{name}.png"))
            overflow = driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth")
            assert not overflow, f"the {name} page scrolls sideways"
            assert _serious_violations(driver) == [], name


def test_descriptions_are_cleaned_when_saved_and_when_shown(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from depot.repository.app import create_app
    from depot.repository.config import RepositoryConfig

    app = create_app(RepositoryConfig(data_dir=tmp_path, base_url="http://testserver", user_limit_per_minute=0,
                                      user_limit_per_hour=0, search_limit_per_minute=0, fsync=False))
    token = app.context.accounts.create_token("p@example.org", "2026-01-01T00:00:00+00:00")  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {token}"}
    hostile = ('<p onclick="steal()">Sheet of <em>Carex</em> &amp; co.</p><script>steal()</script>'
               '<a href="javascript:steal()">x</a><img src=x onerror="steal()">')
    with TestClient(app, base_url="http://testserver") as client:
        rec = published(client, headers, metadata(description=hostile), files={"sheet.png": IMAGE.read_bytes()})
        stored = client.get(f"/api/records/{rec['id']}").json()["metadata"]["description"]
        assert stored == "<p>Sheet of <em>Carex</em> &amp; co.</p><a>x</a>"
        page = client.get(f"/records/{rec['id']}").text
        section = page.split('<section id="description">', 1)[1].split("</section>", 1)[0]
        assert section == stored and "steal" not in page

        # Plain text keeps its paragraphs and line breaks; "<" and "&" in it stay text.
        plain = published(client, headers, metadata(description="Label: a < b & c\nDet. 1959\n\nSecond paragraph"))
        page = client.get(f"/records/{plain['id']}").text
        section = page.split('<section id="description">', 1)[1].split("</section>", 1)[0]
        assert section == "<p>Label: a &lt; b &amp; c<br>Det. 1959</p><p>Second paragraph</p>"

        # A record without images has no manifest; one with images has, linked from its JSON-LD.
        assert client.get(f"/api/iiif/record:{plain['id']}/manifest").status_code == 404
        assert client.get("/api/iiif/nonsense/manifest").status_code == 404
        manifest = client.get(f"/api/iiif/record:{rec['id']}/manifest")
        assert manifest.headers["content-type"].startswith("application/ld+json")
        assert manifest.headers["access-control-allow-origin"] == "*"
        doc = extruct.extract(client.get(f"/records/{rec['id']}").text,
                              syntaxes=["json-ld"], uniform=True)["json-ld"][0]
        assert doc["subjectOf"][0]["url"] == f"http://testserver/api/iiif/record:{rec['id']}/manifest"

        # Citation styles on demand, and an unknown style named in a 400.
        apa = client.get(f"/records/{rec['id']}/citation?style=apa")
        assert apa.status_code == 200 and "<i>" in apa.text
        bad = client.get(f"/records/{rec['id']}/citation?style=mla")
        assert bad.status_code == 400 and "apa" in bad.text
        assert client.get("/records/999999/citation?style=apa").status_code == 404
        assert client.get("/static/vendor/openseadragon/LICENSE.txt").status_code == 200
        # Only files under the package's static folder, and only the kinds it serves.
        assert client.get("/static/vendor%2F..%2F..%2Ftemplates%2Fbase.html").status_code == 404
        assert client.get("/static/vendor/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fhostname").status_code == 404


def _png(width: int, height: int, colour: str) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def test_community_logo_is_checked(tmp_path: Path) -> None:
    """The logo is a raster image of at most 512 kB; anything else is refused with the flag to fix."""
    data = tmp_path / "data"

    def create(slug: str, logo: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "depot", "repo", "create-community", slug, "--owner",
                               "m@example.org", "--logo", str(logo), "--data-dir", str(data)],
                              capture_output=True, text=True)

    svg = tmp_path / "logo.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    r = create("svg", svg)
    assert r.returncode == 1 and f"--logo {svg}: not a PNG, JPEG, GIF or WebP image" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png(10, 10, "red") + b"\0" * 600_000)
    r = create("huge", huge)
    assert r.returncode == 1 and f"--logo {huge}: " in r.stderr and "at most 524288 bytes" in r.stderr, r.stderr
    good = tmp_path / "logo.png"
    good.write_bytes(_png(64, 32, "navy"))
    assert create("good", good).returncode == 0


def test_search_and_community_pages_in_a_browser(driver: Any, tmp_path: Path) -> None:
    """Facets filter the search and community pages (the same filter as the API's), paging, the community's
    description, logo and count; screenshots at desktop and phone widths, and no serious axe violations."""
    import os

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    logo = tmp_path / "logo.png"
    logo.write_bytes(_png(120, 60, "#2a6"))
    with serve_repository(tmp_path) as served, httpx.Client(base_url=served.base, timeout=60) as client:
        r = subprocess.run([sys.executable, "-m", "depot", "repo", "create-community", SLUG, "--owner",
                            "museum@example.org", "--title", "RBGE herbarium", "--logo", str(logo),
                            "--description", "<p>Sheets of the <em>Edinburgh</em> herbarium.</p><script>x()</script>",
                            "--data-dir", str(served.data)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        community = [{"identifier": SLUG}]
        for title, keywords, kind in (("Carex bigelowii", ["Herbarium", "Sedges"], "image"),
                                      ("Eriophorum vaginatum", ["Herbarium"], "image"),
                                      ("Sedge survey 1959", ["Sedges"], "dataset")):
            files = {"sheet.png": IMAGE.read_bytes()} if kind == "image" else {"survey.csv": b"a,b\n1,2\n"}
            published(client, served.headers, metadata(title=title, keywords=keywords, upload_type=kind,
                                                       communities=community), files=files)

        driver.get(f"{served.base}/search?sort=title")
        assert _text(driver, "#total") == "3 records"
        subjects = driver.find_elements(By.CSS_SELECTOR, "ul[data-facet=subject] > li > a")
        assert [a.find_element(By.CSS_SELECTOR, ".name").text for a in subjects] == ["Herbarium", "Sedges"]
        sedges = next(a for a in subjects if "Sedges" in a.text)
        assert sedges.find_element(By.CSS_SELECTOR, ".count").text == "2"
        sedges.click()
        WebDriverWait(driver, 10).until(lambda d: "f=subject%3ASedges" in d.current_url)
        assert _text(driver, "#total") == "2 records"
        assert [a.text for a in driver.find_elements(By.CSS_SELECTOR, "a.hit")] == ["Carex bigelowii",
                                                                                    "Sedge survey 1959"]
        # The same filter in the API.
        api = httpx.get(f"{served.base}/api/records", params={"f": "subject:Sedges", "sort": "title"}).json()
        assert [h["metadata"]["title"] for h in api["hits"]["hits"]] == ["Carex bigelowii", "Sedge survey 1959"]
        selected = driver.find_element(By.CSS_SELECTOR, "ul[data-facet=subject] a.selected")
        assert "Sedges" in selected.text
        # A second facet narrows further; the sort keeps both.
        driver.find_element(By.XPATH, "//ul[@data-facet='resource_type']/li/a[contains(., 'Dataset')]").click()
        WebDriverWait(driver, 10).until(lambda d: "resource_type%3Adataset" in d.current_url)
        assert [a.text for a in driver.find_elements(By.CSS_SELECTOR, "a.hit")] == ["Sedge survey 1959"]
        assert driver.find_element(By.CSS_SELECTOR, "form.sort input[name=f]")
        # Clearing the first filter (its link again) leaves the second.
        driver.find_element(By.CSS_SELECTOR, "ul[data-facet=subject] a.selected").click()
        WebDriverWait(driver, 10).until(lambda d: "subject" not in d.current_url)
        assert _text(driver, "#total") == "1 record"

        # Paging: two a page.
        driver.get(f"{served.base}/search?sort=title&size=2")
        assert "page 1 of 2" in _text(driver, "nav.pages")
        driver.find_element(By.CSS_SELECTOR, "nav.pages a[rel=next]").click()
        WebDriverWait(driver, 10).until(lambda d: "page=2" in d.current_url)
        assert [a.text for a in driver.find_elements(By.CSS_SELECTOR, "a.hit")] == ["Sedge survey 1959"]

        # The community page: description (cleaned), logo, count, and its facets.
        driver.get(f"{served.base}/communities/{SLUG}")
        assert _text(driver, "#description") == "Sheets of the Edinburgh herbarium."
        assert driver.find_element(By.CSS_SELECTOR, "#description em")
        assert not driver.find_elements(By.CSS_SELECTOR, "#description script")
        img = driver.find_element(By.ID, "logo")
        assert WebDriverWait(driver, 30).until(lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", img)) == 120
        assert _text(driver, "#count") == "3 records"
        logo_response = httpx.get(img.get_attribute("src"))
        assert logo_response.headers["content-type"] == "image/png"
        assert logo_response.content == logo.read_bytes()
        listed = httpx.get(f"{served.base}/api/communities").json()["hits"]["hits"]
        assert listed[0]["links"]["logo"] == f"/communities/{SLUG}/logo"
        driver.find_element(By.XPATH, "//ul[@data-facet='file_type']/li/a[contains(., 'CSV')]").click()
        WebDriverWait(driver, 10).until(lambda d: "file_type%3Acsv" in d.current_url)
        assert _text(driver, "#total") == "1 record match the filters" and _text(driver, "#count") == "3 records"

        shots = Path(os.environ.get("DEPOT_SCREENSHOT_DIR") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        for page, url in (("search", f"{served.base}/search?f=subject:Herbarium"),
                          ("community", f"{served.base}/communities/{SLUG}")):
            for name, width in (("desktop", 1280), ("phone", 390)):
                driver.set_window_size(width, 900)
                driver.get(url)
                height = driver.execute_script("return document.documentElement.scrollHeight")
                driver.set_window_size(width, min(int(height) + 200, 6000))
                WebDriverWait(driver, 30).until(lambda d: d.execute_script(
                    "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"))
                assert driver.save_screenshot(str(shots / f"{page}-{name}.png"))
                overflow = driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth")
                assert not overflow, f"the {page} page at {name} width scrolls sideways"
                assert _serious_violations(driver) == [], (page, name)
