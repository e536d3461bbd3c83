"""The SLA engine's alerts, escalation rules, escalations and notifications are about any record
(a record type and a record id), not only incidents, so that request approvals are reminded and
escalated through the same rules (issue 15).

- ``sla_alerts``, ``sla_escalations``, ``sla_notifications``: ``record_type`` and ``record_id``
  (existing rows: ``incident`` and their incident); ``incident_id`` is now derived from them (a
  stored generated column with the same foreign key and cascade); ``timer_id`` may be null (an
  approval's reminder has no timer), with unique keys per record for those.
- ``sla_escalation_rules``: ``record_type`` (existing rules: ``incident``), ``delay_minutes`` (how
  long after the alert an approval rule fires), ``user_id`` (an escalation's or notice's person),
  and the ``escalate`` action; one active rule for approvals is added: escalate to the approver's
  manager one business day after the reminder.
- ``request_approvals.escalated_to_id``: who may decide in the approver's place once escalated
  (existing escalations: the approver's manager); stages that escalated without a reminder get
  their escalation period as reminder period.

Revision ID: 0021_record_escalations
Revises: 0016_source_reconciliation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_record_escalations"
down_revision: str | None = "0016_source_reconciliation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "operational"
RECORD_TYPES = "'incident', 'request_approval'"
INCIDENT_OF_RECORD = "case when record_type = 'incident' then record_id end"
RECORD_TABLES = ("sla_alerts", "sla_escalations", "sla_notifications")
ACTIONS_BEFORE = "'notify', 'reassign', 'raise_priority'"
ACTIONS_AFTER = "'notify', 'reassign', 'raise_priority', 'escalate'"
DEFAULT_APPROVAL_RULE = "Waiting approvals: escalate to the approver's manager"


def _record_columns(table: str) -> None:
    op.add_column(
        table,
        sa.Column("record_type", sa.String(length=32), server_default="incident", nullable=False),
        schema=SCHEMA,
    )
    op.add_column(table, sa.Column("record_id", sa.BigInteger(), nullable=True), schema=SCHEMA)
    op.execute(f"update {SCHEMA}.{table} set record_id = incident_id")
    op.alter_column(table, "record_id", nullable=False, schema=SCHEMA)
    # Its foreign key and indexes go with it; they are made again on the derived column.
    op.drop_column(table, "incident_id", schema=SCHEMA)
    op.add_column(
        table,
        sa.Column("incident_id", sa.BigInteger(), sa.Computed(INCIDENT_OF_RECORD, persisted=True)),
        schema=SCHEMA,
    )
    op.create_foreign_key(
        op.f(f"fk_{table}_incident_id_incidents"),
        table,
        "incidents",
        ["incident_id"],
        ["id"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
        ondelete="CASCADE",
    )
    op.create_check_constraint(
        op.f(f"ck_{table}_known_record_type"),
        table,
        f"record_type in ({RECORD_TYPES})",
        schema=SCHEMA,
    )


def upgrade() -> None:
    for table in RECORD_TABLES:
        _record_columns(table)

    op.alter_column("sla_alerts", "timer_id", nullable=True, schema=SCHEMA)
    op.create_index(
        "uq_sla_alerts_untimed",
        "sla_alerts",
        ["record_type", "record_id", "target_minutes", "threshold"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("timer_id IS NULL"),
    )
    op.create_index(
        "ix_sla_alerts_pending",
        "sla_alerts",
        ["incident_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("escalated_at IS NULL"),
    )

    op.alter_column("sla_escalations", "timer_id", nullable=True, schema=SCHEMA)
    op.create_index(
        "uq_sla_escalations_untimed",
        "sla_escalations",
        ["record_type", "record_id", "rule_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("timer_id IS NULL"),
    )
    for table in ("sla_escalations", "sla_notifications"):
        op.create_index(f"ix_{table}_incident_id", table, ["incident_id"], schema=SCHEMA)
        op.create_index(f"ix_{table}_record", table, ["record_type", "record_id"], schema=SCHEMA)

    rules = "sla_escalation_rules"
    op.add_column(
        rules,
        sa.Column("record_type", sa.String(length=32), server_default="incident", nullable=False),
        schema=SCHEMA,
    )
    op.add_column(rules, sa.Column("delay_minutes", sa.Integer(), nullable=True), schema=SCHEMA)
    op.add_column(rules, sa.Column("user_id", sa.BigInteger(), nullable=True), schema=SCHEMA)
    op.create_foreign_key(
        op.f("fk_sla_escalation_rules_user_id_users"),
        rules,
        "users",
        ["user_id"],
        ["id"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_sla_escalation_rules_known_record_type"),
        rules,
        f"record_type in ({RECORD_TYPES})",
        schema=SCHEMA,
    )
    op.create_check_constraint(
        op.f("ck_sla_escalation_rules_delay_not_negative"),
        rules,
        "delay_minutes is null or delay_minutes >= 0",
        schema=SCHEMA,
    )
    op.drop_constraint(op.f("ck_sla_escalation_rules_known_action"), rules, schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_sla_escalation_rules_known_action"),
        rules,
        f"action in ({ACTIONS_AFTER})",
        schema=SCHEMA,
    )
    op.execute(
        sa.text(
            f"insert into {SCHEMA}.{rules} (name, description, is_active, record_type, threshold,"
            " action, delay_minutes) values (:name, :description, true, 'request_approval', 100,"
            " 'escalate', 480) on conflict (name) do nothing"
        ).bindparams(
            name=DEFAULT_APPROVAL_RULE,
            description=(
                "An approval still waiting one business day (480 minutes) after its reminder"
                " may be decided by the approver's manager too."
            ),
        )
    )

    op.add_column(
        "request_approvals",
        sa.Column("escalated_to_id", sa.BigInteger(), nullable=True),
        schema=SCHEMA,
    )
    op.create_foreign_key(
        op.f("fk_request_approvals_escalated_to_id_users"),
        "request_approvals",
        "users",
        ["escalated_to_id"],
        ["id"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
    )
    op.execute(
        f"update {SCHEMA}.request_approvals a set escalated_to_id = u.manager_id"
        f" from {SCHEMA}.users u where u.id = a.approver_id and a.escalated_at is not null"
    )
    # A stage that escalated without a reminder is now reminded then, and escalated by the rules.
    op.execute(
        f"update {SCHEMA}.request_approval_stages set reminder_minutes = escalation_minutes"
        " where reminder_minutes is null and escalation_minutes is not null"
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_request_approvals_escalated_to_id_users"), "request_approvals", schema=SCHEMA
    )
    op.drop_column("request_approvals", "escalated_to_id", schema=SCHEMA)
    rules = "sla_escalation_rules"
    # Rules of approvals (and what they did) cannot be said in the incidents-only shape.
    op.execute(
        f"delete from {SCHEMA}.sla_notifications where record_type <> 'incident';"
        f" delete from {SCHEMA}.sla_escalations where record_type <> 'incident';"
        f" delete from {SCHEMA}.sla_alerts where record_type <> 'incident';"
        f" delete from {SCHEMA}.{rules} where record_type <> 'incident' or action = 'escalate'"
    )
    op.drop_constraint(op.f("ck_sla_escalation_rules_known_action"), rules, schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_sla_escalation_rules_known_action"),
        rules,
        f"action in ({ACTIONS_BEFORE})",
        schema=SCHEMA,
    )
    op.drop_constraint(op.f("ck_sla_escalation_rules_delay_not_negative"), rules, schema=SCHEMA)
    op.drop_constraint(op.f("ck_sla_escalation_rules_known_record_type"), rules, schema=SCHEMA)
    op.drop_constraint(op.f("fk_sla_escalation_rules_user_id_users"), rules, schema=SCHEMA)
    for column in ("user_id", "delay_minutes", "record_type"):
        op.drop_column(rules, column, schema=SCHEMA)

    op.drop_index("uq_sla_escalations_untimed", "sla_escalations", schema=SCHEMA)
    op.alter_column("sla_escalations", "timer_id", nullable=False, schema=SCHEMA)
    op.drop_index("uq_sla_alerts_untimed", "sla_alerts", schema=SCHEMA)
    op.alter_column("sla_alerts", "timer_id", nullable=False, schema=SCHEMA)
    for table in RECORD_TABLES:
        op.drop_constraint(op.f(f"ck_{table}_known_record_type"), table, schema=SCHEMA)
        op.drop_column(table, "incident_id", schema=SCHEMA)  # its key and indexes go with it
        op.add_column(table, sa.Column("incident_id", sa.BigInteger()), schema=SCHEMA)
        op.execute(f"update {SCHEMA}.{table} set incident_id = record_id")
        op.alter_column(table, "incident_id", nullable=False, schema=SCHEMA)
        op.create_foreign_key(
            op.f(f"fk_{table}_incident_id_incidents"),
            table,
            "incidents",
            ["incident_id"],
            ["id"],
            source_schema=SCHEMA,
            referent_schema=SCHEMA,
            ondelete="CASCADE",
        )
        op.drop_column(table, "record_id", schema=SCHEMA)  # and the indexes on the record
        op.drop_column(table, "record_type", schema=SCHEMA)
    op.create_index(
        "ix_sla_alerts_pending",
        "sla_alerts",
        ["incident_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("escalated_at IS NULL"),
    )
    for table in ("sla_escalations", "sla_notifications"):
        op.create_index(f"ix_{table}_incident_id", table, ["incident_id"], schema=SCHEMA)
