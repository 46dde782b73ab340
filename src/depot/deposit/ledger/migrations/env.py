"""Alembic environment for the ledger: run with a connection handed over by ``Ledger.open``."""

from alembic import context

from depot.deposit.ledger.tables import metadata

VERSION_TABLE = "depot_ledger_version"

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
