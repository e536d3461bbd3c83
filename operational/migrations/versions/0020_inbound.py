"""Inbound: mail and webhook messages (each recorded once), mail attachments, webhook sources,
alert → incident links; and the event log's NOTIFY for the live stream.

Revision ID: 0020_inbound
Revises: 0010_hardening
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_inbound"
down_revision: str | None = "0010_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "operational"

# One notification per appended event ({"id", "type", "record"}: small, well under NOTIFY's
# 8,000 bytes), on channel itsm_events, at commit. A statement that appends more than
# BULK events (ingest's COPY, large imports) sends one {"bulk": n} notification instead: the
# stream does not replay imports event by event. A statement-level trigger with a transition
# table, so that COPY is covered too and costs one call per statement.
BULK = 1000
NOTIFY_FUNCTION = f"""
create or replace function {S}.notify_events() returns trigger
language plpgsql as $$
declare
    appended bigint;
    event record;
begin
    select count(*) into appended from appended_events;
    if appended > {BULK} then
        perform pg_notify('itsm_events', json_build_object('bulk', appended)::text);
        return null;
    end if;
    for event in select id, entity_type, entity_id from appended_events order by id loop
        perform pg_notify(
            'itsm_events',
            json_build_object('id', event.id, 'type', event.entity_type, 'record', event.entity_id)::text
        );
    end loop;
    return null;
end;
$$
"""


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "channel in ('mail', 'webhook')", name=op.f("ck_inbound_messages_channel")
        ),
        sa.CheckConstraint(
            "outcome in ('created', 'commented', 'reopened', 'resolved', 'ignored', 'refused')",
            name=op.f("ck_inbound_messages_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            [f"{S}.incidents.id"],
            name=op.f("fk_inbound_messages_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint(
            "source", "external_id", name=op.f("uq_inbound_messages_source_external_id")
        ),
        schema=S,
    )
    op.create_index(
        op.f("ix_inbound_messages_incident_id"),
        "inbound_messages",
        ["incident_id"],
        unique=False,
        schema=S,
    )
    op.create_index(
        "ix_inbound_messages_sender_received_at",
        "inbound_messages",
        ["sender", "received_at"],
        unique=False,
        schema=S,
    )
    op.create_table(
        "inbound_attachments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            [f"{S}.incidents.id"],
            name=op.f("fk_inbound_attachments_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            [f"{S}.inbound_messages.id"],
            name=op.f("fk_inbound_attachments_message_id_inbound_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_attachments")),
        schema=S,
    )
    op.create_index(
        op.f("ix_inbound_attachments_incident_id"),
        "inbound_attachments",
        ["incident_id"],
        unique=False,
        schema=S,
    )
    op.create_table(
        "inbound_sources",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("resolved_action", sa.String(length=16), nullable=False),
        sa.Column("assignment_group_id", sa.BigInteger(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
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
            "kind in ('generic', 'alertmanager', 'jira')", name=op.f("ck_inbound_sources_kind")
        ),
        sa.CheckConstraint(
            "resolved_action in ('note', 'resolve')",
            name=op.f("ck_inbound_sources_resolved_action"),
        ),
        sa.ForeignKeyConstraint(
            ["assignment_group_id"],
            [f"{S}.teams.id"],
            name=op.f("fk_inbound_sources_assignment_group_id_teams"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], [f"{S}.users.id"], name=op.f("fk_inbound_sources_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_inbound_sources_name")),
        schema=S,
    )
    op.create_table(
        "inbound_alerts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("alert_key", sa.String(length=255), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status in ('firing', 'resolved')", name=op.f("ck_inbound_alerts_status")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            [f"{S}.incidents.id"],
            name=op.f("fk_inbound_alerts_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            [f"{S}.inbound_sources.id"],
            name=op.f("fk_inbound_alerts_source_id_inbound_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_alerts")),
        sa.UniqueConstraint(
            "source_id", "alert_key", name=op.f("uq_inbound_alerts_source_id_alert_key")
        ),
        schema=S,
    )
    op.create_index(
        op.f("ix_inbound_alerts_incident_id"),
        "inbound_alerts",
        ["incident_id"],
        unique=False,
        schema=S,
    )
    op.execute(NOTIFY_FUNCTION)
    op.execute(
        f"create trigger events_notify after insert on {S}.events "
        "referencing new table as appended_events "
        f"for each statement execute function {S}.notify_events()"
    )


def downgrade() -> None:
    op.execute(f"drop trigger if exists events_notify on {S}.events")
    op.execute(f"drop function if exists {S}.notify_events()")
    op.drop_index(op.f("ix_inbound_alerts_incident_id"), table_name="inbound_alerts", schema=S)
    op.drop_table("inbound_alerts", schema=S)
    op.drop_table("inbound_sources", schema=S)
    op.drop_index(
        op.f("ix_inbound_attachments_incident_id"), table_name="inbound_attachments", schema=S
    )
    op.drop_table("inbound_attachments", schema=S)
    op.drop_index("ix_inbound_messages_sender_received_at", table_name="inbound_messages", schema=S)
    op.drop_index(op.f("ix_inbound_messages_incident_id"), table_name="inbound_messages", schema=S)
    op.drop_table("inbound_messages", schema=S)
