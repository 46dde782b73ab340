"""The checks' client and verify's pass when the repository is gone: they stop with a reason, not for ever.

Nothing listens on the port (a real refused connection, no server stand-in); time is a fake clock that
the pauses advance, so the test waits for nothing.
"""

from __future__ import annotations

import asyncio
import io
import socket
from pathlib import Path

import pytest

from depot.deposit.client import RepositoryClient
from depot.deposit.errors import TransportError
from depot.deposit.ledger import Ledger
from depot.deposit.models import FileSpec, PlannedRecord
from depot.deposit.patient import Patience, PatientClient
from depot.deposit.reconcile import differences
from depot.deposit.verifying import Verifier, VerifyResult


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += 1
        await asyncio.sleep(0)


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


def published_ledger(tmp_path: Path, n: int) -> Ledger:
    image = tmp_path / "a.png"
    image.write_bytes(b"png")
    ledger = Ledger.open(tmp_path / "ledger.sqlite3")
    ledger.plan([PlannedRecord(f"k{i}", {"title": f"Sheet {i}"}, (FileSpec(str(image), "a.png"),))
                 for i in range(n)])
    for i in range(n):
        ledger.mark_created(f"k{i}", deposition_id=i + 1, bucket_url="http://x/api/files/b")
        ledger.mark_file_uploaded(f"k{i}", "a.png", server_checksum="md5:a", md5="a", sha256="b", size=3)
        ledger.mark_published(f"k{i}", doi=f"10.5072/x.{i}", concept_doi=None, record_url=None)
    return ledger


def test_verify_of_a_repository_that_is_gone_stops_and_keeps_nothing_false(tmp_path: Path) -> None:
    ledger = published_ledger(tmp_path, 30)
    fake = FakeTime()
    out = io.StringIO()

    async def go() -> VerifyResult:
        async with RepositoryClient(dead_url(), "token") as plain:
            client = PatientClient(plain, Patience(first_contact=60.0), clock=fake.clock, sleep=fake.sleep)
            return await Verifier(ledger, client, out, checkers=4, sleep=fake.sleep).run()

    result = asyncio.run(go())
    assert result.gave_up is not None and "answered no request for" in result.gave_up
    assert result.verified == 0 and result.differ == 0
    assert fake.now - 1000.0 > 60.0  # it did wait out the allowance of a first contact first
    assert ledger.counts_by_state() == {"published": 30}
    ledger.close()


def test_a_retry_spends_the_low_level_retries_then_raises(tmp_path: Path) -> None:
    fake = FakeTime()

    async def go() -> PatientClient:
        async with RepositoryClient(dead_url(), "token") as plain:
            client = PatientClient(plain, Patience(low_level_retries=3), clock=fake.clock, sleep=fake.sleep)
            with pytest.raises(TransportError):
                await client.get(1)
            return client

    client = asyncio.run(go())
    assert client.stats.requests == 4 and client.stats.retries == 3


def test_differences_name_what_differs() -> None:
    remote = {"doi": "10.5072/x.1", "metadata": {"title": "Sheet", "publication_date": "2026-01-01"},
              "files": [{"filename": "a.png", "checksum": "aa"}, {"filename": "b.png", "checksum": "bb"}]}
    assert differences([("a.png", "aa"), ("b.png", "bb")], {"title": "Sheet", "publication_date": "x"},
                       "10.5072/x.1", remote) == []
    found = differences([("a.png", "ab")], {"title": "Other"}, "10.5072/x.2", remote)
    assert found == ["a.png: md5 aa on the repository, ab in the ledger", "files only on the repository: b.png",
                     "metadata differs: title", "DOI 10.5072/x.1 on the repository, 10.5072/x.2 in the ledger"]
