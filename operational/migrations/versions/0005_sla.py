"""Tables of the SLA engine (calendars, policies, timers, alerts, escalations, notifications),
and the defaults: a 24x7 UTC calendar and one policy per priority (docs/sla.md, "Policies").

Revision ID: 0005_sla
Revises: 0004_ingest
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision: str = "0005_sla"
down_revision: str | None = "0004_ingest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_CALENDAR = "24x7 (UTC)"
WHOLE_WEEK = {
    day: ["00:00-24:00"]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}
# (priority, name, first response, resolution) in business minutes of the 24x7 calendar.
DEFAULT_POLICIES = (
    (1, "P1 critical (default)", 15, 4 * 60),
    (2, "P2 high (default)", 30, 8 * 60),
    (3, "P3 moderate (default)", 2 * 60, 24 * 60),
    (4, "P4 low (default)", 8 * 60, 3 * 24 * 60),
    (5, "P5 planning (default)", 24 * 60, 7 * 24 * 60),
)
DEFAULT_PAUSE_ON = [{"state": "on_hold", "hold_reason": "awaiting_caller"}]


def upgrade() -> None:
    op.create_table(
        "sla_calendars",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("weekly_hours", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("holiday_country", sa.String(length=8), nullable=True),
        sa.Column("holiday_subdivision", sa.String(length=16), nullable=True),
        sa.Column("added_holidays", sa.ARRAY(sa.Date()), server_default="{}", nullable=False),
        sa.Column("removed_holidays", sa.ARRAY(sa.Date()), server_default="{}", nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_calendars")),
        sa.UniqueConstraint("name", name=op.f("uq_sla_calendars_name")),
        schema="operational",
    )
    op.create_table(
        "sla_policies",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=True),
        sa.Column("service", sa.String(length=200), nullable=True),
        sa.Column("category", sa.String(length=120), nullable=True),
        sa.Column("calendar_id", sa.BigInteger(), nullable=False),
        sa.Column("response_minutes", sa.Integer(), nullable=False),
        sa.Column("resolution_minutes", sa.Integer(), nullable=False),
        sa.Column("pause_on", postgresql.JSONB(astext_type=Text()), nullable=False),
        sa.Column("warning_thresholds", sa.ARRAY(sa.SmallInteger()), nullable=False),
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
            "priority is null or priority between 1 and 5",
            name=op.f("ck_sla_policies_priority_range"),
        ),
        sa.CheckConstraint(
            "resolution_minutes > 0", name=op.f("ck_sla_policies_resolution_positive")
        ),
        sa.CheckConstraint("response_minutes > 0", name=op.f("ck_sla_policies_response_positive")),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["operational.sla_calendars.id"],
            name=op.f("fk_sla_policies_calendar_id_sla_calendars"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_sla_policies_name")),
        schema="operational",
    )
    op.create_index(
        op.f("ix_sla_policies_calendar_id"),
        "sla_policies",
        ["calendar_id"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "sla_escalation_rules",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("threshold", sa.SmallInteger(), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=True),
        sa.Column("priority", sa.SmallInteger(), nullable=True),
        sa.Column("policy_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("raise_to_priority", sa.SmallInteger(), nullable=True),
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
            "action <> 'reassign' or team_id is not null",
            name=op.f("ck_sla_escalation_rules_reassign_has_team"),
        ),
        sa.CheckConstraint(
            "action in ('notify', 'reassign', 'raise_priority')",
            name=op.f("ck_sla_escalation_rules_known_action"),
        ),
        sa.CheckConstraint(
            "target is null or target in ('response', 'resolution')",
            name=op.f("ck_sla_escalation_rules_known_target"),
        ),
        sa.CheckConstraint(
            "priority is null or priority between 1 and 5",
            name=op.f("ck_sla_escalation_rules_priority_range"),
        ),
        sa.CheckConstraint(
            "raise_to_priority is null or raise_to_priority between 1 and 5",
            name=op.f("ck_sla_escalation_rules_raise_to_priority_range"),
        ),
        sa.CheckConstraint(
            "threshold between 1 and 100", name=op.f("ck_sla_escalation_rules_threshold_range")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["operational.sla_policies.id"],
            name=op.f("fk_sla_escalation_rules_policy_id_sla_policies"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["operational.teams.id"],
            name=op.f("fk_sla_escalation_rules_team_id_teams"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_escalation_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_sla_escalation_rules_name")),
        schema="operational",
    )
    op.create_table(
        "sla_timers",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("policy_id", sa.BigInteger(), nullable=False),
        sa.Column("target_minutes", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("elapsed_minutes", sa.Float(), nullable=False),
        sa.Column("paused_minutes", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "warnings_fired", sa.ARRAY(sa.SmallInteger()), server_default="{}", nullable=False
        ),
        sa.Column("next_alert_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state in ('running', 'paused', 'met', 'breached', 'cancelled')",
            name=op.f("ck_sla_timers_known_state"),
        ),
        sa.CheckConstraint(
            "target in ('response', 'resolution')", name=op.f("ck_sla_timers_known_target")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["operational.incidents.id"],
            name=op.f("fk_sla_timers_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["operational.sla_policies.id"],
            name=op.f("fk_sla_timers_policy_id_sla_policies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_timers")),
        sa.UniqueConstraint("incident_id", "target", name=op.f("uq_sla_timers_incident_id_target")),
        schema="operational",
    )
    op.create_index(
        "ix_sla_timers_next_alert_at",
        "sla_timers",
        ["next_alert_at"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_sla_timers_policy_id"),
        "sla_timers",
        ["policy_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        "ix_sla_timers_state_due_at",
        "sla_timers",
        ["state", "due_at"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "sla_alerts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("timer_id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("target_minutes", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.SmallInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "threshold between 1 and 100", name=op.f("ck_sla_alerts_threshold_range")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["operational.incidents.id"],
            name=op.f("fk_sla_alerts_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["timer_id"],
            ["operational.sla_timers.id"],
            name=op.f("fk_sla_alerts_timer_id_sla_timers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_alerts")),
        sa.UniqueConstraint(
            "timer_id",
            "target_minutes",
            "threshold",
            name=op.f("uq_sla_alerts_timer_id_target_minutes_threshold"),
        ),
        schema="operational",
    )
    op.create_index(
        "ix_sla_alerts_pending",
        "sla_alerts",
        ["incident_id"],
        unique=False,
        schema="operational",
        postgresql_where=sa.text("escalated_at IS NULL"),
    )
    op.create_table(
        "sla_escalations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.BigInteger(), nullable=False),
        sa.Column("timer_id", sa.BigInteger(), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=Text()), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["operational.sla_alerts.id"],
            name=op.f("fk_sla_escalations_alert_id_sla_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["operational.incidents.id"],
            name=op.f("fk_sla_escalations_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["operational.sla_escalation_rules.id"],
            name=op.f("fk_sla_escalations_rule_id_sla_escalation_rules"),
        ),
        sa.ForeignKeyConstraint(
            ["timer_id"],
            ["operational.sla_timers.id"],
            name=op.f("fk_sla_escalations_timer_id_sla_timers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_escalations")),
        sa.UniqueConstraint(
            "timer_id", "rule_id", name=op.f("uq_sla_escalations_timer_id_rule_id")
        ),
        schema="operational",
    )
    op.create_index(
        op.f("ix_sla_escalations_incident_id"),
        "sla_escalations",
        ["incident_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_sla_escalations_rule_id"),
        "sla_escalations",
        ["rule_id"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "sla_notifications",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("escalation_id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("recipient_team_id", sa.BigInteger(), nullable=True),
        sa.Column("recipient_user_id", sa.BigInteger(), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["operational.sla_escalations.id"],
            name=op.f("fk_sla_notifications_escalation_id_sla_escalations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["operational.incidents.id"],
            name=op.f("fk_sla_notifications_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_team_id"],
            ["operational.teams.id"],
            name=op.f("fk_sla_notifications_recipient_team_id_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["recipient_user_id"],
            ["operational.users.id"],
            name=op.f("fk_sla_notifications_recipient_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_notifications")),
        sa.UniqueConstraint("escalation_id", name=op.f("uq_sla_notifications_escalation_id")),
        schema="operational",
    )
    op.create_index(
        op.f("ix_sla_notifications_incident_id"),
        "sla_notifications",
        ["incident_id"],
        unique=False,
        schema="operational",
    )

    _seed_defaults()


def _seed_defaults() -> None:
    connection = op.get_bind()
    calendar_id = connection.execute(
        sa.text(
            "insert into operational.sla_calendars (name, description, timezone, weekly_hours) "
            "values (:name, :description, 'UTC', cast(:hours as jsonb)) returning id"
        ),
        {
            "name": DEFAULT_CALENDAR,
            "description": "Every minute counts: the default for every priority.",
            "hours": json.dumps(WHOLE_WEEK),
        },
    ).scalar_one()
    for priority, name, response, resolution in DEFAULT_POLICIES:
        connection.execute(
            sa.text(
                "insert into operational.sla_policies (name, description, priority, calendar_id,"
                " response_minutes, resolution_minutes, pause_on, warning_thresholds) values"
                " (:name, :description, :priority, :calendar_id, :response, :resolution,"
                " cast(:pause_on as jsonb), '{75,90}')"
            ),
            {
                "name": name,
                "description": f"Default targets for P{priority} incidents (seeded).",
                "priority": priority,
                "calendar_id": calendar_id,
                "response": response,
                "resolution": resolution,
                "pause_on": json.dumps(DEFAULT_PAUSE_ON),
            },
        )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_sla_notifications_incident_id"),
        table_name="sla_notifications",
        schema="operational",
    )
    op.drop_table("sla_notifications", schema="operational")
    op.drop_index(
        op.f("ix_sla_escalations_rule_id"), table_name="sla_escalations", schema="operational"
    )
    op.drop_index(
        op.f("ix_sla_escalations_incident_id"), table_name="sla_escalations", schema="operational"
    )
    op.drop_table("sla_escalations", schema="operational")
    op.drop_index(
        "ix_sla_alerts_pending",
        table_name="sla_alerts",
        schema="operational",
        postgresql_where=sa.text("escalated_at IS NULL"),
    )
    op.drop_table("sla_alerts", schema="operational")
    op.drop_index("ix_sla_timers_state_due_at", table_name="sla_timers", schema="operational")
    op.drop_index(op.f("ix_sla_timers_policy_id"), table_name="sla_timers", schema="operational")
    op.drop_index("ix_sla_timers_next_alert_at", table_name="sla_timers", schema="operational")
    op.drop_table("sla_timers", schema="operational")
    op.drop_table("sla_escalation_rules", schema="operational")
    op.drop_index(
        op.f("ix_sla_policies_calendar_id"), table_name="sla_policies", schema="operational"
    )
    op.drop_table("sla_policies", schema="operational")
    op.drop_table("sla_calendars", schema="operational")
