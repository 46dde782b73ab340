"""FileChecker: worker processes, input order, bounded look-ahead, a crashing file; FileCheckCache in the
ledger (SQLite and PostgreSQL): a rerun decodes nothing, a changed file or key is checked again."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from depot.deposit.images import FileCheck, FileCheckCache, FileChecker, ImageRules, check_file
from depot.deposit.ledger import Ledger

RULES = ImageRules(min_pixels=100)


def crash_on_boom(path: str, name: str, key: str, rules: ImageRules) -> FileCheck:
    """check_file, except that a file named boom.png kills its worker (as a libvips crash would)."""
    if name == "boom.png":
        os._exit(3)
    return check_file(path, name, key, rules)


@pytest.fixture
def files(tmp_path: Path, corpus: Path) -> list[tuple[str, str, str]]:
    sheet = corpus / "icedig-benchmark-BR0000008525000" / "BR0000008525000.jpg"
    shutil.copy(sheet, tmp_path / "BR0000008525000.jpg")
    (tmp_path / "cut.jpg").write_bytes(sheet.read_bytes()[:200_000])
    (tmp_path / "text.jpg").write_text("not an image")
    items = [("BR0000008525000", str(tmp_path / "BR0000008525000.jpg"), "BR0000008525000.jpg"),
             ("K1", str(tmp_path / "cut.jpg"), "cut.jpg"),
             ("K2", str(tmp_path / "text.jpg"), "text.jpg"),
             ("K3", str(tmp_path / "missing.jpg"), "missing.jpg")]
    for i in range(8):
        Image.new("L", (50 + i, 40), 200).save(tmp_path / f"small{i}.png")
        items.append((f"S{i}", str(tmp_path / f"small{i}.png"), f"small{i}.png"))
    return items


def test_results_come_in_input_order_and_equal_the_single_check(files: list[tuple[str, str, str]]) -> None:
    with FileChecker(RULES, processes=2) as checker:
        results = list(checker.check(files))
    assert [r.name for r in results] == [name for _, _, name in files]
    assert results == [check_file(path, name, key, RULES) for key, path, name in files]
    assert [bool(r.problems) for r in results[:4]] == [False, True, True, True]
    assert [r.width for r in results[4:]] == [50 + i for i in range(8)]


def test_lookahead_is_bounded(files: list[tuple[str, str, str]]) -> None:
    taken: list[int] = []

    def source() -> Iterator[tuple[str, str, str]]:
        for n, item in enumerate(files * 3, 1):
            taken.append(n)
            yield item

    with FileChecker(RULES, processes=2, lookahead=3) as checker:
        stream = checker.check(source())
        next(stream)
        assert len(taken) <= 4  # the first result needed at most 4 items read, not 36
        assert len(list(stream)) == 35


def test_a_file_that_kills_its_worker_gets_a_problem_and_the_others_are_checked(tmp_path: Path) -> None:
    items = []
    for name in ("a.png", "boom.png", "b.png", "c.png"):
        Image.new("L", (30, 30), 0).save(tmp_path / name)
        items.append((name, str(tmp_path / name), name))
    with FileChecker(RULES, processes=2, function=crash_on_boom) as checker:
        results = list(checker.check(items))
    assert [r.problems for r in results if r.name != "boom.png"] == [(), (), ()]
    boom = next(r for r in results if r.name == "boom.png")
    assert "the image decoder crashed on this file" in boom.problems[0]


def after_the_gate(path: str, name: str, key: str, rules: ImageRules) -> FileCheck:
    """check_file, once the file ``gate`` beside the image exists: no chunk finishes before the test says."""
    import time

    gate = Path(path).parent / "gate"
    deadline = time.monotonic() + 60
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return check_file(path, name, key, rules)


class Chunks(FileChecker):
    """A FileChecker that records the names of the files each task sent to a worker held, and opens the
    workers' gate (see ``after_the_gate``) once ``gate_after`` tasks were sent."""

    sent: list[list[str]]
    gate: Path
    gate_after: int

    def _send(self) -> None:
        if self._open is not None:
            self.sent.append([name for _, _, name in self._open.items])
        super()._send()
        if len(self.sent) >= self.gate_after:
            self.gate.touch()


