"""No command ends in a traceback: an unexpected error is one line, exit 7 and a log file with the traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from depot.deposit.cli import run_with_exit_codes
from depot.deposit.errors import ExitCode


def boom() -> int:
    raise RuntimeError("something nobody planned for\nsecond line")


def test_unexpected_error_gives_one_line_exit_internal_and_a_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        run_with_exit_codes(boom)
    assert stop.value.code == ExitCode.INTERNAL == 7
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "RuntimeError: something nobody planned for" in err
    (log,) = tmp_path.glob("depot-error-*.log")
    assert str(log) in err
    text = log.read_text(encoding="utf-8")
    assert "Traceback" in text and "def boom" not in err and "in boom" in text


def test_unwritable_folder_falls_back_to_the_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("depot.deposit.cli.tempfile_dir", lambda: str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(SystemExit) as stop:
            run_with_exit_codes(boom)
    finally:
        tmp_path.chmod(0o700)
    assert stop.value.code == ExitCode.INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" not in err.splitlines()[0]
    if list(tmp_path.glob("depot-error-*.log")):  # root may write anywhere: then the first choice worked
        return
    (log,) = (tmp_path / "tmp").glob("depot-error-*.log")
    assert str(log) in err


def test_a_closed_pipe_ends_the_report_quietly(tmp_path: Path) -> None:
    """`depot report | head -1`: the reader goes away; no 'unexpected error', no log, exit 0."""
    import subprocess
    import sys
    from datetime import UTC, datetime

    from depot.deposit.ledger import Ledger
    from depot.deposit.ledger.tables import specimens

    ledger = Ledger.open(tmp_path / "ledger.sqlite3")
    now = datetime.now(UTC).isoformat()
    with ledger.engine.begin() as conn:  # enough rows to fill the pipe's buffer many times over
        conn.execute(specimens.insert(), [
            {"key": f"urn:catalog:PIPE:{i}", "seq": i + 1, "state": "planned", "metadata": {}, "metadata_hash": "x",
             "fingerprint": "x", "created_at": now, "updated_at": now} for i in range(5000)])
    ledger.close()
    proc = subprocess.Popen([sys.executable, "-m", "depot", "report", "--ledger", str(tmp_path / "ledger.sqlite3"),
                             "--format", "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    assert proc.stdout is not None and proc.stdout.readline().startswith(b"key,state,doi")
    proc.stdout.close()  # as `head -1` does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert b"unexpected error" not in err and b"Traceback" not in err
    assert not list(tmp_path.glob("depot-error-*.log"))
