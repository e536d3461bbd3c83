"""Versions of SLA policies and calendars with their periods of validity (issue 13, "any ticket
at any past instant").

- ``sla_calendar_versions`` / ``sla_policy_versions``: every content a calendar or policy had,
  from ``valid_from`` until ``valid_to`` (null: since the beginning / still in force).
- Every existing calendar and policy becomes its version 1, in force since the beginning.

Revision ID: 0017_policy_versions
Revises: 0010_hardening
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017_policy_versions"
down_revision: str | None = "0015_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "operational"
PERIOD = "valid_to is null or valid_from is null or valid_from <= valid_to"


def _period_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "sla_calendar_versions",
        sa.Column("calendar_id", sa.BigInteger(), nullable=False),
        *_period_columns(),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("weekly_hours", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("holiday_country", sa.String(length=8), nullable=True),
        sa.Column("holiday_subdivision", sa.String(length=16), nullable=True),
        sa.Column(
            "added_holidays", postgresql.ARRAY(sa.Date()), server_default="{}", nullable=False
        ),
        sa.Column(
            "removed_holidays", postgresql.ARRAY(sa.Date()), server_default="{}", nullable=False
        ),
        sa.CheckConstraint(PERIOD, name=op.f("ck_sla_calendar_versions_valid_period")),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["operational.sla_calendars.id"],
            name=op.f("fk_sla_calendar_versions_calendar_id_sla_calendars"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_calendar_versions")),
        sa.UniqueConstraint(
            "calendar_id", "version", name=op.f("uq_sla_calendar_versions_calendar_id_version")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_sla_calendar_versions_current",
        "sla_calendar_versions",
        ["calendar_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_table(
        "sla_policy_versions",
        sa.Column("policy_id", sa.BigInteger(), nullable=False),
        *_period_columns(),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=True),
        sa.Column("service", sa.String(length=200), nullable=True),
        sa.Column("category", sa.String(length=120), nullable=True),
        sa.Column("calendar_id", sa.BigInteger(), nullable=False),
        sa.Column("response_minutes", sa.Integer(), nullable=False),
        sa.Column("resolution_minutes", sa.Integer(), nullable=False),
        sa.Column("pause_on", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("warning_thresholds", postgresql.ARRAY(sa.SmallInteger()), nullable=False),
        sa.CheckConstraint(PERIOD, name=op.f("ck_sla_policy_versions_valid_period")),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["operational.sla_policies.id"],
            name=op.f("fk_sla_policy_versions_policy_id_sla_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policy_versions")),
        sa.UniqueConstraint(
            "policy_id", "version", name=op.f("uq_sla_policy_versions_policy_id_version")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_sla_policy_versions_current",
        "sla_policy_versions",
        ["policy_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    # What exists now has always been in force, as far as anyone can tell.
    op.execute(
        """
        insert into operational.sla_calendar_versions (
            calendar_id, version, valid_from, valid_to, name, timezone, weekly_hours,
            holiday_country, holiday_subdivision, added_holidays, removed_holidays)
        select id, 1, null, null, name, timezone, weekly_hours, holiday_country,
               holiday_subdivision, added_holidays, removed_holidays
        from operational.sla_calendars
        """
    )
    op.execute(
        """
        insert into operational.sla_policy_versions (
            policy_id, version, valid_from, valid_to, name, is_active, priority, service,
            category, calendar_id, response_minutes, resolution_minutes, pause_on,
            warning_thresholds)
        select id, 1, null, null, name, is_active, priority, service, category, calendar_id,
               response_minutes, resolution_minutes, pause_on, warning_thresholds
        from operational.sla_policies
        """
    )


def downgrade() -> None:
    op.drop_index("ix_sla_policy_versions_current", table_name="sla_policy_versions", schema=SCHEMA)
    op.drop_table("sla_policy_versions", schema=SCHEMA)
    op.drop_index(
        "ix_sla_calendar_versions_current", table_name="sla_calendar_versions", schema=SCHEMA
    )
    op.drop_table("sla_calendar_versions", schema=SCHEMA)
