"""The fixity audit finds exactly the stored files that were changed or removed: on the CLI, at the admin
endpoint, and in the background cycle of the running server."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from contract.payloads import published
from depot.repository.app import create_app
from depot.repository.config import RepositoryConfig
from depot.repository.preservation.service import of
from depot.repository.store.tables import file_instances, fixity_problems, fixity_state

ADMIN = {"Authorization": "Bearer fixity-admin"}


def _config(tmp_path: Path, **extra: Any) -> RepositoryConfig:
    return RepositoryConfig(data_dir=tmp_path / "repo", base_url="http://testserver", user_limit_per_minute=0,
                            user_limit_per_hour=0, search_limit_per_minute=0, fsync=False,
                            admin_token="fixity-admin", **extra)


@pytest.fixture
def damaged(tmp_path: Path) -> Iterator[tuple[TestClient, RepositoryConfig, dict[str, str]]]:
    """Six stored files in three records; two get a flipped bit, one is deleted. Yields client, config and
    {file_id: expected status} of the damaged ones."""
    config = _config(tmp_path, fixity_cycle=False)
    app = create_app(config)
    with TestClient(app, base_url="http://testserver") as client:
        ctx = app.context  # type: ignore[attr-defined]
        headers = {"Authorization": "Bearer " + ctx.accounts.create_token("a@example.org", "2026-01-01")}
        for n in range(3):
            published(client, headers, files={f"sheet-{n}.jpg": bytes(range(256)) * (n + 1) * 40,
                                              f"label-{n}.txt": f"label {n}".encode()})
        assert of(ctx).bags.drain(30)  # type: ignore[union-attr]  # bags first: they copy sound files
        with ctx.deposits.db.read() as conn:
            rows = conn.execute(sa.select(file_instances.c.id, file_instances.c.uri, file_instances.c.size)
                                .order_by(file_instances.c.size.desc())).all()
        assert len(rows) == 6
        expected: dict[str, str] = {}
        for row in rows[:2]:  # one bit flipped in the middle of each of the two largest files
            path = ctx.blobs.path(row.uri)
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 0x01
            path.write_bytes(bytes(data))
            expected[row.id] = "mismatch"
        ctx.blobs.path(rows[-1].uri).unlink()
        expected[rows[-1].id] = "missing"
        yield client, config, expected


def test_cli_audit_reports_exactly_the_damaged_files_and_exits_non_zero(damaged: Any) -> None:
    client, config, expected = damaged
    done = subprocess.run([sys.executable, "-m", "depot", "repo", "audit", "--data-dir", str(config.data_dir)],
                          capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    reported = {line.split("\t")[1]: line.split("\t")[0].lower() for line in done.stdout.splitlines()}
    assert reported == expected
    assert "6 file(s)" in done.stderr and "3 problem(s)" in done.stderr
    mismatch_line = next(line for line in done.stdout.splitlines() if line.startswith("MISMATCH"))
    assert "md5" in mismatch_line and "sha256" in mismatch_line and "record " in mismatch_line

    # The endpoint shows the run and the same problems, with the records holding each file.
    body = client.get("/api/admin/fixity", headers=ADMIN).json()
    assert {p["file_id"]: p["status"] for p in body["problems"]} == expected
    assert all(p["records"] and p["records"][0]["published"] for p in body["problems"])
    assert body["runs"][0]["kind"] == "full" and body["runs"][0]["files"] == 6 and body["runs"][0]["problems"] == 3
    assert body["files"] == {"files": 6, "never_checked": 0, "oldest_check": body["files"]["oldest_check"]}


def test_a_repaired_file_leaves_the_current_problems_but_stays_in_the_history(damaged: Any) -> None:
    client, config, expected = damaged
    preservation = of(client.app.context)  # type: ignore[attr-defined]
    assert preservation is not None
    first = preservation.auditor.full()
    assert {p.file_id: p.status for p in first.problems} == expected
    missing = next(fid for fid, status in expected.items() if status == "missing")
    with preservation.auditor.db.read() as conn:
        row = conn.execute(sa.select(file_instances).where(file_instances.c.id == missing)).one()
    # Restore the deleted file from its bag copy (the bags are independent of the blob store).
    [bag_copy] = [p for p in (config.data_dir / "bags").rglob("data/label-*.txt") if p.stat().st_size == row.size
                  and _md5(p) == row.md5]
    preservation.auditor.blobs.path(row.uri).write_bytes(bag_copy.read_bytes())
    second = preservation.auditor.full()
    assert {p.file_id for p in second.problems} == set(expected) - {missing}
    body = client.get("/api/admin/fixity", headers=ADMIN).json()
    assert {p["file_id"] for p in body["problems"]} == set(expected) - {missing}
    assert [r["problems"] for r in body["runs"][:2]] == [2, 3]


def test_admin_endpoint_needs_the_admin_token(damaged: Any) -> None:
    client, _config, _expected = damaged
    assert client.get("/api/admin/fixity").status_code == 403
    assert client.get("/api/admin/fixity", headers={"Authorization": "Bearer wrong"}).status_code == 403


def _cycle_until(client: TestClient, found: Any, timeout: float = 20) -> dict[str, Any]:
    """The fixity endpoint's body once ``found(body)`` holds (or at the deadline, for the assertion)."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = client.get("/api/admin/fixity", headers=ADMIN).json()
    while not found(body) and time.monotonic() < deadline:
        time.sleep(0.2)
        body = client.get("/api/admin/fixity", headers=ADMIN).json()
    return body


