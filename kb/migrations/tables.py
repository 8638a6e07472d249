"""The columns of the KB tables that data migrations read and write, as lightweight tables: a migration sees the
schema of its revision, never the ORM models of today's code."""

import sqlalchemy as sa

entities = sa.table(
    "kb_entities", sa.column("id", sa.String), sa.column("name", sa.String), sa.column("types", sa.JSON)
)
aliases = sa.table(
    "kb_aliases",
    sa.column("entity_id", sa.String),
    sa.column("norm", sa.String),
    sa.column("raw", sa.String),
    sa.column("source", sa.String),
)
meta = sa.table("kb_meta", sa.column("key", sa.String), sa.column("value", sa.Integer), sa.column("text", sa.String))
