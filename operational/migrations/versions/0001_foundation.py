"""foundation

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-24 23:13:34.040271
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_foundation"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


APPEND_ONLY_FUNCTION = """
create or replace function operational.refuse_event_change() returns trigger
language plpgsql as $$
begin
    raise exception 'operational.events is append-only: % is not allowed', tg_op
        using errcode = 'insufficient_privilege';
end
$$
"""


def upgrade() -> None:
    op.execute("create schema if not exists operational")
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column(
            "attempted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
        schema="operational",
    )
    op.create_index(
        "ix_login_attempts_client_attempted_at",
        "login_attempts",
        ["client", "attempted_at"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        "ix_login_attempts_email_attempted_at",
        "login_attempts",
        ["email", "attempted_at"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column(
            "assignment_strategy",
            sa.String(length=32),
            server_default="round_robin",
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "assignment_strategy in ('round_robin', 'least_loaded')",
            name=op.f("ck_teams_known_strategy"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
        schema="operational",
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("source_system", sa.String(length=64), server_default="native", nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("mfa_secret", sa.String(length=64), nullable=True),
        sa.Column("mfa_enabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("mfa_last_used_step", sa.BigInteger(), nullable=True),
        sa.Column("must_change_password", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("failed_login_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_users_source_system_external_id")
        ),
        schema="operational",
    )
    op.create_index(
        "ix_users_lower_email",
        "users",
        [sa.literal_column("lower(email)")],
        unique=True,
        schema="operational",
    )
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_label", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("source_system", sa.String(length=64), server_default="native", nullable=False),
        sa.Column("synthesized", sa.Boolean(), server_default="false", nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["operational.users.id"], name=op.f("fk_events_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint(
            "entity_type", "entity_id", "seq", name=op.f("uq_events_entity_type_entity_id_seq")
        ),
        schema="operational",
    )
    op.create_index(
        "ix_events_recorded_at",
        "events",
        ["recorded_at"],
        unique=False,
        schema="operational",
        postgresql_using="brin",
    )
    op.create_table(
        "mfa_recovery_codes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("code_hash", sa.Text(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["operational.users.id"],
            name=op.f("fk_mfa_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_recovery_codes")),
        schema="operational",
    )
    op.create_index(
        op.f("ix_mfa_recovery_codes_user_id"),
        "mfa_recovery_codes",
        ["user_id"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("family_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column(
            "issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["operational.users.id"],
            name=op.f("fk_refresh_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
        schema="operational",
    )
    op.create_index(
        op.f("ix_refresh_tokens_family_id"),
        "refresh_tokens",
        ["family_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_refresh_tokens_user_id"),
        "refresh_tokens",
        ["user_id"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("is_available", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["operational.teams.id"],
            name=op.f("fk_team_members_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["operational.users.id"],
            name=op.f("fk_team_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_team_members")),
        schema="operational",
    )
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "role in ('admin', 'agent', 'manager', 'requester', 'auditor', 'analyst')",
            name=op.f("ck_user_roles_known_role"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["operational.users.id"],
            name=op.f("fk_user_roles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role", name=op.f("pk_user_roles")),
        schema="operational",
    )
    # The event log is the analytic truth: the database itself refuses to rewrite it.
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "create trigger events_append_only before update or delete on operational.events "
        "for each row execute function operational.refuse_event_change()"
    )
    op.execute(
        "create trigger events_no_truncate before truncate on operational.events "
        "for each statement execute function operational.refuse_event_change()"
    )


def downgrade() -> None:
    op.drop_table("user_roles", schema="operational")
    op.drop_table("team_members", schema="operational")
    op.drop_index(
        op.f("ix_refresh_tokens_user_id"), table_name="refresh_tokens", schema="operational"
    )
    op.drop_index(
        op.f("ix_refresh_tokens_family_id"), table_name="refresh_tokens", schema="operational"
    )
    op.drop_table("refresh_tokens", schema="operational")
    op.drop_index(
        op.f("ix_mfa_recovery_codes_user_id"), table_name="mfa_recovery_codes", schema="operational"
    )
    op.drop_table("mfa_recovery_codes", schema="operational")
    op.drop_index("ix_events_recorded_at", table_name="events", schema="operational")
    op.drop_table("events", schema="operational")
    op.execute("drop function if exists operational.refuse_event_change()")
    op.drop_index("ix_users_lower_email", table_name="users", schema="operational")
    op.drop_table("users", schema="operational")
    op.drop_table("teams", schema="operational")
    op.drop_index(
        "ix_login_attempts_email_attempted_at", table_name="login_attempts", schema="operational"
    )
    op.drop_index(
        "ix_login_attempts_client_attempted_at", table_name="login_attempts", schema="operational"
    )
    op.drop_table("login_attempts", schema="operational")
