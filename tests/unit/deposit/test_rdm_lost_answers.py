"""Lost answers on the InvenioRDM records API: the runner with the RDM client against the repository app
on loopback, with answers lost after the server acted (a fixed one, then the fault injector's seeded
mix). Every specimen ends published exactly once, and no draft is left."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from test_runner import LoseFirstAnswer, plan, serve

from depot.deposit import Ledger, Runner, RunSettings
from depot.deposit.job import initial_stats
from depot.deposit.rdm_client import RDM_JSON, RdmClient
from depot.repository.faults.inject import FaultInjector
from depot.repository.faults.profile import parse


async def run_rdm(ledger: Ledger, api: str, token: str, settings: RunSettings) -> tuple[Runner, int]:
    async with RdmClient(api, token) as client:
        runner = Runner(ledger, client, settings, initial_stats(ledger))
        await runner.run()
    return runner, client.stats.requests


def server_state(api: str, token: str) -> tuple[list[str], int]:
    """The specimen keys of the account's published records (repeats kept), and the drafts left."""
    body = httpx.get(f"{api}/user/records", params={"size": 100, "allversions": "true"},
                     headers={"Authorization": f"Bearer {token}", "Accept": RDM_JSON}).json()
    hits = body["hits"]["hits"]
    keys = [i["identifier"] for h in hits if h["is_published"] for i in h["metadata"].get("identifiers", [])]
    return keys, sum(1 for h in hits if h["is_draft"])


def test_a_lost_create_answer_is_found_by_its_key_not_made_twice(tmp_path: Path) -> None:
    """The first POST /api/records commits, its answer is a 504: the probe finds the draft by the key in
    /api/user/records and carries on with it."""
    ledger = plan(tmp_path, 4)
    settings = RunSettings(transfers=1, probe_delay=0.2, probe_recheck=0.5)
    with serve(tmp_path, lambda app: LoseFirstAnswer(app, "POST", "/api/records")) as (api, token):
        runner, requests = asyncio.run(run_rdm(ledger, api, token, settings))
        keys, drafts = server_state(api, token)
    assert sorted(keys) == [f"urn:catalog:RUN:{i}" for i in range(4)] and drafts == 0
    assert runner.stats.probes == 1
    # 5 a record (create, init, content, commit, publish), plus the probe's listing and the found draft's read
    assert requests == 4 * 5 + 2
    ledger.close()


def test_a_lost_publish_answer_is_read_back(tmp_path: Path) -> None:
    ledger = plan(tmp_path, 2)
    settings = RunSettings(transfers=1, probe_delay=0.2, probe_recheck=0.5)
    with serve(tmp_path, lambda app: LoseFirstAnswer(app, "POST", "/draft/actions/publish")) as (api, token):
        runner, _requests = asyncio.run(run_rdm(ledger, api, token, settings))
        keys, drafts = server_state(api, token)
    assert sorted(keys) == ["urn:catalog:RUN:0", "urn:catalog:RUN:1"] and drafts == 0
    assert {r.state for r in map(ledger.get, ("urn:catalog:RUN:0", "urn:catalog:RUN:1"))} == {"published"}
    assert runner.stats.probes == 1  # the publish was read back, not sent again
    ledger.close()


def test_the_fault_injectors_lost_answers_make_no_duplicate(tmp_path: Path) -> None:
    profile = parse({"seed": 12, "rules": {
        "create": {"after": {"504": 0.25, "502": 0.1}, "drop_after": 0.1},
        "upload": {"before": {"502": 0.1}},
        "publish": {"after": {"504": 0.15}, "drop_after": 0.1},
        "list": {"before": {"502": 0.05}},
    }}, "rdm-lost-answers")
    log = tmp_path / "faults.log"
    ledger = plan(tmp_path, 20)
    settings = RunSettings(transfers=4, probe_delay=0.2, probe_recheck=0.5, retries=10, backoff_base=0.05,
                           backoff_cap=0.5)
    with serve(tmp_path, lambda app: FaultInjector(app, profile, log), search_lag=0.2) as (api, token):
        asyncio.run(run_rdm(ledger, api, token, settings))
        keys, drafts = server_state(api, token)
    events = log.read_text().splitlines()
    lost: Any = [e for e in events if '"/api/records"' in e and ('"after-' in e or '"drop-after"' in e)]
    assert lost, "no create answer was lost: the test tested nothing"
    assert sorted(keys) == sorted(f"urn:catalog:RUN:{i}" for i in range(20)) and drafts == 0
    ledger.close()


def test_large_files_take_the_three_steps_not_tus(tmp_path: Path) -> None:
    """Every file above the resumable threshold: the legacy client would send it by tus (depot serve offers
    it), the RDM client's draft files endpoint is no bucket, so it goes by init, content, commit."""
    ledger = plan(tmp_path, 2)
    settings = RunSettings(transfers=1, resumable_threshold=1)
    with serve(tmp_path) as (api, token):
        _runner, requests = asyncio.run(run_rdm(ledger, api, token, settings))
        keys, drafts = server_state(api, token)
    assert sorted(keys) == ["urn:catalog:RUN:0", "urn:catalog:RUN:1"] and drafts == 0
    assert requests == 2 * 5  # no OPTIONS, no tus request
    ledger.close()


def test_a_file_sent_but_not_committed_is_sent_again(tmp_path: Path) -> None:
    """A run killed between PUT .../content and POST .../commit: the draft holds the bytes, uncommitted. A
    read-back must not take the file as there (the publish would be refused: "not completed their
    transfer"); the next upload starts the key again and commits it."""
    ledger = plan(tmp_path, 1)
    key = "urn:catalog:RUN:0"

    async def killed_before_commit(api: str, token: str) -> None:
        async with RdmClient(api, token) as client:
            claim = ledger.get(key)
            ledger.mark_uncertain(key, "create")
            draft = await client.create(claim.metadata)
            ledger.mark_created(key, deposition_id=int(draft["id"]), bucket_url=draft["links"]["bucket"],
                                record=draft)
            spec = claim.files[0]
            files = draft["links"]["bucket"]
            await client.request("upload", "POST", files, json=[{"key": spec.name}])
            await client.send_file(f"{files}/{spec.name}/content", Path(spec.path))
            ledger.mark_uncertain(key, "reconcile")  # as a 404/409 on the next step would leave it

    with serve(tmp_path) as (api, token):
        asyncio.run(killed_before_commit(api, token))
        asyncio.run(run_rdm(ledger, api, token, RunSettings(transfers=1)))
        keys, drafts = server_state(api, token)
    assert keys == [key] and drafts == 0 and ledger.get(key).state == "published"
    ledger.close()
