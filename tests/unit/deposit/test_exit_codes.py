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
