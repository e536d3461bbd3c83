"""Service requests: the catalog (categories, items and their versions), requests, request items,
approval stages and approvals, delegations, fulfilment tasks, request surveys; and the reporting
line on users (manager, cost centre with its owner) that approvals follow (docs/requests.md).

Revision ID: 0013_service_requests
Revises: 0008_secrets_sessions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013_service_requests"
down_revision: str | None = "0008_secrets_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQUENCES = ("request_number_seq", "request_item_number_seq", "request_task_number_seq")


def upgrade() -> None:
    for sequence in SEQUENCES:
        op.execute(f"create sequence if not exists operational.{sequence}")
    op.create_table(
        "catalog_categories",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), server_default="100", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_categories")),
        sa.UniqueConstraint("name", name=op.f("uq_catalog_categories_name")),
        schema="operational",
    )
    op.create_table(
        "cost_centers",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["operational.users.id"],
            name=op.f("fk_cost_centers_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_centers")),
        sa.UniqueConstraint("code", name=op.f("uq_cost_centers_code")),
        schema="operational",
    )
    op.create_table(
        "approval_delegations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("delegator_id", sa.BigInteger(), nullable=False),
        sa.Column("delegate_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "delegate_id <> delegator_id", name=op.f("ck_approval_delegations_not_to_oneself")
        ),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_approval_delegations_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["delegate_id"],
            ["operational.users.id"],
            name=op.f("fk_approval_delegations_delegate_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["delegator_id"],
            ["operational.users.id"],
            name=op.f("fk_approval_delegations_delegator_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_delegations")),
        schema="operational",
    )
    op.create_index(
        op.f("ix_approval_delegations_delegate_id"),
        "approval_delegations",
        ["delegate_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_approval_delegations_delegator_id"),
        "approval_delegations",
        ["delegator_id"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "catalog_items",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), server_default="EUR", nullable=False),
        sa.Column("fulfilment_team_id", sa.BigInteger(), nullable=True),
        sa.Column("delivery_minutes", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "orderable_roles", sa.ARRAY(sa.String(length=32)), server_default="{}", nullable=False
        ),
        sa.Column(
            "orderable_team_ids", sa.ARRAY(sa.BigInteger()), server_default="{}", nullable=False
        ),
        sa.Column("form_schema", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("approval_policy", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("fulfilment_plan", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
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
        sa.CheckConstraint("delivery_minutes > 0", name=op.f("ck_catalog_items_delivery_positive")),
        sa.CheckConstraint(
            "price is null or price >= 0", name=op.f("ck_catalog_items_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["operational.sla_calendars.id"],
            name=op.f("fk_catalog_items_calendar_id_sla_calendars"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["operational.catalog_categories.id"],
            name=op.f("fk_catalog_items_category_id_catalog_categories"),
        ),
        sa.ForeignKeyConstraint(
            ["fulfilment_team_id"],
            ["operational.teams.id"],
            name=op.f("fk_catalog_items_fulfilment_team_id_teams"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_items")),
        sa.UniqueConstraint("name", name=op.f("uq_catalog_items_name")),
        schema="operational",
    )
    op.create_index(
        op.f("ix_catalog_items_category_id"),
        "catalog_items",
        ["category_id"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "requests",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=False),
        sa.Column("opened_by_id", sa.BigInteger(), nullable=True),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("source_system", sa.String(length=64), server_default="native", nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
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
            "state in ('open', 'closed', 'cancelled')", name=op.f("ck_requests_known_state")
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"], ["operational.users.id"], name=op.f("fk_requests_opened_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["operational.users.id"], name=op.f("fk_requests_requester_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
        sa.UniqueConstraint("number", name=op.f("uq_requests_number")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_requests_source_system_external_id")
        ),
        schema="operational",
    )
    op.create_index(
        op.f("ix_requests_opened_at"), "requests", ["opened_at"], unique=False, schema="operational"
    )
    op.create_index(
        op.f("ix_requests_requester_id"),
        "requests",
        ["requester_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_requests_state"), "requests", ["state"], unique=False, schema="operational"
    )
    op.create_table(
        "catalog_item_versions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["operational.users.id"],
            name=op.f("fk_catalog_item_versions_created_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["operational.catalog_items.id"],
            name=op.f("fk_catalog_item_versions_item_id_catalog_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_item_versions")),
        sa.UniqueConstraint(
            "item_id", "version", name=op.f("uq_catalog_item_versions_item_id_version")
        ),
        schema="operational",
    )
    op.create_table(
        "request_csat_surveys",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(answered_at is null) = (rating is null)",
            name=op.f("ck_request_csat_surveys_answered_with_rating"),
        ),
        sa.CheckConstraint(
            "rating is null or rating between 1 and 5",
            name=op.f("ck_request_csat_surveys_rating_range"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["operational.requests.id"],
            name=op.f("fk_request_csat_surveys_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["operational.users.id"],
            name=op.f("fk_request_csat_surveys_requester_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_csat_surveys")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_request_csat_surveys_token_hash")),
        schema="operational",
    )
    op.create_index(
        op.f("ix_request_csat_surveys_request_id"),
        "request_csat_surveys",
        ["request_id"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "request_items",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.SmallInteger(), nullable=False),
        sa.Column("catalog_item_id", sa.BigInteger(), nullable=False),
        sa.Column("item_version", sa.Integer(), nullable=False),
        sa.Column("item_name", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), server_default="1", nullable=False),
        sa.Column("answers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("cost", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("fulfilment_team_id", sa.BigInteger(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("approval_wait_minutes", sa.Float(), nullable=True),
        sa.Column("approval_wait_business_minutes", sa.Float(), nullable=True),
        sa.Column("fulfilment_minutes", sa.Float(), nullable=True),
        sa.Column("fulfilment_business_minutes", sa.Float(), nullable=True),
        sa.Column("sla_calendar_id", sa.BigInteger(), nullable=True),
        sa.Column("sla_target_minutes", sa.Integer(), nullable=False),
        sa.Column("sla_state", sa.String(length=16), nullable=False),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_elapsed_minutes", sa.Float(), nullable=False),
        sa.Column("sla_paused_minutes", sa.Float(), nullable=False),
        sa.Column("sla_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_next_alert_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("source_system", sa.String(length=64), server_default="native", nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
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
            "sla_state in ('running', 'paused', 'met', 'breached', 'cancelled')",
            name=op.f("ck_request_items_known_sla_state"),
        ),
        sa.CheckConstraint(
            "state in ('pending_approval', 'in_fulfilment', 'awaiting_requester', 'delivered', 'rejected', 'cancelled')",
            name=op.f("ck_request_items_known_state"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_request_items_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["catalog_item_id"],
            ["operational.catalog_items.id"],
            name=op.f("fk_request_items_catalog_item_id_catalog_items"),
        ),
        sa.ForeignKeyConstraint(
            ["fulfilment_team_id"],
            ["operational.teams.id"],
            name=op.f("fk_request_items_fulfilment_team_id_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["operational.requests.id"],
            name=op.f("fk_request_items_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sla_calendar_id"],
            ["operational.sla_calendars.id"],
            name=op.f("fk_request_items_sla_calendar_id_sla_calendars"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_items")),
        sa.UniqueConstraint("number", name=op.f("uq_request_items_number")),
        sa.UniqueConstraint("request_id", "line", name=op.f("uq_request_items_request_id_line")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_request_items_source_system_external_id")
        ),
        schema="operational",
    )
    op.create_index(
        op.f("ix_request_items_catalog_item_id"),
        "request_items",
        ["catalog_item_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_request_items_request_id"),
        "request_items",
        ["request_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        "ix_request_items_sla_next_alert_at",
        "request_items",
        ["sla_next_alert_at"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_request_items_state"),
        "request_items",
        ["state"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "request_approval_stages",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("request_item_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("quorum", sa.SmallInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reminder_minutes", sa.Integer(), nullable=True),
        sa.Column("escalation_minutes", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "rule in ('one', 'all', 'quorum')", name=op.f("ck_request_approval_stages_known_rule")
        ),
        sa.CheckConstraint(
            "state in ('waiting', 'pending', 'approved', 'rejected', 'skipped', 'cancelled')",
            name=op.f("ck_request_approval_stages_known_state"),
        ),
        sa.ForeignKeyConstraint(
            ["request_item_id"],
            ["operational.request_items.id"],
            name=op.f("fk_request_approval_stages_request_item_id_request_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_approval_stages")),
        sa.UniqueConstraint(
            "request_item_id",
            "position",
            name=op.f("uq_request_approval_stages_request_item_id_position"),
        ),
        schema="operational",
    )
    op.create_index(
        op.f("ix_request_approval_stages_request_item_id"),
        "request_approval_stages",
        ["request_item_id"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "request_tasks",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("request_item_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("assignment_group_id", sa.BigInteger(), nullable=True),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_notes", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("source_system", sa.String(length=64), server_default="native", nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state in ('pending', 'open', 'in_progress', 'closed', 'cancelled')",
            name=op.f("ck_request_tasks_known_state"),
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["operational.users.id"],
            name=op.f("fk_request_tasks_assignee_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["assignment_group_id"],
            ["operational.teams.id"],
            name=op.f("fk_request_tasks_assignment_group_id_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["request_item_id"],
            ["operational.request_items.id"],
            name=op.f("fk_request_tasks_request_item_id_request_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_tasks")),
        sa.UniqueConstraint("number", name=op.f("uq_request_tasks_number")),
        sa.UniqueConstraint(
            "request_item_id", "position", name=op.f("uq_request_tasks_request_item_id_position")
        ),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_request_tasks_source_system_external_id")
        ),
        schema="operational",
    )
    op.create_index(
        op.f("ix_request_tasks_assignee_id"),
        "request_tasks",
        ["assignee_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_request_tasks_assignment_group_id"),
        "request_tasks",
        ["assignment_group_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_request_tasks_request_item_id"),
        "request_tasks",
        ["request_item_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_request_tasks_state"),
        "request_tasks",
        ["state"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "request_approvals",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("stage_id", sa.BigInteger(), nullable=False),
        sa.Column("request_item_id", sa.BigInteger(), nullable=False),
        sa.Column("approver_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.BigInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_alert_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state in ('pending', 'approved', 'rejected', 'not_required')",
            name=op.f("ck_request_approvals_known_state"),
        ),
        sa.ForeignKeyConstraint(
            ["approver_id"],
            ["operational.users.id"],
            name=op.f("fk_request_approvals_approver_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["operational.users.id"],
            name=op.f("fk_request_approvals_decided_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["request_item_id"],
            ["operational.request_items.id"],
            name=op.f("fk_request_approvals_request_item_id_request_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["operational.request_approval_stages.id"],
            name=op.f("fk_request_approvals_stage_id_request_approval_stages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_approvals")),
        sa.UniqueConstraint(
            "stage_id", "approver_id", name=op.f("uq_request_approvals_stage_id_approver_id")
        ),
        schema="operational",
    )
    op.create_index(
        op.f("ix_request_approvals_approver_id"),
        "request_approvals",
        ["approver_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_request_approvals_next_alert_at"),
        "request_approvals",
        ["next_alert_at"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_request_approvals_request_item_id"),
        "request_approvals",
        ["request_item_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_request_approvals_state"),
        "request_approvals",
        ["state"],
        unique=False,
        schema="operational",
    )
    op.add_column(
        "users", sa.Column("manager_id", sa.BigInteger(), nullable=True), schema="operational"
    )
    op.add_column(
        "users", sa.Column("cost_center_id", sa.BigInteger(), nullable=True), schema="operational"
    )
    op.create_foreign_key(
        op.f("fk_users_cost_center_id_cost_centers"),
        "users",
        "cost_centers",
        ["cost_center_id"],
        ["id"],
        source_schema="operational",
        referent_schema="operational",
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        op.f("fk_users_manager_id_users"),
        "users",
        "users",
        ["manager_id"],
        ["id"],
        source_schema="operational",
        referent_schema="operational",
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_users_manager_id_users"), "users", schema="operational", type_="foreignkey"
    )
    op.drop_constraint(
        op.f("fk_users_cost_center_id_cost_centers"),
        "users",
        schema="operational",
        type_="foreignkey",
    )
    op.drop_column("users", "cost_center_id", schema="operational")
    op.drop_column("users", "manager_id", schema="operational")
    op.drop_index(
        op.f("ix_request_approvals_state"), table_name="request_approvals", schema="operational"
    )
    op.drop_index(
        op.f("ix_request_approvals_request_item_id"),
        table_name="request_approvals",
        schema="operational",
    )
    op.drop_index(
        op.f("ix_request_approvals_next_alert_at"),
        table_name="request_approvals",
        schema="operational",
    )
    op.drop_index(
        op.f("ix_request_approvals_approver_id"),
        table_name="request_approvals",
        schema="operational",
    )
    op.drop_table("request_approvals", schema="operational")
    op.drop_index(op.f("ix_request_tasks_state"), table_name="request_tasks", schema="operational")
    op.drop_index(
        op.f("ix_request_tasks_request_item_id"), table_name="request_tasks", schema="operational"
    )
    op.drop_index(
        op.f("ix_request_tasks_assignment_group_id"),
        table_name="request_tasks",
        schema="operational",
    )
    op.drop_index(
        op.f("ix_request_tasks_assignee_id"), table_name="request_tasks", schema="operational"
    )
    op.drop_table("request_tasks", schema="operational")
    op.drop_index(
        op.f("ix_request_approval_stages_request_item_id"),
        table_name="request_approval_stages",
        schema="operational",
    )
    op.drop_table("request_approval_stages", schema="operational")
    op.drop_index(op.f("ix_request_items_state"), table_name="request_items", schema="operational")
    op.drop_index(
        "ix_request_items_sla_next_alert_at", table_name="request_items", schema="operational"
    )
    op.drop_index(
        op.f("ix_request_items_request_id"), table_name="request_items", schema="operational"
    )
    op.drop_index(
        op.f("ix_request_items_catalog_item_id"), table_name="request_items", schema="operational"
    )
    op.drop_table("request_items", schema="operational")
    op.drop_index(
        op.f("ix_request_csat_surveys_request_id"),
        table_name="request_csat_surveys",
        schema="operational",
    )
    op.drop_table("request_csat_surveys", schema="operational")
    op.drop_table("catalog_item_versions", schema="operational")
    op.drop_index(op.f("ix_requests_state"), table_name="requests", schema="operational")
    op.drop_index(op.f("ix_requests_requester_id"), table_name="requests", schema="operational")
    op.drop_index(op.f("ix_requests_opened_at"), table_name="requests", schema="operational")
    op.drop_table("requests", schema="operational")
    op.drop_index(
        op.f("ix_catalog_items_category_id"), table_name="catalog_items", schema="operational"
    )
    op.drop_table("catalog_items", schema="operational")
    op.drop_index(
        op.f("ix_approval_delegations_delegator_id"),
        table_name="approval_delegations",
        schema="operational",
    )
    op.drop_index(
        op.f("ix_approval_delegations_delegate_id"),
        table_name="approval_delegations",
        schema="operational",
    )
    op.drop_table("approval_delegations", schema="operational")
    op.drop_table("cost_centers", schema="operational")
    op.drop_table("catalog_categories", schema="operational")
    for sequence in SEQUENCES:
        op.execute(f"drop sequence if exists operational.{sequence}")
