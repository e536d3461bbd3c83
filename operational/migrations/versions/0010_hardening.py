"""Secure by default (issue 12): who raised a change, requesters' suggested impact and urgency,
who answered a survey and how, SLA timers that record why they cannot be computed, and the
process that runs an import.

- ``changes.raised_by_id``: the person who raised the change (from its ``created`` event for
  existing changes). Neither they, nor the requester, nor the implementer may approve it.
- ``incidents.suggested_impact`` / ``suggested_urgency``: what a requester proposed; agents set
  the impact and urgency that make the priority.
- ``csat_surveys.answered_via`` (requester, token, import) and ``answered_by_id``. Existing
  answers came through the link (native incidents) or an import.
- ``sla_timers.error`` and the timer state ``error``: a calendar the engine cannot use is shown
  on the timer instead of failing the request that changed the incident.
- ``import_runs.pid`` / ``host``: a run left ``running`` by a killed process is found and marked
  failed by the next run.

Revision ID: 0010_hardening
Revises: 0014_problems_knowledge
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_hardening"
down_revision: str | None = "0014_problems_knowledge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "operational"
TIMER_STATES = "'running', 'paused', 'met', 'breached', 'cancelled'"


# Both ticket types' surveys record how an answer came, and who gave it signed in.
SURVEY_TABLES = ("csat_surveys", "request_csat_surveys")


def upgrade() -> None:
    op.add_column(
        "changes", sa.Column("raised_by_id", sa.BigInteger(), nullable=True), schema=SCHEMA
    )
    op.create_foreign_key(
        op.f("fk_changes_raised_by_id_users"),
        "changes",
        "users",
        ["raised_by_id"],
        ["id"],
        source_schema=SCHEMA,
        referent_schema=SCHEMA,
    )
    op.execute(
        """
        update operational.changes c
        set raised_by_id = e.actor_id
        from operational.events e
        where e.entity_type = 'change' and e.entity_id = c.id and e.kind = 'created'
          and e.actor_id is not null and c.source_system = 'native'
        """
    )

    for column in ("suggested_impact", "suggested_urgency"):
        op.add_column(
            "incidents", sa.Column(column, sa.SmallInteger(), nullable=True), schema=SCHEMA
        )
        op.create_check_constraint(
            op.f(f"ck_incidents_{column}_range"),
            "incidents",
            f"{column} is null or {column} between 1 and 3",
            schema=SCHEMA,
        )

    for table in SURVEY_TABLES:
        op.add_column(table, sa.Column("answered_via", sa.String(16), nullable=True), schema=SCHEMA)
        op.add_column(
            table, sa.Column("answered_by_id", sa.BigInteger(), nullable=True), schema=SCHEMA
        )
        op.create_foreign_key(
            op.f(f"fk_{table}_answered_by_id_users"),
            table,
            "users",
            ["answered_by_id"],
            ["id"],
            source_schema=SCHEMA,
            referent_schema=SCHEMA,
        )
        op.create_check_constraint(
            op.f(f"ck_{table}_known_answered_via"),
            table,
            "answered_via is null or answered_via in ('requester', 'token', 'import')",
            schema=SCHEMA,
        )
    op.execute(
        "update operational.request_csat_surveys set answered_via = 'token' "
        "where answered_at is not null"
    )
    op.execute(
        """
        update operational.csat_surveys s
        set answered_via = case when i.source_system = 'native' then 'token' else 'import' end
        from operational.incidents i
        where i.id = s.incident_id and s.answered_at is not null
        """
    )

    op.add_column("sla_timers", sa.Column("error", sa.Text(), nullable=True), schema=SCHEMA)
    op.drop_constraint(op.f("ck_sla_timers_known_state"), "sla_timers", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_sla_timers_known_state"),
        "sla_timers",
        f"state in ({TIMER_STATES}, 'error')",
        schema=SCHEMA,
    )

    op.add_column("import_runs", sa.Column("pid", sa.Integer(), nullable=True), schema=SCHEMA)
    op.add_column("import_runs", sa.Column("host", sa.String(255), nullable=True), schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("import_runs", "host", schema=SCHEMA)
    op.drop_column("import_runs", "pid", schema=SCHEMA)
    op.execute("delete from operational.sla_timers where state = 'error'")
    op.drop_constraint(op.f("ck_sla_timers_known_state"), "sla_timers", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_sla_timers_known_state"), "sla_timers", f"state in ({TIMER_STATES})", schema=SCHEMA
    )
    op.drop_column("sla_timers", "error", schema=SCHEMA)
    for table in SURVEY_TABLES:
        op.drop_constraint(op.f(f"ck_{table}_known_answered_via"), table, schema=SCHEMA)
        op.drop_constraint(op.f(f"fk_{table}_answered_by_id_users"), table, schema=SCHEMA)
        op.drop_column(table, "answered_by_id", schema=SCHEMA)
        op.drop_column(table, "answered_via", schema=SCHEMA)
    for column in ("suggested_urgency", "suggested_impact"):
        op.drop_constraint(op.f(f"ck_incidents_{column}_range"), "incidents", schema=SCHEMA)
        op.drop_column("incidents", column, schema=SCHEMA)
    op.drop_constraint(op.f("fk_changes_raised_by_id_users"), "changes", schema=SCHEMA)
    op.drop_column("changes", "raised_by_id", schema=SCHEMA)
