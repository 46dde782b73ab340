"""The deposit a publish hands its hooks (the bag job's snapshot is taken from it) is built in memory, not
read back: it must equal what ``load_deposit`` reads in the same transaction, for a first publish, an
edit published again, a new version, a record with communities and a bulk job's records."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from test_bulk_job import accepted_job

from depot.repository.bulk.job import run_bulk_job
from depot.repository.services.views import Deposit, load_deposit


def watch(ctx: Any) -> list[tuple[Deposit, Deposit | None]]:
    seen: list[tuple[Deposit, Deposit | None]] = []

    def hook(conn: sa.Connection, deposit: Deposit) -> None:
        seen.append((deposit, load_deposit(conn, deposit.id)))

    ctx.actions.on_publish.append(hook)
    return seen


def test_every_publish_hands_its_hooks_the_deposit_as_stored(tmp_path: Path) -> None:
    ctx, job_id = accepted_job(tmp_path, 3)
    seen = watch(ctx)
    ident = ctx.accounts.identity_for_token(ctx.accounts.create_token("hooks@example.org", "2026-12-03"))
    ctx.accounts.create_community("herbaria", "Herbaria", "hooks@example.org", "2026-12-03T00:00:00Z")
    meta = {"upload_type": "dataset", "title": "Hooks", "description": "D", "creators": [{"name": "Doe, Jane"}],
            "publication_date": "2026-01-01", "communities": [{"identifier": "herbaria"}]}
    first = ctx.deposits.create(ident, {"metadata": meta})
    ctx.files.commit_upload(ident, first.bucket_id, "a.txt", ctx.blobs.write_file(io.BytesIO(b"first")))
    ctx.files.commit_upload(ident, first.bucket_id, "b.txt", ctx.blobs.write_file(io.BytesIO(b"second")))
    ctx.actions.publish(ident, first.id)
    ctx.actions.edit(ident, first.id)
    ctx.deposits.update(ident, first.id, {"metadata": {**meta, "title": "Hooks, edited"}})
    ctx.actions.publish(ident, first.id)
    draft = ctx.actions.new_version(ident, first.id)
    ctx.deposits.update(ident, draft.id, {"metadata": {**meta, "title": "Hooks, v2"}})  # Zenodo clears the date
    ctx.actions.publish(ident, draft.id)
    run_bulk_job(ctx, job_id)
    assert len(seen) == 3 + 3
    for given, stored in seen:
        assert given == stored
    assert seen[1][0].record["title"] == "Hooks, edited"  # type: ignore[index]
    assert seen[2][0].version_index == 2 and seen[2][0].concept_doi == seen[0][0].concept_doi
    ctx.jobs.stop()
