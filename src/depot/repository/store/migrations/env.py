"""Alembic environment: run with a connection handed over by ``Database.migrate`` (no alembic.ini)."""

from alembic import context

from depot.repository.store.db import VERSION_TABLE
from depot.repository.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
