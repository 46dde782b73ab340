"""The ledger: the depositor's durable journal, one row per specimen (SQLite by default, PostgreSQL by URL)."""

from depot.deposit.ledger.planning import PlanSummary
from depot.deposit.ledger.states import State
from depot.deposit.ledger.store import Claim, FileRow, Ledger

__all__ = ["Claim", "FileRow", "Ledger", "PlanSummary", "State"]
