"""The deposit a publish hands its hooks (the bag job's snapshot is taken from it) is built in memory, not
read back: it must equal what ``load_deposit`` reads in the same transaction, for a first publish, an
edit published again, a new version, a record with communities and a bulk job's records. The same holds
for the deposit a create returns, and for the search terms a publish leaves."""

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


def test_a_create_returns_the_deposit_as_stored_and_a_publish_leaves_the_terms_a_rewrite_would(
        tmp_path: Path) -> None:
    from depot.repository.services.facets import facet_rows
    from depot.repository.services.search import term_rows
    from depot.repository.store.tables import terms

    ctx, _ = accepted_job(tmp_path, 1)
    ident = ctx.accounts.identity_for_token(ctx.accounts.create_token("terms@example.org", "2026-12-04"))
    meta = {"upload_type": "dataset", "title": "Terms", "description": "D", "creators": [{"name": "Doe, Jane"}],
            "publication_date": "2026-01-01", "keywords": ["Herbarium", "Meise"]}

    def stored_terms(deposit_id: int, scope: str) -> list[tuple[str, str]]:
        with ctx.deposits.db.read() as conn:
            return sorted(conn.execute(sa.select(terms.c.field, terms.c.value).where(
                terms.c.deposit_id == deposit_id, terms.c.scope == scope)).all())

    def expected(deposit: Deposit, scope: str) -> list[tuple[str, str]]:
        rows = term_rows(deposit.id, scope, deposit.current)
        rows += facet_rows(deposit, deposit.current) if scope == "record" else []
        return sorted((r["field"], r["value"]) for r in rows)

    try:
        created = ctx.deposits.create(ident, {"metadata": meta})
        with ctx.deposits.db.read() as conn:
            assert created == load_deposit(conn, created.id)
        assert stored_terms(created.id, "deposit") == expected(created, "deposit") != []
        ctx.files.commit_upload(ident, created.bucket_id, "a.txt", ctx.blobs.write_file(io.BytesIO(b"a")))
        first = ctx.actions.publish(ident, created.id)
        assert stored_terms(first.id, "record") == expected(first, "record")
        assert stored_terms(first.id, "deposit") == expected(first, "deposit")
        ctx.actions.edit(ident, first.id)
        ctx.deposits.update(ident, first.id, {"metadata": {**meta, "title": "Terms, edited", "keywords": ["Fungi"]}})
        again = ctx.actions.publish(ident, first.id)
        assert ("keywords", "fungi") in stored_terms(again.id, "record")
        assert ("keywords", "meise") not in stored_terms(again.id, "record")
        assert stored_terms(again.id, "record") == expected(again, "record")
        assert stored_terms(again.id, "deposit") == expected(again, "deposit")
        draft = ctx.actions.new_version(ident, first.id)
        ctx.deposits.update(ident, draft.id, {"metadata": meta})  # Zenodo clears the date of a new version
        second = ctx.actions.publish(ident, draft.id)
        assert second.version_index == 2
        assert stored_terms(second.id, "record") == expected(second, "record")
    finally:
        ctx.jobs.stop()
