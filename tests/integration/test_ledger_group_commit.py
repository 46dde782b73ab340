"""The ledger's single writer: transitions of many records share a commit, each caller resumes only once
its own transition is durable, and a depositor killed before that commit has sent nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from depot.deposit.errors import LedgerError
from depot.deposit.ledger import Ledger, State
from depot.deposit.ledger.journal import Journal
from depot.deposit.ledger.prepared import Tx
from depot.deposit.models import FileSpec, PlannedRecord

from conftest import planned_ledger, serve_repository

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
N = 40


def planned(ledger_url: str, tmp_path: Path, n: int = N) -> Ledger:
    image = tmp_path / "a.png"
    image.write_bytes(b"png")
    ledger = Ledger.open(ledger_url)
    ledger.plan([PlannedRecord(f"k{i}", {"title": f"Sheet {i}"}, (FileSpec(str(image), "a.png"),)) for i in range(n)])
    return ledger


def test_concurrent_transitions_share_a_commit_and_are_durable_when_awaited(ledger_url: str,
                                                                           tmp_path: Path) -> None:
    ledger = planned(ledger_url, tmp_path)
    other = Ledger.open(ledger_url)  # a second connection: what a restarted depositor would read

    async def main() -> tuple[int, int]:
        journal = Journal(ledger)
        claims = await journal.claim(N, owner="w1", lease_seconds=60, now=NOW)
        assert len(claims) == N
        before = journal.writer.transactions
        await asyncio.gather(*(journal.mark_uncertain(c.key, "create") for c in claims))
        # Durable as soon as awaited: another connection sees every one.
        assert other.counts_by_state() == {"uncertain": N}
        grouped = journal.writer.transactions - before
        for c in claims:  # an attempt row rides along with the next transition: no commit of its own
            journal.record_attempt(c.key, "create", 201, None, 0.01)
        await asyncio.gather(*(journal.mark_created(c.key, deposition_id=i, bucket_url=f"http://x/api/files/b{i}")
                               for i, c in enumerate(claims)))
        await journal.close()
        return grouped, journal.writer.transactions - before

    grouped, total = asyncio.run(main())
    assert grouped <= 3, f"{N} concurrent transitions took {grouped} transactions"
    assert total <= 6
    assert other.counts_by_state() == {"created": N}
    assert other.get("k7").deposition_id == 7 and other.get("k7").bucket_url == "/api/files/b7"
    assert other.errors_by_status() == {} and other.throughput()["requests"] >= N
    ledger.close()
    other.close()


def test_a_claim_to_create_carries_its_guard_in_the_same_commit(ledger_url: str, tmp_path: Path) -> None:
    """The runner's claim writes "uncertain: create" with the lease: durable when the claim returns, so the
    create's guard costs no commit of its own; an edit's or a new version's claim is left as it was."""
    ledger = planned(ledger_url, tmp_path, 2)
    ledger.mark_published("k1", doi="10.5072/x.1", concept_doi=None, record_url=None, record={"id": 1})
    other = Ledger.open(ledger_url)

    async def main() -> tuple[int, int]:
        journal = Journal(ledger)
        (claim,) = await journal.claim(5, owner="w1", lease_seconds=60, now=NOW, guard_create=True)
        assert claim.key == "k0" and claim.state is State.PLANNED  # the runner goes on to create it
        assert (other.get("k0").state, other.get("k0").step) == (State.UNCERTAIN, "create")  # durable already
        before = journal.writer.transactions
        await journal.mark_uncertain("k0", "create")
        guard = journal.writer.transactions - before
        assert (await journal.get("k0")).state is State.UNCERTAIN
        await journal.mark_uncertain("k0", "publish")  # any other guard still commits
        await journal.release("k0", "w1")
        await journal.close()
        return guard, journal.writer.transactions - before

    guard, total = asyncio.run(main())
    assert guard == 0 and total >= 1
    assert (other.get("k0").state, other.get("k0").step) == (State.UNCERTAIN, "publish")
    ledger.close()
    other.close()


def test_the_journal_walks_a_record_as_the_ledger_does(ledger_url: str, tmp_path: Path) -> None:
    """No read-back: the journal's own copy and the database agree after every step, versions included."""
    ledger = planned(ledger_url, tmp_path, 1)

    async def main() -> list[tuple[State, State]]:
        journal = Journal(ledger)
        await journal.claim(1, owner="w1", lease_seconds=60, now=NOW)
        seen = []
        steps = [lambda: journal.mark_uncertain("k0", "create"),
                 lambda: journal.mark_created("k0", deposition_id=5, bucket_url="http://x/api/files/b"),
                 lambda: journal.mark_file_uploaded("k0", "a.png", server_checksum="md5:abc", md5="abc",
                                                    sha256="def", size=3),
                 lambda: journal.mark_ready("k0"),
                 lambda: journal.mark_uncertain("k0", "publish"),
                 lambda: journal.mark_published("k0", doi="10.5072/x.5", concept_doi="10.5072/x.4",
                                                record_url="http://x/records/5")]
        for step in steps:
            await step()
            await journal.flush()  # posted writes: durable by the next guard, or now on demand
            seen.append(((await journal.get("k0")).state, ledger.get("k0").state))
        await journal.release("k0", "w1")
        await journal.close()
        return seen

    seen = asyncio.run(main())
    assert all(mine == stored for mine, stored in seen), seen
    assert [s for s, _ in seen] == [State.UNCERTAIN, State.CREATED, State.UPLOADED, State.UPLOADED,
                                    State.UNCERTAIN, State.PUBLISHED]
    (version,) = list(ledger.iter_versions())
    assert version["version"] == 1 and version["doi"] == "10.5072/x.5"
    assert version["files"][0]["md5"] == "abc"
    row = ledger.get("k0")
    assert row.files[0].uploaded and row.files[0].sha256 == "def" and row.doi == "10.5072/x.5"
    ledger.close()


