"""Alembic environment: runs against the connection that ``kb.db.migrate`` passes in."""

from alembic import context

import kb.models  # noqa: F401  (registers the tables on Base.metadata)
from kb.db import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