def test_background_cycle_finds_the_damage_and_keeps_it_flagged_without_bags(tmp_path: Path) -> None:
    # Period 0 days: every tick is a full pass; a tick per second. No bags: no copy to heal from.
    config = _config(tmp_path, fixity_period_days=0, fixity_tick_seconds=1, fixity_mb_per_s=0, bags=False)
    app = create_app(config)
    with TestClient(app, base_url="http://testserver") as client:
        ctx = app.context  # type: ignore[attr-defined]
        headers = {"Authorization": "Bearer " + ctx.accounts.create_token("a@example.org", "2026-01-01")}
        published(client, headers, files={"a.jpg": b"\xff\xd8 a", "b.jpg": b"\xff\xd8 b"})
        with ctx.deposits.db.read() as conn:
            victim = conn.execute(sa.select(file_instances).order_by(file_instances.c.id).limit(1)).one()
        ctx.blobs.path(victim.uri).write_bytes(b"\xff\xd8 X")  # same size, other bytes
        body = _cycle_until(client, lambda b: b["problems"])
        assert [(p["file_id"], p["status"]) for p in body["problems"]] == [(victim.id, "mismatch")]
        assert body["runs"][0]["kind"] == "cycle" and body["cycle"]["tick_seconds"] == 1


def test_background_cycle_finds_the_damage_and_heals_it_from_the_bag(tmp_path: Path) -> None:
    # With bags the cycle repairs what it finds in the same tick, so the current problems may never show
    # it: the run's problem count and the restored bytes do. (Polling the current problems alone made this
    # test miss the damage whenever the bag was written before the damage: the heal, not a blind spot.)
    config = _config(tmp_path, fixity_period_days=0, fixity_tick_seconds=1, fixity_mb_per_s=0, bags=True)
    app = create_app(config)
    with TestClient(app, base_url="http://testserver") as client:
        ctx = app.context  # type: ignore[attr-defined]
        headers = {"Authorization": "Bearer " + ctx.accounts.create_token("a@example.org", "2026-01-01")}
        published(client, headers, files={"a.jpg": b"\xff\xd8 a", "b.jpg": b"\xff\xd8 b"})
        assert of(ctx).bags.drain(30)  # type: ignore[union-attr]  # the bag copies the sound bytes first
        with ctx.deposits.db.read() as conn:
            victim = conn.execute(sa.select(file_instances).order_by(file_instances.c.id).limit(1)).one()
        stored = ctx.blobs.path(victim.uri)
        sound = stored.read_bytes()
        stored.write_bytes(b"\xff\xd8 X")  # same size, other bytes
        # Found (a run counted it), then repaired (no current problem): the repair follows the run's commit.
        body = _cycle_until(client, lambda b: any(r["problems"] for r in b["runs"]) and not b["problems"])
        assert [r["problems"] for r in body["runs"] if r["problems"]] == [1]
        assert stored.read_bytes() == sound and body["problems"] == []
        with ctx.deposits.db.read() as conn:
            history = conn.execute(sa.select(fixity_problems.c.file_id, fixity_problems.c.status)
                                   .order_by(fixity_problems.c.id)).all()
        assert [tuple(h) for h in history] == [(victim.id, "mismatch"), (victim.id, "repaired")]


def test_cycle_ticks_pick_the_files_checked_longest_ago(tmp_path: Path) -> None:
    config = _config(tmp_path, fixity_cycle=False)
    app = create_app(config)
    with TestClient(app, base_url="http://testserver") as client:
        ctx = app.context  # type: ignore[attr-defined]
        headers = {"Authorization": "Bearer " + ctx.accounts.create_token("a@example.org", "2026-01-01")}
        published(client, headers, files={f"f{i}.txt": f"file {i}".encode() for i in range(5)})
        auditor = of(ctx).auditor  # type: ignore[union-attr]

        def checked() -> dict[str, str]:
            with ctx.deposits.db.read() as conn:
                return {r.file_id: r.checked for r in conn.execute(sa.select(fixity_state))}

        counts = []
        for _ in range(2):  # 5 files over a period of 3 ticks: batches of 2
            report = auditor.tick(period_s=3, tick_s=1, mb_per_s=0)
            assert report is not None and report.files == 2 and not report.problems
            counts.append(len(checked()))
        assert counts == [2, 4]  # never-checked files first
        before = checked()
        never, oldest = auditor.oldest(2)
        assert never.file_id not in before and oldest.file_id == min(before, key=lambda k: (before[k], k))
        auditor.tick(period_s=3, tick_s=1, mb_per_s=0)
        after = checked()
        assert len(after) == 5 and after[oldest.file_id] > before[oldest.file_id]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_audit_with_bags_validates_every_bag_copy(damaged: Any) -> None:
    _client, config, expected = damaged
    cmd = [sys.executable, "-m", "depot", "repo", "audit", "--bags", "--data-dir", str(config.data_dir)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    # The stored files were damaged after bagging: the bags, a separate copy, are all still valid.
    assert "bags: 3 checked, 0 invalid" in done.stderr and "BAG\t" not in done.stdout
    assert len(done.stdout.splitlines()) == len(expected)
    victim = sorted((config.data_dir / "bags").rglob("data/label-*.txt"))[0]
    victim.write_bytes(victim.read_bytes().upper())
    done = subprocess.run(cmd, capture_output=True, text=True)
    [line] = [x for x in done.stdout.splitlines() if x.startswith("BAG\t")]
    assert str(victim.parent.parent) in line and "label-" in line
    assert done.returncode == 1 and "bags: 3 checked, 1 invalid" in done.stderr
