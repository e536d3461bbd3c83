"""incidents

Revision ID: 0002_incidents
Revises: 0001_foundation
Create Date: 2026-11-24 23:13:35.897364
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_incidents"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("create sequence if not exists operational.incident_number_seq")
    op.create_table(
        "incidents",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("opened_by_id", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=120), nullable=True),
        sa.Column("subcategory", sa.String(length=120), nullable=True),
        sa.Column("service", sa.String(length=200), nullable=True),
        sa.Column("configuration_item", sa.String(length=200), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("impact", sa.SmallInteger(), nullable=False),
        sa.Column("urgency", sa.SmallInteger(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("priority_overridden", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("priority_override_reason", sa.Text(), nullable=True),
        sa.Column("assignment_group_id", sa.BigInteger(), nullable=True),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("hold_reason", sa.String(length=32), nullable=True),
        sa.Column("resolution_code", sa.String(length=120), nullable=True),
        sa.Column("resolution_notes", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("reopen_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reassignment_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("source_system", sa.String(length=64), server_default="native", nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("source_made_sla", sa.Boolean(), nullable=True),
        sa.Column("problem_ref", sa.String(length=64), nullable=True),
        sa.Column("change_ref", sa.String(length=64), nullable=True),
        sa.Column("first_assignment_group_id", sa.BigInteger(), nullable=True),
        sa.Column("first_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.BigInteger(), nullable=True),
        sa.Column("escalated", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "requester_replied_before_resolution",
            sa.Boolean(),
            server_default="false",
            nullable=False,
        ),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('english'::regconfig, coalesce(number, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "channel in ('phone', 'email', 'portal', 'chat', 'walk_in', 'monitoring')",
            name=op.f("ck_incidents_known_channel"),
        ),
        sa.CheckConstraint(
            "hold_reason is null or hold_reason in ('awaiting_caller', 'awaiting_vendor', 'awaiting_change', 'awaiting_problem', 'awaiting_evidence')",
            name=op.f("ck_incidents_known_hold_reason"),
        ),
        sa.CheckConstraint(
            "state in ('new', 'assigned', 'in_progress', 'on_hold', 'resolved', 'closed', 'cancelled')",
            name=op.f("ck_incidents_known_state"),
        ),
        sa.CheckConstraint("impact between 1 and 3", name=op.f("ck_incidents_impact_range")),
        sa.CheckConstraint("priority between 1 and 5", name=op.f("ck_incidents_priority_range")),
        sa.CheckConstraint("urgency between 1 and 3", name=op.f("ck_incidents_urgency_range")),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["operational.users.id"], name=op.f("fk_incidents_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["assignment_group_id"],
            ["operational.teams.id"],
            name=op.f("fk_incidents_assignment_group_id_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["first_assignment_group_id"],
            ["operational.teams.id"],
            name=op.f("fk_incidents_first_assignment_group_id_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["operational.users.id"],
            name=op.f("fk_incidents_resolved_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["first_assignee_id"],
            ["operational.users.id"],
            name=op.f("fk_incidents_first_assignee_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"], ["operational.users.id"], name=op.f("fk_incidents_opened_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["operational.users.id"], name=op.f("fk_incidents_requester_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("number", name=op.f("uq_incidents_number")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_incidents_source_system_external_id")
        ),
        schema="operational",
    )
    op.create_index(
        op.f("ix_incidents_assignee_id"),
        "incidents",
        ["assignee_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_incidents_assignment_group_id"),
        "incidents",
        ["assignment_group_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_incidents_category"), "incidents", ["category"], unique=False, schema="operational"
    )
    op.create_index(
        op.f("ix_incidents_opened_at"),
        "incidents",
        ["opened_at"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_incidents_priority"), "incidents", ["priority"], unique=False, schema="operational"
    )
    op.create_index(
        op.f("ix_incidents_requester_id"),
        "incidents",
        ["requester_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_incidents_service"), "incidents", ["service"], unique=False, schema="operational"
    )
    op.create_index(
        op.f("ix_incidents_state"), "incidents", ["state"], unique=False, schema="operational"
    )
    op.create_index(
        op.f("ix_incidents_updated_at"),
        "incidents",
        ["updated_at"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        "ix_incidents_search_vector",
        "incidents",
        ["search_vector"],
        unique=False,
        schema="operational",
        postgresql_using="gin",
    )
    op.create_table(
        "incident_comments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english'::regconfig, body)", persisted=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["operational.users.id"],
            name=op.f("fk_incident_comments_author_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["operational.incidents.id"],
            name=op.f("fk_incident_comments_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_comments")),
        schema="operational",
    )
    op.create_index(
        "ix_incident_comments_incident_id_created_at",
        "incident_comments",
        ["incident_id", "created_at"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        "ix_incident_comments_search_vector",
        "incident_comments",
        ["search_vector"],
        unique=False,
        schema="operational",
        postgresql_using="gin",
    )
    op.create_table(
        "assignment_rules",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), server_default="100", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("category", sa.String(length=120), nullable=True),
        sa.Column("service", sa.String(length=200), nullable=True),
        sa.Column("keywords", sa.ARRAY(sa.String(length=120)), server_default="{}", nullable=False),
        sa.Column("team_id", sa.BigInteger(), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["operational.teams.id"],
            name=op.f("fk_assignment_rules_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_assignment_rules_name")),
        schema="operational",
    )
    op.create_index(
        op.f("ix_assignment_rules_team_id"),
        "assignment_rules",
        ["team_id"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "csat_surveys",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(answered_at is null) = (rating is null)",
            name=op.f("ck_csat_surveys_answered_with_rating"),
        ),
        sa.CheckConstraint(
            "rating is null or rating between 1 and 5", name=op.f("ck_csat_surveys_rating_range")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["operational.incidents.id"],
            name=op.f("fk_csat_surveys_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["operational.users.id"],
            name=op.f("fk_csat_surveys_requester_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csat_surveys")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_csat_surveys_token_hash")),
        schema="operational",
    )
    op.create_index(
        op.f("ix_csat_surveys_incident_id"),
        "csat_surveys",
        ["incident_id"],
        unique=False,
        schema="operational",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_csat_surveys_incident_id"), table_name="csat_surveys", schema="operational"
    )
    op.drop_table("csat_surveys", schema="operational")
    op.drop_index(
        op.f("ix_assignment_rules_team_id"), table_name="assignment_rules", schema="operational"
    )
    op.drop_table("assignment_rules", schema="operational")
    op.drop_index(
        "ix_incident_comments_search_vector",
        table_name="incident_comments",
        schema="operational",
    )
    op.drop_index(
        "ix_incident_comments_incident_id_created_at",
        table_name="incident_comments",
        schema="operational",
    )
    op.drop_table("incident_comments", schema="operational")
    op.drop_index("ix_incidents_search_vector", table_name="incidents", schema="operational")
    op.drop_index(op.f("ix_incidents_updated_at"), table_name="incidents", schema="operational")
    op.drop_index(op.f("ix_incidents_state"), table_name="incidents", schema="operational")
    op.drop_index(op.f("ix_incidents_service"), table_name="incidents", schema="operational")
    op.drop_index(op.f("ix_incidents_requester_id"), table_name="incidents", schema="operational")
    op.drop_index(op.f("ix_incidents_priority"), table_name="incidents", schema="operational")
    op.drop_index(op.f("ix_incidents_opened_at"), table_name="incidents", schema="operational")
    op.drop_index(op.f("ix_incidents_category"), table_name="incidents", schema="operational")
    op.drop_index(
        op.f("ix_incidents_assignment_group_id"), table_name="incidents", schema="operational"
    )
    op.drop_index(op.f("ix_incidents_assignee_id"), table_name="incidents", schema="operational")
    op.drop_table("incidents", schema="operational")
    op.execute("drop sequence if exists operational.incident_number_seq")
