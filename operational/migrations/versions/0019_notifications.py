"""Notifications (issue 17, outbound): the transactional outbox, admins' mail templates and
webhooks, and each user's delivery preferences with the admins' defaults.

Revision ID: 0019_notifications
Revises: 0010_hardening
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019_notifications"
down_revision: str | None = "0017_policy_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "operational"
EVENT_TYPES = (
    "'incident.assigned', 'incident.commented', 'incident.resolved', 'incident.waiting', "
    "'sla.warning', 'sla.breached', 'sla.escalation', 'csat.invitation', 'change.notice', "
    "'approval.requested', 'approval.reminder', 'digest'"
)
DELIVERIES = "'mail', 'none', 'digest'"


def upgrade() -> None:
    op.create_table(
        "notification_webhooks",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "format in ('generic', 'slack', 'teams')",
            name=op.f("ck_notification_webhooks_known_format"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["operational.users.id"],
            name=op.f("fk_notification_webhooks_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_webhooks")),
        schema=SCHEMA,
    )
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("recipient_user_id", sa.BigInteger(), nullable=True),
        sa.Column("recipient_address", sa.String(length=320), nullable=True),
        sa.Column("webhook_id", sa.BigInteger(), nullable=True),
        sa.Column("ticket_number", sa.String(length=32), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "headers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("digest_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "state in ('pending', 'held', 'digested', 'delivered', 'dead')",
            name=op.f("ck_notification_outbox_known_state"),
        ),
        sa.CheckConstraint(
            "channel in ('mail', 'webhook')", name=op.f("ck_notification_outbox_known_channel")
        ),
        sa.CheckConstraint(
            f"event_type in ({EVENT_TYPES})", name=op.f("ck_notification_outbox_known_event_type")
        ),
        sa.CheckConstraint(
            "(channel = 'mail' and recipient_address is not null) or "
            "(channel = 'webhook' and webhook_id is not null)",
            name=op.f("ck_notification_outbox_has_destination"),
        ),
        sa.ForeignKeyConstraint(
            ["recipient_user_id"],
            ["operational.users.id"],
            name=op.f("fk_notification_outbox_recipient_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["operational.notification_webhooks.id"],
            name=op.f("fk_notification_outbox_webhook_id_notification_webhooks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["operational.notification_outbox.id"],
            name=op.f("fk_notification_outbox_digest_id_notification_outbox"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_notification_outbox_idempotency_key")),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_notification_outbox_due",
        "notification_outbox",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_notification_outbox_held",
        "notification_outbox",
        ["recipient_user_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("state = 'held'"),
    )
    op.create_index(
        "ix_notification_outbox_state_id", "notification_outbox", ["state", "id"], schema=SCHEMA
    )
    op.create_table(
        "notification_templates",
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated_by_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            f"event_type in ({EVENT_TYPES})",
            name=op.f("ck_notification_templates_known_event_type"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["operational.users.id"],
            name=op.f("fk_notification_templates_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("event_type", name=op.f("pk_notification_templates")),
        schema=SCHEMA,
    )
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            f"delivery in ({DELIVERIES})", name=op.f("ck_notification_preferences_known_delivery")
        ),
        sa.CheckConstraint(
            f"event_type in ({EVENT_TYPES})",
            name=op.f("ck_notification_preferences_known_event_type"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["operational.users.id"],
            name=op.f("fk_notification_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "event_type", name=op.f("pk_notification_preferences")),
        schema=SCHEMA,
    )
    op.create_table(
        "notification_defaults",
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            f"delivery in ({DELIVERIES})", name=op.f("ck_notification_defaults_known_delivery")
        ),
        sa.CheckConstraint(
            f"event_type in ({EVENT_TYPES})",
            name=op.f("ck_notification_defaults_known_event_type"),
        ),
        sa.PrimaryKeyConstraint("event_type", name=op.f("pk_notification_defaults")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    for table in (
        "notification_defaults",
        "notification_preferences",
        "notification_templates",
        "notification_outbox",
        "notification_webhooks",
    ):
        op.drop_table(table, schema=SCHEMA)
