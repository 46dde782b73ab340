"""A real deposit into `depot serve --faults` (the 2019 pilot's mix, raised), watched through
`depot -v run --progress json`, then `depot report --html` opened in headless Chromium: the page
loads with no network request, its plots render, and its tables agree with the ledger."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from depot.deposit.commands.demo import stage

from conftest import CHROMEDRIVER, CHROMIUM, require_browser, start_server

SHOTS = os.environ.get("DEPOT_SCREENSHOT_DIR")  # set it to keep the screenshots where you can look at them


def fault_profile(folder: Path) -> Path:
    """The pilot's mix 40 times as often, with a short 404 outage (the 2019 database incident) early on."""
    text = (files("depot.repository.faults") / "profiles" / "zenodo-2019.toml").read_text(encoding="utf-8")
    text = text.replace("scale = 1.0", "scale = 40.0").replace("start = 30.0", "start = 1.0")
    text = text.replace("duration = 10.0", "duration = 0.5")
    path = folder / "faults.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def deposited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """24 TROM specimens deposited under faults with -v --progress json: the ledger and what was printed."""
    tmp = tmp_path_factory.mktemp("deposit")
    data = tmp / "repo"
    data.mkdir()
    proc, base = start_server(data, None, "--rate-limit", "0", "--search-rate-limit", "0", "--faults",
                              str(fault_profile(tmp)))
    try:
        token = subprocess.run([sys.executable, "-m", "depot", "repo", "create-token", "museum@example.org",
                                "--data-dir", str(data)], capture_output=True, text=True, check=True).stdout.strip()
        env = {**os.environ, "DEPOT_TOKEN": token, "DEPOT_LEDGER": str(tmp / "ledger.sqlite3")}
        archive, images = stage(tmp)
        # Off a terminal (stderr is a pipe here), the default display prints timestamped stats lines.
        text = subprocess.run(
            [sys.executable, "-m", "depot", "run", str(archive), "--images", str(images), "--path-template",
             "{images}/{catalogNumber}.png", "--var", "institution=The Arctic University Museum of Norway",
             "--target", f"{base}/api", "--limit", "4", "--stats", "0.1s", "--ledger", str(tmp / "text.sqlite3")],
            env=env, capture_output=True, text=True, timeout=240)
        result = subprocess.run(
            [sys.executable, "-m", "depot", "-v", "run", str(archive), "--images", str(images), "--path-template",
             "{images}/{catalogNumber}.png", "--var", "institution=The Arctic University Museum of Norway",
             "--target", f"{base}/api", "--transfers", "4", "--attempts", "1", "--retries", "0",
             "--allow-duplicates",  # the run above deposited the first 4 with another ledger
             "--low-level-retries", "1", "--progress", "json", "--stats", "0.2s"],
            env=env, capture_output=True, text=True, timeout=240)
        assert result.returncode in (0, 1), result.stderr  # 1: some records failed, as they should here
        status = json.loads(subprocess.run([sys.executable, "-m", "depot", "status", "--json"], env=env,
                                           capture_output=True, text=True, check=True).stdout)
        yield {"tmp": tmp, "env": env, "stderr": result.stderr, "status": status, "ledger": tmp / "ledger.sqlite3",
               "text": text}
    finally:
        proc.terminate()
        proc.wait(10)


def events(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_json_progress_has_an_event_per_record_at_verbose(deposited: dict[str, Any]) -> None:
    got = events(deposited["stderr"])
    progress = [e for e in got if e["event"] == "progress"]
    records = [e for e in got if e["event"] == "record"]
    states = deposited["status"]["states"]
    assert len(progress) >= 2 and progress[-1]["published"] == states.get("published", 0)
    assert [e["elapsed_s"] for e in progress] == sorted(e["elapsed_s"] for e in progress)
    assert len({e["key"] for e in records if e["state"] == "published"}) == states.get("published", 0)
    assert len({e["key"] for e in records if e["state"] == "failed"}) == states.get("failed", 0)
    assert deposited["status"]["errors_by_status"], "the fault profile should have caused errors"
    assert sum(progress[-1]["errors"].values()) == sum(deposited["status"]["errors_by_status"].values())


def test_off_a_terminal_stats_lines_are_printed_as_the_run_goes(deposited: dict[str, Any]) -> None:
    text = deposited["text"]
    assert text.returncode in (0, 1), text.stderr
    stats = [line for line in text.stderr.splitlines()
             if re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 \d+/4\+? published, \d+ failed \|", line)]
    assert stats and stats[0].split()[1] in ("0/4", "0/4+"), text.stderr  # the first comes before any record is done
    assert "\x1b[" not in text.stderr  # no terminal control codes in a log file


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1100,1400"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # every network event, to count them
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(60)
    try:
        yield browser
    finally:
        browser.quit()


def test_html_report_in_a_browser(deposited: dict[str, Any], driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    page = tmp_path / "report.html"
    result = subprocess.run([sys.executable, "-m", "depot", "report", "--html", str(page)], env=deposited["env"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "<link" not in html and " src=" not in html  # nothing to fetch
    driver.get(page.as_uri())
    # Network: the file itself is the only request the browser made.
    sent = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in sent if m["method"] == "Network.requestWillBeSent"]
    assert urls == [page.as_uri()], urls
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    # The three plots render: each SVG is laid out with a real size and holds drawn paths.
    svgs = driver.find_elements(By.CSS_SELECTOR, ".plot svg")
    assert len(svgs) == 3
    for svg in svgs:
        box = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", svg)
        assert box[0] > 500 and box[1] > 150, box
        assert len(svg.find_elements(By.CSS_SELECTOR, "path")) > 20
    # The tables say what the ledger says.
    status = deposited["status"]
    doi_rows = driver.find_elements(By.CSS_SELECTOR, "#doi-list tr")[1:]
    assert len(doi_rows) == status["states"].get("published", 0)
    assert all(r.find_element(By.TAG_NAME, "a").get_attribute("href").startswith("https://doi.org/10.5072/")
               for r in doi_rows)
    cells = [[td.text for td in r.find_elements(By.TAG_NAME, "td")]
             for r in driver.find_elements(By.CSS_SELECTOR, "#errors-by-status tr")[1:-1]]
    table = {c[0]: int(c[1].replace(",", "")) for c in cells}
    assert table == status["errors_by_status"]
    failed = {r.find_elements(By.TAG_NAME, "td")[0].text for r in driver.find_elements(By.CSS_SELECTOR,
                                                                                       "#problem-list tr")[1:]}
    assert {f["key"] for f in status["failures"]} <= failed and len(failed) == status["states"].get("failed", 0)
    assert status["states"].get("failed"), "with --attempts 1 under this fault mix some records fail"
    # Screenshots: the first screen, and the whole page.
    shots = Path(SHOTS) if SHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(shots / "report.png"))
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1100, min(int(height) + 100, 8000))
    assert driver.save_screenshot(str(shots / "report-full.png"))
    assert (shots / "report-full.png").stat().st_size > 20_000


def test_html_report_of_an_empty_ledger_and_a_bad_path(deposited: dict[str, Any], tmp_path: Path) -> None:
    env = {**deposited["env"], "DEPOT_LEDGER": str(tmp_path / "empty.sqlite3")}
    page = tmp_path / "empty.html"
    result = subprocess.run([sys.executable, "-m", "depot", "report", "--html", str(page)], env=env,
                            capture_output=True, text=True, timeout=120)
    if result.returncode == 0:  # an empty ledger: a page that says so (or a refusal, once report stops creating one)
        assert "Nothing recorded yet" in page.read_text(encoding="utf-8")
    else:
        assert "Traceback" not in result.stderr
    bad = subprocess.run([sys.executable, "-m", "depot", "report", "--html", str(tmp_path / "no" / "dir" / "r.html")],
                         env=deposited["env"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--html" in bad.stderr and "Traceback" not in bad.stderr
