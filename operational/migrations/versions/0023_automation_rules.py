"""Automation rules (issue 18): the rules, the log of their runs (counters are read from it),
and the notifications' event type of a rule's notify and webhook actions.

Revision ID: 0023_automation_rules
Revises: 0024_bulk_jobs
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023_automation_rules"
down_revision: str | None = "0024_bulk_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "operational"

OLD_EVENT_TYPES = (
    "'incident.assigned', 'incident.commented', 'incident.resolved', 'incident.waiting', "
    "'sla.warning', 'sla.breached', 'sla.escalation', 'csat.invitation', 'change.notice', "
    "'approval.requested', 'approval.reminder', 'digest'"
)
NEW_EVENT_TYPES = (
    "'incident.assigned', 'incident.commented', 'incident.resolved', 'incident.waiting', "
    "'sla.warning', 'sla.breached', 'sla.escalation', 'csat.invitation', 'change.notice', "
    "'approval.requested', 'approval.reminder', 'automation.notice', 'digest'"
)
EVENT_TYPE_TABLES = (
    "notification_outbox",
    "notification_templates",
    "notification_preferences",
    "notification_defaults",
)


def _event_types(allowed: str) -> None:
    for table in EVENT_TYPE_TABLES:
        name = op.f(f"ck_{table}_known_event_type")
        op.drop_constraint(name, table, schema=S, type_="check")
        op.create_check_constraint(name, table, f"event_type in ({allowed})", schema=S)


def upgrade() -> None:
    op.create_table(
        "automation_rules",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), server_default="100", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("every_minutes", sa.Integer(), nullable=True),
        sa.Column("conditions", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("actions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("stop_processing", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("last_scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "record_type in ('incident', 'change')",
            name=op.f("ck_automation_rules_known_record_type"),
        ),
        sa.CheckConstraint(
            "trigger in ('created', 'updated', 'commented', 'state_changed', 'sla_warning', "
            "'sla_breached', 'schedule')",
            name=op.f("ck_automation_rules_known_trigger"),
        ),
        sa.CheckConstraint(
            "(trigger = 'schedule') = (every_minutes is not null)",
            name=op.f("ck_automation_rules_schedule_has_interval"),
        ),
        sa.CheckConstraint(
            "every_minutes is null or every_minutes >= 5",
            name=op.f("ck_automation_rules_sane_interval"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            [f"{S}.users.id"],
            name=op.f("fk_automation_rules_created_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_automation_rules_name")),
        schema=S,
    )
    op.create_index(
        "ix_automation_rules_lookup",
        "automation_rules",
        ["record_type", "trigger", "is_active", "position"],
        schema=S,
    )
    op.create_table(
        "automation_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.BigInteger(), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome in ('fired', 'failed', 'loop_cut')",
            name=op.f("ck_automation_runs_known_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            [f"{S}.automation_rules.id"],
            name=op.f("fk_automation_runs_rule_id_automation_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_runs")),
        schema=S,
    )
    op.create_index(
        "ix_automation_runs_rule",
        "automation_runs",
        ["rule_id", "outcome", "occurred_at"],
        schema=S,
    )
    _event_types(NEW_EVENT_TYPES)


def downgrade() -> None:
    op.execute(f"delete from {S}.notification_outbox where event_type = 'automation.notice'")
    op.execute(f"delete from {S}.notification_templates where event_type = 'automation.notice'")
    op.execute(f"delete from {S}.notification_preferences where event_type = 'automation.notice'")
    op.execute(f"delete from {S}.notification_defaults where event_type = 'automation.notice'")
    _event_types(OLD_EVENT_TYPES)
    op.drop_index("ix_automation_runs_rule", table_name="automation_runs", schema=S)
    op.drop_table("automation_runs", schema=S)
    op.drop_index("ix_automation_rules_lookup", table_name="automation_rules", schema=S)
    op.drop_table("automation_rules", schema=S)
