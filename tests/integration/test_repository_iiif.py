"""IIIF Image API 3.0 on a real 75-megapixel herbarium sheet from the corpus."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from depot.repository.app import create_app
from depot.repository.config import RepositoryConfig
from depot.repository.iiif.params import IIIFError, resolve

from conftest import CORPUS

SHEET = CORPUS / "icedig-benchmark-BR0000008525000" / "BR0000008525000.jpg"


@pytest.mark.parametrize("args, expected", [
    (("full", "max", "0", "default.jpg"), (0, 0, 7319, 10319, 7319, 10319)),
    (("0,0,512,512", "256,", "0", "default.png"), (0, 0, 512, 512, 256, 256)),
    (("pct:50,50,50,50", "!100,100", "90", "gray.jpg"), (3660, 5160, 3659, 5159, 70, 100)),
    (("square", "pct:10", "0", "color.webp"), (0, 1500, 7319, 7319, 732, 732)),
    (("7000,10000,1000,1000", "max", "0", "default.jpg"), (7000, 10000, 319, 319, 319, 319)),
])
def test_resolve(args: tuple[str, str, str, str], expected: tuple[int, ...]) -> None:
    op = resolve(*args, 7319, 10319)
    assert (op.x, op.y, op.w, op.h, op.out_w, op.out_h) == expected


def test_upscaling_to_max_stays_within_max_area() -> None:
    op = resolve("7000,10000,1000,1000", "^max", "0", "default.jpg", 7319, 10319, max_area=1_000_000)
    assert op.out_w == op.out_h and op.out_w > 319 and op.out_w * op.out_h <= 1_000_000


@pytest.mark.parametrize("args, status", [
    (("0,0,0,10", "max", "0", "default.jpg"), 400), (("9000,0,10,10", "max", "0", "default.jpg"), 400),
    (("full", "20000,", "0", "default.jpg"), 400), (("full", "max", "45", "default.jpg"), 501),
    (("full", "max", "0", "sepia.jpg"), 400), (("full", "max", "0", "default.bmp"), 400),
    (("full", "max", "0", "default.jp2"), 501),
    (("full", "pct:0", "0", "default.jpg"), 400), (("full", ",", "0", "default.jpg"), 400),
])
def test_resolve_errors(args: tuple[str, str, str, str], status: int) -> None:
    with pytest.raises(IIIFError) as exc:
        resolve(*args, 7319, 10319)
    assert exc.value.status == status


@pytest.fixture
def published_sheet(tmp_path: Path) -> tuple[TestClient, int]:
    assert SHEET.exists(), f"corpus image missing: {SHEET} (it ships in tests/data/corpus)"
    app = create_app(RepositoryConfig(data_dir=tmp_path, base_url="http://testserver", user_limit_per_minute=0,
                                      user_limit_per_hour=0, search_limit_per_minute=0))
    token = app.context.accounts.create_token("i@example.org", "2026-01-01T00:00:00+00:00")  # type: ignore[attr-defined]
    client = TestClient(app, base_url="http://testserver")
    h = {"Authorization": f"Bearer {token}"}
    meta = {"title": "Herbarium sheet BR0000008525000", "upload_type": "image", "image_type": "photo",
            "creators": [{"name": "Meise Botanic Garden"}], "description": "ICEDIG benchmark sheet."}
    dep = client.post("/api/deposit/depositions", json={"metadata": meta}, headers=h).json()
    shutil.copy(SHEET, tmp_path / "sheet.jpg")
    r = client.put(f"{dep['links']['bucket']}/BR0000008525000.jpg", content=(tmp_path / "sheet.jpg").read_bytes(),
                   headers={**h, "Content-Type": "application/octet-stream"})
    assert r.status_code == 201
    assert client.post(dep["links"]["publish"], headers=h).status_code == 202
    return client, dep["id"]


def test_info_and_tiles(published_sheet: tuple[TestClient, int]) -> None:
    from PIL import Image

    client, recid = published_sheet
    base = f"/api/iiif/record:{recid}:BR0000008525000.jpg"
    info = client.get(base + "/info.json").json()
    assert (info["width"], info["height"]) == (7319, 10319) and info["profile"] == "level2"
    assert info["id"].endswith(f"record:{recid}:BR0000008525000.jpg")
    r = client.get(base + "/1024,2048,512,512/256,/0/default.jpg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (256, 256)
    r = client.get(base + "/full/!300,300/90/gray.png")
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (300, 212) and img.mode in {"L", "LA"}
    assert client.get(base + "/full/max/45/default.jpg").status_code == 501
    assert client.get(f"/api/iiif/record:{recid}:nope.jpg/info.json").status_code == 404
    assert client.get(base, follow_redirects=False).status_code == 303
