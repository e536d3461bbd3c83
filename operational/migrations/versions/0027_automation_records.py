"""Automation rules for problems and service requests (issue 18): the record types ``problem``
and ``request`` for rules. Downgrading deletes the rules of those types (and their runs, which
cascade): the older schema cannot hold them.

Revision ID: 0027_automation_records
Revises: 0026_custom_fields_more
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027_automation_records"
down_revision: str | None = "0026_custom_fields_more"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "operational"
CHECK = "ck_automation_rules_known_record_type"


def _record_types(values: str) -> None:
    op.drop_constraint(op.f(CHECK), "automation_rules", schema=S, type_="check")
    op.create_check_constraint(
        op.f(CHECK), "automation_rules", f"record_type in ({values})", schema=S
    )


def upgrade() -> None:
    _record_types("'incident', 'change', 'problem', 'request'")


def downgrade() -> None:
    op.execute(f"delete from {S}.automation_rules where record_type not in ('incident', 'change')")
    _record_types("'incident', 'change'")