def test_small_files_travel_in_chunks_and_a_large_sheet_closes_its_chunk(tmp_path: Path, corpus: Path) -> None:
    from depot.deposit.images.pool import CHUNK_BYTES, CHUNK_FILES

    images = tmp_path / "images"
    images.mkdir()
    sheet = images / "BR0000008525000.jpg"
    shutil.copy(corpus / "icedig-benchmark-BR0000008525000" / sheet.name, sheet)
    assert sheet.stat().st_size >= CHUNK_BYTES
    items = []
    for i in range(40):
        Image.new("L", (40, 40), i).save(images / f"s{i}.png")
        items.append((f"S{i}", str(images / f"s{i}.png"), f"s{i}.png"))
    items.insert(5, ("BR0000008525000", str(sheet), sheet.name))
    checker = Chunks(RULES, processes=2, function=after_the_gate)
    checker.sent, checker.gate, checker.gate_after = [], images / "gate", 3
    with checker:
        results = list(checker.check(items))
    assert [r.name for r in results] == [name for _, _, name in items]
    assert results == [check_file(path, name, key, RULES) for key, path, name in items]
    assert [name for chunk in checker.sent for name in chunk] == [name for _, _, name in items]
    # While nothing is done: the first file goes alone (the workers were idle), the next ones wait for a
    # chunk to fill, and the sheet's megabytes close the chunk it joined.
    assert checker.sent[:3] == [["s0.png"], ["s1.png", "s2.png", "s3.png", "s4.png", sheet.name],
                                [f"s{i}.png" for i in range(5, 5 + CHUNK_FILES)]]
    assert len(checker.sent) < len(items) / 2


def test_a_slow_source_gets_each_result_before_the_next_file_is_asked_for(tmp_path: Path) -> None:
    """A source that reads slowly (a file system over the network) is not held back by the look-ahead:
    each result comes out once it is known, not after a chunk or ``lookahead`` more files were read."""
    import time

    names = [f"s{i}.png" for i in range(6)]
    for i, name in enumerate(names):
        Image.new("L", (40, 40), i).save(tmp_path / name)
    got: list[str] = []
    asked: list[int] = []  # how many results were out when each file was asked for
    checker = FileChecker(RULES, processes=2)

    def slow() -> Iterator[tuple[str, str, str]]:
        for name in names:
            deadline = time.monotonic() + 60  # slow: the next file comes once the workers are done
            while not all(c.future is not None and c.future.done() for c in checker._in_hand):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            asked.append(len(got))
            yield name, str(tmp_path / name), name

    with checker:
        for result in checker.check(slow()):
            got.append(result.name)
    assert got == names
    # Each file is asked for once the one two before it came out (the one before it too, if its check was
    # done by then); before: [0] * 6, every result held until the source ended.
    assert all(out >= n - 1 for n, out in enumerate(asked)), asked
    assert asked == sorted(asked)


def test_a_file_that_kills_its_worker_in_a_chunk_spares_the_rest_of_its_chunk(tmp_path: Path) -> None:
    items = []
    for i in range(40):
        name = "boom.png" if i == 13 else f"s{i}.png"
        Image.new("L", (30, 30), i).save(tmp_path / name)
        items.append((f"S{i}", str(tmp_path / name), name))
    with FileChecker(RULES, processes=2, function=crash_on_boom) as checker:
        results = list(checker.check(items))
    assert [r.name for r in results] == [name for _, _, name in items]
    assert [i for i, r in enumerate(results) if r.problems] == [13]
    assert "the image decoder crashed on this file" in results[13].problems[0]
    assert all(r.width == 30 for i, r in enumerate(results) if i != 13)


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    return str(request.getfixturevalue("postgres_database"))


