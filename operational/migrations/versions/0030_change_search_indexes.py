"""Indexes for a change search (``q``): the title or number contains the text (substring,
case-insensitive: pg_trgm's trigram indexes serve ``ILIKE '%...%'``), or the custom fields'
words match it (a GIN index over ``customfields.models.search_expression('english')``, as
problems have since 0029). With an index on each side of the OR, PostgreSQL reads the matches
instead of every change (issue 14).

pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: the owner, who has CREATE on
the database, may install it. Where it is not available or may not be installed, the trigram
indexes are left out and a search reads the table as before; nothing else depends on them.

Revision ID: 0030_change_search_indexes
Revises: 0029_problem_custom_field_search
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import DBAPIError

revision: str = "0030_change_search_indexes"
down_revision: str | None = "0029_problem_custom_field_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "operational"
CUSTOM = "ix_changes_custom_fields_search"
EXPRESSION = "jsonb_to_tsvector('english'::regconfig, custom_fields, '[\"string\"]'::jsonb)"
TRIGRAM_COLUMNS = ("title", "number")


def _trigram_schema() -> str | None:
    """The schema of pg_trgm's operator classes, installing the extension when it can."""
    bind = op.get_bind()
    find = sa.text(
        "select extnamespace::regnamespace::text from pg_extension where extname = 'pg_trgm'"
    )
    schema = bind.scalar(find)
    if schema is None:
        savepoint = bind.begin_nested()
        try:
            bind.execute(sa.text(f"create extension if not exists pg_trgm schema {S}"))
        except DBAPIError:
            savepoint.rollback()  # not shipped, or not ours to install: no trigram indexes
            return None
        savepoint.commit()
        schema = bind.scalar(find)
    return schema


def upgrade() -> None:
    op.create_index(CUSTOM, "changes", [sa.text(EXPRESSION)], schema=S, postgresql_using="gin")
    schema = _trigram_schema()
    if schema is None:
        return
    for column in TRIGRAM_COLUMNS:
        op.create_index(
            f"ix_changes_{column}_trigram",
            "changes",
            [sa.text(f"{column} {schema}.gin_trgm_ops")],
            schema=S,
            postgresql_using="gin",
        )


def downgrade() -> None:
    for column in TRIGRAM_COLUMNS:
        op.execute(f"drop index if exists {S}.ix_changes_{column}_trigram")
    op.drop_index(CUSTOM, table_name="changes", schema=S)
