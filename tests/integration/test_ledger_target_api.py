"""The ledger remembers the API it deposits through with its target (revision 0007_target_api), and the
commands default to it: a ledger from before knows none (auto), a flag overrides it."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from test_ledger_target import old_ledger

from depot.deposit.commands.targeting import choose_target
from depot.deposit.ledger import Ledger
from depot.deposit.ledger.engine import SCHEMA, create_engine, database_url
from depot.deposit.ledger.remembered import RememberedTarget


def test_an_old_ledger_has_no_api_until_one_is_remembered(ledger_url: str) -> None:
    old_ledger(ledger_url, "https://repo.example.org/api")
    engine = create_engine(database_url(ledger_url))
    with engine.connect() as conn:
        cfg = SCHEMA.alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006_report_index")
        command.upgrade(cfg, "0005_target")
        conn.commit()
        assert "api" not in {c["name"] for c in sa.inspect(conn).get_columns("target")}
    engine.dispose()
    ledger = Ledger.open(ledger_url)  # upgrades to 0007
    assert ledger.target() == RememberedTarget("https://repo.example.org/api", None, None)
    chosen, previous = choose_target(ledger, None, None)
    assert chosen.api is None and previous is None  # not known: the preflight detects it
    ledger.remember_target(RememberedTarget("https://repo.example.org/api", None, "rdm"))
    assert choose_target(ledger, None, None)[0].api == "rdm"  # later commands default to it
    assert choose_target(ledger, None, None, "legacy")[0].api == "legacy"  # --api overrides it
    assert choose_target(ledger, None, None, "auto")[0].api is None  # --api auto detects again
    moved = choose_target(ledger, "https://new.example.org/api", None)
    assert moved[0].api == "rdm" and moved[1] is not None  # a moved repository: the same API, checked there
    ledger.remember_target(RememberedTarget("local", Path("/data/repo"), "legacy"))
    assert ledger.target() == RememberedTarget("local", Path("/data/repo"), "legacy")
    ledger.close()
