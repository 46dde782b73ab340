""""No space left on device" told apart: inodes or bytes, in one log line instead of a traceback per bag."""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import Any

import pytest

from depot.repository.jobs.inprocess import _brief
from depot.repository.store import space


def test_inodes_run_out_while_the_space_is_mostly_free() -> None:
    # The bench's file system: ext4's default inodes, 40 GB, 77 % free when the bags failed.
    said = space.explain(30_800_000_000, 40_000_000_000, 0, 2_621_440)
    assert said.startswith("out of inodes (0 free of 2,621,440) while 77 % of the space is free")
    assert "mkfs.ext4 -i 4096" in said


def test_bytes_run_out() -> None:
    said = space.explain(1_000_000, 40_000_000_000, 2_000_000, 2_621_440)
    assert said.startswith("out of space (0.0 GB free of 40.0 GB)")
    assert space.explain(0, 40_000_000_000, 0, 0).startswith("out of space")  # no fixed inode count (btrfs)


def test_the_figures_of_a_real_file_system(tmp_path: Path) -> None:
    said = space.explain_at(tmp_path / "not" / "made" / "yet")  # the nearest existing folder's
    assert said.startswith("out of ") and "free" in said


def test_a_full_disk_is_one_line_naming_what_ran_out(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from depot.repository.app import build_context
    from depot.repository.config import RepositoryConfig
    from depot.repository.preservation.service import of

    ctx = build_context(RepositoryConfig(data_dir=tmp_path / "repo", fixity_cycle=False))
    bags = of(ctx).bags  # type: ignore[union-attr]
    assert bags is not None

    def full(recid: int, state: Any = None) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(bags.root / "7" / "record.json"))

    monkeypatch.setattr(bags, "write", full)
    try:
        with caplog.at_level(logging.ERROR, logger="depot.repository.bags"), pytest.raises(OSError):
            bags.write_counted(7)
        (line,) = [r for r in caplog.records if "record 7" in r.getMessage()]
        assert line.exc_info is None and "out of " in line.getMessage() and "mkfs.ext4" in line.getMessage()
    finally:
        ctx.jobs.stop()
        bags.close()
        ctx.deposits.db.dispose()


def test_a_jobs_arguments_are_cut_short_in_a_log_line() -> None:
    state = {"recid": 3, "state": {"aip": "x" * 5000}}
    assert _brief(state).endswith(f"... ({len(repr(state)):,} characters)") and len(_brief(state)) < 240
    assert _brief({"recid": 3}) == "{'recid': 3}"
