"""Tables of the CMDB and change management domains, their seed classes and CAB rules, and the
incident links to a CI and to the change that caused it.

Revision ID: 0003_cmdb_changes
Revises: 0002_incidents
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import Text

revision: str = "0003_cmdb_changes"
down_revision: str | None = "0002_incidents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IPV4 = {"type": "string", "format": "ipv4"}
_TIER = {"enum": ["gold", "silver", "bronze"]}
_URL = {"type": "string", "pattern": "^https?://"}

# The classes a CMDB starts with. Their schemas change through the API (PATCH /ci-classes/x).
SEED_CLASSES = [
    (
        "application",
        "Application",
        "Software that delivers a function: its code, configuration and deployment.",
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "version": {"type": "string"},
                "vendor": {"type": "string"},
                "language": {"type": "string"},
                "url": _URL,
                "support_tier": _TIER,
            },
        },
    ),
    (
        "service",
        "Service",
        "A technical service that applications offer to each other (API, queue, batch).",
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "service_level": _TIER,
                "support_hours": {"type": "string"},
                "url": _URL,
            },
        },
    ),
    (
        "server",
        "Server",
        "A physical or virtual machine.",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["hostname"],
            "properties": {
                "hostname": {"type": "string", "pattern": "^[A-Za-z0-9.-]+$", "maxLength": 253},
                "ip_address": _IPV4,
                "os": {"type": "string"},
                "os_version": {"type": "string"},
                "cpu_cores": {"type": "integer", "minimum": 1},
                "memory_gb": {"type": "number", "exclusiveMinimum": 0},
                "virtual": {"type": "boolean"},
                "serial_number": {"type": "string"},
            },
        },
    ),
    (
        "database",
        "Database",
        "A database instance or cluster.",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["engine"],
            "properties": {
                "engine": {
                    "enum": [
                        "postgresql",
                        "mysql",
                        "mariadb",
                        "oracle",
                        "sqlserver",
                        "mongodb",
                        "redis",
                        "other",
                    ]
                },
                "version": {"type": "string"},
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "size_gb": {"type": "number", "minimum": 0},
                "replicas": {"type": "integer", "minimum": 0},
            },
        },
    ),
    (
        "network_device",
        "Network device",
        "A router, switch, firewall, load balancer or access point.",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["device_type"],
            "properties": {
                "device_type": {
                    "enum": [
                        "router",
                        "switch",
                        "firewall",
                        "load_balancer",
                        "access_point",
                        "other",
                    ]
                },
                "ip_address": _IPV4,
                "vendor": {"type": "string"},
                "model": {"type": "string"},
                "firmware": {"type": "string"},
                "ports": {"type": "integer", "minimum": 1},
            },
        },
    ),
    (
        "business_service",
        "Business service",
        "What the business buys from IT, e.g. Online ordering; built from the CIs part of it.",
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "service_owner": {"type": "string"},
                "customer_facing": {"type": "boolean"},
                "sla_tier": _TIER,
                "hours": {"type": "string"},
            },
        },
    ),
]

# Emergency changes go to the emergency CAB: a smaller quorum.
SEED_CAB_RULES = [("normal", "quorum", 2), ("emergency", "quorum", 1)]


def upgrade() -> None:
    op.execute("create sequence if not exists operational.change_number_seq")
    op.create_table(
        "ci_classes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "attribute_schema",
            postgresql.JSONB(astext_type=Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ci_classes")),
        sa.UniqueConstraint("name", name=op.f("uq_ci_classes_name")),
        schema="operational",
    )
    op.create_table(
        "cab_rules",
        sa.Column("change_type", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("quorum", sa.SmallInteger(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(rule = 'quorum' and quorum >= 1) or (rule <> 'quorum' and quorum is null)",
            name=op.f("ck_cab_rules_quorum_with_rule"),
        ),
        sa.CheckConstraint(
            "change_type in ('normal', 'emergency')", name=op.f("ck_cab_rules_cab_change_type")
        ),
        sa.CheckConstraint(
            "rule in ('all', 'quorum', 'any')", name=op.f("ck_cab_rules_known_rule")
        ),
        sa.PrimaryKeyConstraint("change_type", name=op.f("pk_cab_rules")),
        schema="operational",
    )
    op.create_table(
        "change_templates",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("implementation_plan", sa.Text(), nullable=True),
        sa.Column("backout_plan", sa.Text(), nullable=True),
        sa.Column("test_plan", sa.Text(), nullable=True),
        sa.Column(
            "risk_answers",
            postgresql.JSONB(astext_type=Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
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
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["operational.users.id"],
            name=op.f("fk_change_templates_created_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_change_templates_name")),
        schema="operational",
    )
    op.create_table(
        "blackout_windows",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("rrule", sa.Text(), nullable=True),
        sa.Column("environment", sa.String(length=32), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
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
            "environment is null or environment in ('production', 'disaster_recovery', 'staging', 'test', 'development')",
            name=op.f("ck_blackout_windows_known_environment"),
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_blackout_windows_window_order")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["operational.users.id"],
            name=op.f("fk_blackout_windows_created_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blackout_windows")),
        schema="operational",
    )
    op.create_table(
        "configuration_items",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("class_id", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=32), server_default="in_service", nullable=False),
        sa.Column("environment", sa.String(length=32), server_default="production", nullable=False),
        sa.Column("owner_team_id", sa.BigInteger(), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("criticality", sa.SmallInteger(), server_default="3", nullable=False),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
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
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "environment in ('production', 'disaster_recovery', 'staging', 'test', 'development')",
            name=op.f("ck_configuration_items_known_environment"),
        ),
        sa.CheckConstraint(
            "status in ('planned', 'in_build', 'in_service', 'maintenance', 'retired')",
            name=op.f("ck_configuration_items_known_status"),
        ),
        sa.CheckConstraint(
            "criticality between 1 and 4", name=op.f("ck_configuration_items_criticality_range")
        ),
        sa.ForeignKeyConstraint(
            ["class_id"],
            ["operational.ci_classes.id"],
            name=op.f("fk_configuration_items_class_id_ci_classes"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_team_id"],
            ["operational.teams.id"],
            name=op.f("fk_configuration_items_owner_team_id_teams"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_configuration_items")),
        sa.UniqueConstraint(
            "class_id",
            "name",
            "environment",
            name=op.f("uq_configuration_items_class_id_name_environment"),
        ),
        sa.UniqueConstraint(
            "source_system",
            "external_id",
            name=op.f("uq_configuration_items_source_system_external_id"),
        ),
        schema="operational",
    )
    op.create_index(
        "ix_configuration_items_attributes",
        "configuration_items",
        ["attributes"],
        unique=False,
        schema="operational",
        postgresql_using="gin",
        postgresql_ops={"attributes": "jsonb_path_ops"},
    )
    op.create_index(
        op.f("ix_configuration_items_class_id"),
        "configuration_items",
        ["class_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        "ix_configuration_items_lower_name",
        "configuration_items",
        [sa.literal_column("lower(name)")],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_configuration_items_owner_team_id"),
        "configuration_items",
        ["owner_team_id"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "ci_relationships",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source_ci_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("target_ci_id", sa.BigInteger(), nullable=False),
        sa.Column("source_system", sa.String(length=64), server_default="native", nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "type in ('depends_on', 'runs_on', 'hosted_on', 'connects_to', 'part_of')",
            name=op.f("ck_ci_relationships_known_type"),
        ),
        sa.CheckConstraint(
            "source_ci_id <> target_ci_id", name=op.f("ck_ci_relationships_not_self")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["operational.users.id"],
            name=op.f("fk_ci_relationships_created_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["source_ci_id"],
            ["operational.configuration_items.id"],
            name=op.f("fk_ci_relationships_source_ci_id_configuration_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_ci_id"],
            ["operational.configuration_items.id"],
            name=op.f("fk_ci_relationships_target_ci_id_configuration_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ci_relationships")),
        sa.UniqueConstraint(
            "source_ci_id",
            "type",
            "target_ci_id",
            name=op.f("uq_ci_relationships_source_ci_id_type_target_ci_id"),
        ),
        schema="operational",
    )
    op.create_index(
        "ix_ci_relationships_target_ci_id_type",
        "ci_relationships",
        ["target_ci_id", "type"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "changes",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("change_type", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="new", nullable=False),
        sa.Column("template_id", sa.BigInteger(), nullable=True),
        sa.Column("requester_id", sa.BigInteger(), nullable=True),
        sa.Column("assignment_group_id", sa.BigInteger(), nullable=True),
        sa.Column("implementer_id", sa.BigInteger(), nullable=True),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("implementation_plan", sa.Text(), nullable=True),
        sa.Column("backout_plan", sa.Text(), nullable=True),
        sa.Column("test_plan", sa.Text(), nullable=True),
        sa.Column("planned_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "risk_answers",
            postgresql.JSONB(astext_type=Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("risk_score", sa.SmallInteger(), nullable=True),
        sa.Column("risk_level", sa.String(length=16), nullable=True),
        sa.Column("risk_explanation", postgresql.JSONB(astext_type=Text()), nullable=True),
        sa.Column("cab_stage", sa.String(length=16), nullable=True),
        sa.Column("cab_round", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cab_rule", sa.String(length=16), nullable=True),
        sa.Column("cab_quorum", sa.SmallInteger(), nullable=True),
        sa.Column("cab_outcome", sa.String(length=16), nullable=True),
        sa.Column("conflict_override_reason", sa.Text(), nullable=True),
        sa.Column("conflict_overridden_by_id", sa.BigInteger(), nullable=True),
        sa.Column("review_outcome", sa.String(length=16), nullable=True),
        sa.Column("review_caused_incidents", sa.Boolean(), nullable=True),
        sa.Column("review_notes", sa.Text(), nullable=True),
        sa.Column("reviewed_by_id", sa.BigInteger(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "opened_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "cab_outcome is null or cab_outcome in ('pending', 'approved', 'rejected')",
            name=op.f("ck_changes_known_cab_outcome"),
        ),
        sa.CheckConstraint(
            "cab_rule is null or cab_rule in ('all', 'quorum', 'any')",
            name=op.f("ck_changes_known_cab_rule"),
        ),
        sa.CheckConstraint(
            "cab_stage is null or cab_stage in ('authorization', 'retrospective')",
            name=op.f("ck_changes_known_cab_stage"),
        ),
        sa.CheckConstraint(
            "change_type in ('standard', 'normal', 'emergency')", name=op.f("ck_changes_known_type")
        ),
        sa.CheckConstraint(
            "review_outcome is null or review_outcome in ('successful', 'failed', 'backed_out')",
            name=op.f("ck_changes_known_review_outcome"),
        ),
        sa.CheckConstraint(
            "risk_level is null or risk_level in ('low', 'moderate', 'high', 'very_high')",
            name=op.f("ck_changes_known_risk_level"),
        ),
        sa.CheckConstraint(
            "state in ('new', 'assess', 'authorize', 'scheduled', 'implement', 'review', 'closed', 'failed', 'backed_out', 'cancelled')",
            name=op.f("ck_changes_known_state"),
        ),
        sa.CheckConstraint(
            "planned_start is null or planned_end is null or planned_end > planned_start",
            name=op.f("ck_changes_planned_window_order"),
        ),
        sa.ForeignKeyConstraint(
            ["assignment_group_id"],
            ["operational.teams.id"],
            name=op.f("fk_changes_assignment_group_id_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["conflict_overridden_by_id"],
            ["operational.users.id"],
            name=op.f("fk_changes_conflict_overridden_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["implementer_id"],
            ["operational.users.id"],
            name=op.f("fk_changes_implementer_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["operational.users.id"], name=op.f("fk_changes_requester_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"],
            ["operational.users.id"],
            name=op.f("fk_changes_reviewed_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["operational.change_templates.id"],
            name=op.f("fk_changes_template_id_change_templates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
        sa.UniqueConstraint("number", name=op.f("uq_changes_number")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_changes_source_system_external_id")
        ),
        schema="operational",
    )
    op.create_index(
        op.f("ix_changes_assignment_group_id"),
        "changes",
        ["assignment_group_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_changes_change_type"),
        "changes",
        ["change_type"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        "ix_changes_planned_start_planned_end",
        "changes",
        ["planned_start", "planned_end"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_changes_requester_id"),
        "changes",
        ["requester_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_changes_state"), "changes", ["state"], unique=False, schema="operational"
    )
    op.create_table(
        "change_cis",
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("ci_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["operational.changes.id"],
            name=op.f("fk_change_cis_change_id_changes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ci_id"],
            ["operational.configuration_items.id"],
            name=op.f("fk_change_cis_ci_id_configuration_items"),
        ),
        sa.PrimaryKeyConstraint("change_id", "ci_id", name=op.f("pk_change_cis")),
        schema="operational",
    )
    op.create_index(
        "ix_change_cis_ci_id", "change_cis", ["ci_id"], unique=False, schema="operational"
    )
    op.create_table(
        "change_approvals",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("approver_id", sa.BigInteger(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision in ('approved', 'rejected')", name=op.f("ck_change_approvals_known_decision")
        ),
        sa.CheckConstraint(
            "stage in ('authorization', 'retrospective')",
            name=op.f("ck_change_approvals_known_stage"),
        ),
        sa.ForeignKeyConstraint(
            ["approver_id"],
            ["operational.users.id"],
            name=op.f("fk_change_approvals_approver_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["operational.changes.id"],
            name=op.f("fk_change_approvals_change_id_changes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_approvals")),
        sa.UniqueConstraint(
            "change_id",
            "round",
            "approver_id",
            name=op.f("uq_change_approvals_change_id_round_approver_id"),
        ),
        schema="operational",
    )
    op.add_column(
        "incidents", sa.Column("ci_id", sa.BigInteger(), nullable=True), schema="operational"
    )
    op.add_column(
        "incidents",
        sa.Column("caused_by_change_id", sa.BigInteger(), nullable=True),
        schema="operational",
    )
    op.create_index(
        op.f("ix_incidents_caused_by_change_id"),
        "incidents",
        ["caused_by_change_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_incidents_ci_id"), "incidents", ["ci_id"], unique=False, schema="operational"
    )
    op.create_foreign_key(
        op.f("fk_incidents_caused_by_change_id_changes"),
        "incidents",
        "changes",
        ["caused_by_change_id"],
        ["id"],
        source_schema="operational",
        referent_schema="operational",
        ondelete="SET NULL",
    )
    op.create_foreign_key(
        op.f("fk_incidents_ci_id_configuration_items"),
        "incidents",
        "configuration_items",
        ["ci_id"],
        ["id"],
        source_schema="operational",
        referent_schema="operational",
        ondelete="SET NULL",
    )

    classes = sa.table(
        "ci_classes",
        sa.column("name", sa.String),
        sa.column("label", sa.String),
        sa.column("description", sa.Text),
        sa.column("attribute_schema", postgresql.JSONB),
        schema="operational",
    )
    op.bulk_insert(
        classes,
        [
            {"name": name, "label": label, "description": description, "attribute_schema": schema}
            for name, label, description, schema in SEED_CLASSES
        ],
    )
    rules = sa.table(
        "cab_rules",
        sa.column("change_type", sa.String),
        sa.column("rule", sa.String),
        sa.column("quorum", sa.SmallInteger),
        schema="operational",
    )
    op.bulk_insert(
        rules,
        [
            {"change_type": change_type, "rule": rule, "quorum": quorum}
            for change_type, rule, quorum in SEED_CAB_RULES
        ],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_incidents_caused_by_change_id_changes"),
        "incidents",
        schema="operational",
        type_="foreignkey",
    )
    op.drop_constraint(
        op.f("fk_incidents_ci_id_configuration_items"),
        "incidents",
        schema="operational",
        type_="foreignkey",
    )
    op.drop_index(op.f("ix_incidents_ci_id"), table_name="incidents", schema="operational")
    op.drop_index(
        op.f("ix_incidents_caused_by_change_id"), table_name="incidents", schema="operational"
    )
    op.drop_column("incidents", "caused_by_change_id", schema="operational")
    op.drop_column("incidents", "ci_id", schema="operational")
    for table in (
        "change_approvals",
        "change_cis",
        "changes",
        "ci_relationships",
        "configuration_items",
        "blackout_windows",
        "change_templates",
        "cab_rules",
        "ci_classes",
    ):
        op.drop_table(table, schema="operational")
    op.execute("drop sequence if exists operational.change_number_seq")
