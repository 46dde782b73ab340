"""Every bench registered in bench/__main__.py runs once at its smoke size, as a user would run it
(``python -m bench NAME --smoke`` from the repository root), so that none can rot unnoticed.

Marked ``bench`` (about 2-4 minutes in all on 2 idle cores): ``pytest -m "not bench"`` leaves them out
locally; ``make test`` and .ci/run run them. Each bench must exit 0, print its figures, skip nothing
(the corpus sheet ships with the tests) and leave no temporary folder behind (the harness stops every
server it started before removing its data). Under DEPOT_REQUIRE_SERVICES=1 the yardstick
(../shared/yardstick, or DEPOT_YARDSTICK) must be found, as the repository and deposit benches report
their speed against it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_SERVICES = os.environ.get("DEPOT_REQUIRE_SERVICES") == "1"


def registered() -> list[str]:
    """The benches' names, from the registry itself (the bench package is not installed, so by path)."""
    spec = importlib.util.spec_from_file_location("bench_registry", ROOT / "bench" / "__main__.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.BENCHES)


@pytest.mark.bench
@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", registered())
def test_bench_runs_at_smoke_size(name: str, tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # what the bench leaves behind lands here
    env.pop("DEPOT_BENCH_SMOKE", None)  # the flag alone must be enough
    result = subprocess.run([sys.executable, "-m", "bench", name, "--smoke"], cwd=ROOT, capture_output=True,
                            text=True, env=env, timeout=230)
    said = f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    assert result.returncode == 0, said
    assert "Traceback" not in result.stderr, said
    figures = [line for line in result.stdout.splitlines() if re.search(r"\d", line)]
    assert len(figures) >= 2, f"no figures printed: {said}"
    assert "skipped" not in result.stdout, said
    if REQUIRE_SERVICES:
        assert "no yardstick" not in result.stdout, said
    assert not list(tmp_path.iterdir()), f"left behind: {sorted(p.name for p in tmp_path.iterdir())}"
