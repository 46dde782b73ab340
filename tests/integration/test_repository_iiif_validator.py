"""The IIIF community's own validator (iiif-validator 1.0.5) against a real `depot serve`, at the level
info.json claims (level 2, Image API 3.0).

The validator samples the colours of its official test image, a 1,000 x 1,000 grid of 100 px squares. The
package does not ship that image (research/standards.md §4), so the test draws it from the validator's own
colour table and deposits it as a published record's file.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
from PIL import Image

from contract.payloads import published

from conftest import serve_repository


def validation_image() -> bytes:
    from iiif_validator.validator import ValidationInfo

    colours = ValidationInfo().colorInfo  # colours[x][y]: the square at column x, row y
    img = Image.new("RGB", (1000, 1000))
    for x, column in enumerate(colours):
        for y, colour in enumerate(column):
            img.paste(tuple(colour), (x * 100, y * 100, x * 100 + 100, y * 100 + 100))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def test_iiif_validator_passes_every_level_2_test(tmp_path: Path) -> None:
    script = shutil.which("iiif-validate.py", path=str(Path(sys.executable).parent))
    assert script is not None, "iiif-validator is a dev dependency: pip install -e '.[dev]'"
    with serve_repository(tmp_path) as repo, httpx.Client(base_url=repo.base, timeout=30) as client:
        record = published(client, repo.headers, files={"grid.png": validation_image()})
        ident = f"record:{record['id']}:grid.png"
        info = client.get(f"/api/iiif/{ident}/info.json").json()
        assert info["profile"] == "level2"
        server = repo.base.removeprefix("http://")
        result = subprocess.run([sys.executable, script, "-s", server, "-p", "api/iiif", "-i", ident,
                                 "--version=3.0", "--level=2"], capture_output=True, text=True, timeout=300)
    # The validator exits with the number of failed tests and ends with "Done (N tests, F failures)".
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Done (33 tests, 0 failures)" in output, output[-4000:]
