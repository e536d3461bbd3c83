"""An index over the words of problems' custom fields: a problem search matches the problem's
own words (``ix_problems_search_vector``) or its custom fields' words, and with an index on each
PostgreSQL reads the matches through both instead of reading every problem (issue 14).

The expression is ``operational.customfields.models.search_expression('english')`` as it read
when this migration was written.

Revision ID: 0029_problem_custom_field_search
Revises: 0028_rules_in_engine
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_problem_custom_field_search"
down_revision: str | None = "0028_rules_in_engine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "operational"
INDEX = "ix_problems_custom_fields_search"
EXPRESSION = "jsonb_to_tsvector('english'::regconfig, custom_fields, '[\"string\"]'::jsonb)"


def upgrade() -> None:
    op.create_index(INDEX, "problems", [sa.text(EXPRESSION)], schema=S, postgresql_using="gin")


def downgrade() -> None:
    op.drop_index(INDEX, table_name="problems", schema=S)
