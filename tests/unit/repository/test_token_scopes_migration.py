"""Migration 0006: tokens made before scopes existed keep uploading and publishing (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from depot.repository.services.accounts import AccountService, hash_token
from depot.repository.store.db import SCHEMA, Database


def test_a_token_from_before_scopes_gets_both_deposit_scopes(ledger_url: str) -> None:
    url = ledger_url if ledger_url.startswith("postgresql") else f"sqlite:///{ledger_url}"
    db = Database.open(url, migrate=False)
    try:
        cfg = SCHEMA.alembic_config()
        with db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0005_withdrawal")  # the schema as it was, tokens without scopes
            conn.commit()
        with db.engine.begin() as conn:
            assert "scopes" not in {c["name"] for c in sa.inspect(conn).get_columns("tokens")}
            uid = conn.execute(sa.text("INSERT INTO users (email, created) VALUES ('old@example.org', 'x') "
                                       "RETURNING id")).scalar_one()
            conn.execute(sa.text("INSERT INTO tokens (user_id, token_hash, name, created) VALUES (:u, :h, 'old', 'x')"),
                         {"u": uid, "h": hash_token("made-before-scopes")})
        db.migrate()
        found = AccountService(db).identity_for_token("made-before-scopes")
        assert found is not None and found.user_id == uid
        assert found.scopes == {"deposit:write", "deposit:actions"}
    finally:
        db.dispose()