def test_a_failed_operation_fails_only_its_own_caller(tmp_path: Path) -> None:
    ledger = planned(str(tmp_path / "ledger.sqlite3"), tmp_path, 4)

    def broken(tx: Tx) -> None:
        tx.cursor.execute("INSERT INTO no_such_table VALUES (1)")

    async def main() -> list[object]:
        journal = Journal(ledger)
        await journal.claim(4, owner="w1", lease_seconds=60, now=NOW)
        outcomes = await asyncio.gather(journal.mark_uncertain("k0", "create"), journal.writer.run(broken),
                                        journal.mark_uncertain("k1", "create"), return_exceptions=True)
        await journal.close()
        return outcomes

    first, failed, third = asyncio.run(main())
    assert first is None and third is None and isinstance(failed, LedgerError)
    assert ledger.counts_by_state() == {"uncertain": 2, "planned": 2}
    ledger.close()


RUN_UNTIL_GUARD = textwrap.dedent("""
    import asyncio, sys, time
    from depot.deposit import Ledger, RepositoryClient, Runner, RunSettings
    from depot.deposit.job import initial_stats
    from depot.deposit.ledger import prepared

    run = prepared.Tx.run
    def hold(self, name, params):
        if name == "step" and params.get("state") == "uncertain":
            print("guard queued", flush=True)  # the transition is in the open transaction, not committed
            time.sleep(3600)
        return run(self, name, params)
    prepared.Tx.run = hold

    async def main():
        ledger = Ledger.open(sys.argv[1])
        async with RepositoryClient(sys.argv[2], sys.argv[3]) as client:
            await Runner(ledger, client, RunSettings(transfers=4), initial_stats(ledger)).run()
    asyncio.run(main())
""")


def test_killed_before_the_guard_commits_nothing_was_sent(tmp_path: Path) -> None:
    """kill -9 while "uncertain: create" is written but not committed: the server has received no create,
    and the ledger still says planned, so the next run creates each record once."""
    ledger = planned_ledger(tmp_path, 6, "GUARD")
    ledger.close()
    path = str(tmp_path / "ledger.sqlite3")
    with serve_repository(tmp_path) as served:
        api = served.base + "/api"
        errors = tmp_path / "stderr.txt"
        with errors.open("w") as sink, subprocess.Popen([sys.executable, "-c", RUN_UNTIL_GUARD, path, api,
                                                         served.token], stdout=subprocess.PIPE, stderr=sink,
                                                        text=True) as proc:
            try:
                assert proc.stdout is not None
                line = proc.stdout.readline()
                assert line.strip() == "guard queued", errors.read_text()
                time.sleep(0.2)  # give a wrongly early request time to reach the server (none must)
            finally:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
        listed = httpx.get(f"{api}/deposit/depositions", headers=served.headers, params={"size": 100}).json()
        assert listed == []
        after = Ledger.open(path)
        assert after.counts_by_state() == {"planned": 6}
        with after.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM attempts")).scalar_one() == 0
        after.close()
        done = subprocess.run([sys.executable, "-c", RUN_UNTIL_GUARD.replace('params.get("state") == "uncertain"',
                                                                             "False"), path, api, served.token],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        listed = httpx.get(f"{api}/deposit/depositions", headers=served.headers,
                           params={"size": 100, "all_versions": 1}).json()
    assert len(listed) == 6 and all(d["submitted"] for d in listed)
    final = Ledger.open(path)
    assert final.counts_by_state() == {"published": 6}
    final.close()


@pytest.mark.parametrize("transfers", [16])
def test_a_run_makes_fewer_commits_than_transitions(tmp_path: Path, transfers: int) -> None:
    """The in-process runner against `depot serve`: 20 records, 16 at a time, fewer commits than steps."""
    from depot.deposit import RepositoryClient, Runner, RunSettings
    from depot.deposit.job import initial_stats

    ledger = planned_ledger(tmp_path, 20, "GROUP")

    async def main(api: str, token: str) -> Runner:
        async with RepositoryClient(api, token) as client:
            runner = Runner(ledger, client, RunSettings(transfers=transfers), initial_stats(ledger))
            await runner.run()
        return runner

    with serve_repository(tmp_path) as served:
        runner = asyncio.run(main(served.base + "/api", served.token))
    writer = runner.ledger.writer
    assert ledger.counts_by_state() == {"published": 20}
    assert writer.operations >= 20 * 7  # claim, 2 guards, created, file, published, release per record (+ attempts)
    assert writer.transactions < writer.operations / 2, (writer.transactions, writer.operations)
    ledger.close()
