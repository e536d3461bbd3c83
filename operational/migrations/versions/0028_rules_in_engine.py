"""Assignment rules become automation rules (issue 18): the ``route`` trigger, the ``mentions``
operator's rules, and ``automation_rules.managed_by``; every row of ``assignment_rules`` moves
to ``automation_rules`` as a route rule that the assignment-rule API owns, and the old table
goes. Each moved rule's description names its old id (events before this migration name it).

The translation is the one ``operational.automation.assignment_rules`` reads back, written out
here so that later changes to the code never change what this migration did. Downgrading moves
the assignment-rule API's route rules back (their runs go); other route rules, and rules whose
conditions use ``mentions``, cannot be expressed in the older schema and are deleted.

Revision ID: 0028_rules_in_engine
Revises: 0027_automation_records
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0028_rules_in_engine"
down_revision: str | None = "0027_automation_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "operational"
TRIGGER_CHECK = "ck_automation_rules_known_trigger"
MANAGER_CHECK = "ck_automation_rules_known_manager"
TRIGGERS = (
    "'created', 'updated', 'commented', 'state_changed', 'sla_warning', 'sla_breached', 'schedule'"
)
MANAGED = "assignment_rules"


def _triggers(values: str) -> None:
    op.drop_constraint(op.f(TRIGGER_CHECK), "automation_rules", schema=S, type_="check")
    op.create_check_constraint(
        op.f(TRIGGER_CHECK), "automation_rules", f"trigger in ({values})", schema=S
    )


def _conditions(category: str | None, service: str | None, keywords: list[str]) -> dict | None:
    parts: list[dict] = []
    if category:
        parts.append({"field": "category", "op": "eq", "value": category})
    if service:
        parts.append({"field": "service", "op": "eq", "value": service})
    keywords = [keyword for keyword in keywords or [] if keyword.strip()]
    if keywords:
        parts.append(
            {
                "any": [
                    {"field": name, "op": "mentions", "value": keywords}
                    for name in ("title", "description")
                ]
            }
        )
    return {"all": parts} if parts else None


def upgrade() -> None:
    op.add_column("automation_rules", sa.Column("managed_by", sa.String(32)), schema=S)
    op.create_check_constraint(
        op.f(MANAGER_CHECK),
        "automation_rules",
        f"managed_by is null or managed_by in ('{MANAGED}')",
        schema=S,
    )
    _triggers(TRIGGERS + ", 'route'")

    bind = op.get_bind()
    taken = {
        name.casefold()
        for (name,) in bind.execute(sa.text(f"select name from {S}.automation_rules"))
    }
    old_rules = bind.execute(
        sa.text(
            f"select id, name, position, is_active, category, service, keywords, team_id, "
            f"created_at, updated_at from {S}.assignment_rules order by position, id"
        )
    ).mappings()
    for old in list(old_rules):
        name = old["name"]
        if name.casefold() in taken:
            name = f"{name[:180]} (assignment rule {old['id']})"
        taken.add(name.casefold())
        bind.execute(
            sa.text(
                f"insert into {S}.automation_rules (name, description, record_type, position, "
                "is_active, trigger, conditions, actions, stop_processing, managed_by, "
                "created_at, updated_at) values (:name, :description, 'incident', :position, "
                ":is_active, 'route', cast(:conditions as jsonb), cast(:actions as jsonb), "
                "false, :managed_by, :created_at, :updated_at)"
            ),
            {
                "name": name,
                "description": f"Assignment rule {old['id']} before migration 0028.",
                "position": min(old["position"], 1_000_000),
                "is_active": old["is_active"],
                "conditions": json.dumps(
                    _conditions(old["category"], old["service"], old["keywords"])
                ),
                "actions": json.dumps(
                    [{"type": "assign", "team_id": old["team_id"], "strategy": "team"}]
                ),
                "managed_by": MANAGED,
                "created_at": old["created_at"],
                "updated_at": old["updated_at"],
            },
        )
    op.drop_index(op.f("ix_assignment_rules_team_id"), table_name="assignment_rules", schema=S)
    op.drop_table("assignment_rules", schema=S)


def downgrade() -> None:
    op.create_table(
        "assignment_rules",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), server_default="100", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("category", sa.String(length=120), nullable=True),
        sa.Column("service", sa.String(length=200), nullable=True),
        sa.Column(
            "keywords", postgresql.ARRAY(sa.String(length=120)), server_default="{}", nullable=False
        ),
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
            [f"{S}.teams.id"],
            name=op.f("fk_assignment_rules_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_assignment_rules_name")),
        schema=S,
    )
    op.create_index(op.f("ix_assignment_rules_team_id"), "assignment_rules", ["team_id"], schema=S)
    bind = op.get_bind()
    managed = bind.execute(
        sa.text(
            f"select name, position, is_active, conditions, actions, created_at, updated_at "
            f"from {S}.automation_rules where managed_by = :managed order by position, id"
        ),
        {"managed": MANAGED},
    ).mappings()
    for rule in list(managed):
        criteria: dict = {"category": None, "service": None, "keywords": []}
        for part in (rule["conditions"] or {}).get("all", []):
            if part.get("field") in ("category", "service"):
                criteria[part["field"]] = part["value"]
            elif "any" in part:
                criteria["keywords"] = list(part["any"][0]["value"])
        bind.execute(
            sa.text(
                f"insert into {S}.assignment_rules (name, position, is_active, category, "
                "service, keywords, team_id, created_at, updated_at) values (:name, :position, "
                ":is_active, :category, :service, :keywords, :team_id, :created_at, :updated_at)"
            ),
            {
                "name": rule["name"],
                "position": rule["position"],
                "is_active": rule["is_active"],
                **criteria,
                "team_id": rule["actions"][0]["team_id"],
                "created_at": rule["created_at"],
                "updated_at": rule["updated_at"],
            },
        )
    op.execute(f"delete from {S}.automation_rules where trigger = 'route'")
    op.execute(f"delete from {S}.automation_rules where conditions::text like '%\"mentions\"%'")
    _triggers(TRIGGERS)
    op.drop_constraint(op.f(MANAGER_CHECK), "automation_rules", schema=S, type_="check")
    op.drop_column("automation_rules", "managed_by", schema=S)