def test_the_cache_spares_every_decode_of_a_rerun(files: list[tuple[str, str, str]], ledger_url: str) -> None:
    ledger = Ledger.open(ledger_url)
    try:
        with ledger.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM file_checks")  # PostgreSQL's database lives for the session
        cache = FileCheckCache(ledger.engine)
        with FileChecker(RULES, processes=2, cache=cache) as checker:
            first = list(checker.check(files))
        assert (checker.checked, checker.cached) == (len(files), 0)
        with FileChecker(RULES, processes=2, cache=cache) as checker:
            again = list(checker.check(files))
            assert checker._pool.pool is None  # nothing to decode: no worker was started
        assert again == first
        assert (checker.checked, checker.cached) == (1, len(files) - 1)  # only the missing file, never stored

        # a changed file, another key or other rules: checked again
        path = files[4][1]
        os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1))
        changed = [files[4], ("BR0000008525001", files[0][1], files[0][2])]
        with FileChecker(RULES, processes=0, cache=cache) as checker:
            results = list(checker.check(changed))
        assert (checker.checked, checker.cached) == (2, 0)
        assert results[0].mtime_ns == os.stat(path).st_mtime_ns
        with FileChecker(ImageRules(min_pixels=3000), processes=0, cache=cache) as checker:
            assert next(iter(checker.check(files[4:5]))).problems  # 50 x 40 < 3000
        assert checker.cached == 0
        with ledger.engine.begin() as conn:
            rows = conn.execute(sa.text("SELECT count(*) FROM file_checks")).scalar_one()
        assert rows == len(files) - 1 + 1 + 1  # the touched file replaced its row; new key and rules added
    finally:
        ledger.close()


def test_a_first_pass_asks_the_empty_table_once_not_once_per_file(files: list[tuple[str, str, str]],
                                                                   ledger_url: str) -> None:
    ledger = Ledger.open(ledger_url)
    selects: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "file_checks" in statement:
            selects.append(statement)

    try:
        with ledger.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM file_checks")
        cache = FileCheckCache(ledger.engine)
        sa.event.listen(ledger.engine, "before_cursor_execute", count)
        items = [(f"{key}-{i}", path, name) for i in range(10) for key, path, name in files]  # > PUT_BATCH
        with FileChecker(RULES, processes=0, cache=cache) as checker:
            first = list(checker.check(items))
        assert len(selects) == 1  # "does the table hold anything?", then nothing per file
        assert checker.checked == len(items)
        selects.clear()
        with FileChecker(RULES, processes=0, cache=cache) as checker:  # the next pass finds what was written
            assert list(checker.check(items)) == first
        on_disk = len(items) - 10  # the missing file is never stored
        assert checker.cached == on_disk
        assert len(selects) == 1 + on_disk  # the table is asked again, then once per file on disk
    finally:
        sa.event.remove(ledger.engine, "before_cursor_execute", count)
        ledger.close()


CHECKER_THEN_WAIT = """
import multiprocessing.forkserver, sys, time
from depot.deposit.images import FileChecker, ImageRules
checker = FileChecker(ImageRules(min_pixels=100), processes=2)
checker.warm()
list(checker.check([(f"K{i}", sys.argv[1], "a.png") for i in range(8)]))  # workers are up
pids = [*checker._pool.pool._processes, multiprocessing.forkserver._forkserver._forkserver_pid]
print(" ".join(map(str, pids)), flush=True)
time.sleep(600)  # killed -9 by the test
"""


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")  # a zombie is gone


def test_the_workers_and_the_forkserver_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    Image.new("L", (30, 30), 0).save(tmp_path / "a.png")
    pids: list[int] = []
    with subprocess.Popen([sys.executable, "-c", CHECKER_THEN_WAIT, str(tmp_path / "a.png")],
                          stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            pids = [int(p) for p in proc.stdout.readline().split()]
            assert len(pids) >= 2 and all(_running(p) for p in pids)  # a worker or two, and the forkserver
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            deadline = time.monotonic() + 30  # they look once a second (PARENT_POLL_SECONDS); generous when loaded
            while any(_running(p) for p in pids) and time.monotonic() < deadline:
                time.sleep(0.1)
            left = [p for p in pids if _running(p)]
            assert not left, f"still running after the parent's kill -9: {left}"  # before: all of them, for good
        finally:
            proc.kill()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_warm_starts_the_workers_before_the_first_file(files: list[tuple[str, str, str]]) -> None:
    import multiprocessing

    before = {p.pid for p in multiprocessing.active_children()}
    checker = FileChecker(RULES, processes=2)
    checker.warm()  # returns at once; the workers start beside whatever the caller does next
    started = {p.pid for p in multiprocessing.active_children()} - before
    assert len(started) >= 1  # processes exist before any file was given
    with checker:
        results = list(checker.check(files[:2]))
    assert [bool(r.problems) for r in results] == [False, True]
    assert not {p.pid for p in multiprocessing.active_children()} & started  # closed with the checker


def test_warm_without_worker_processes_starts_nothing() -> None:
    checker = FileChecker(RULES, processes=0)
    checker.warm()
    assert checker._pool.pool is None
