"""Tables of analytics (compliance exports) and the read-only analyst role.

The analyst role reads schema ``marts`` and nothing else. It is created NOLOGIN; ``itsm db
analyst-url`` gives it LOGIN and a password. Roles are cluster-wide, so the downgrade revokes this
database's grants but leaves the role itself (other databases on the server may use it).

dbt rebuilds mart tables on every run. ``alter default privileges`` makes every table or view
that the migrating role (the same role dbt connects as) later creates in ``marts`` readable too.

Revision ID: 0006_analytics
Revises: 0005_sla
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_analytics"
down_revision: str | None = "0005_sla"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANALYST_ROLE = "itsm_analyst"
MARTS_SCHEMA = "marts"

# Concurrent migrations of several databases on one server may race to create the role.
CREATE_ANALYST_ROLE = f"""
do $$
begin
    if not exists (select 1 from pg_roles where rolname = '{ANALYST_ROLE}') then
        create role {ANALYST_ROLE} nologin;
    end if;
exception when duplicate_object or unique_violation then
    null;
end
$$
"""


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=200), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_by", sa.String(length=200), nullable=False),
        sa.Column("git_commit", sa.String(length=64), nullable=True),
        sa.Column("dbt_version", sa.String(length=32), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("period_start <= period_end", name=op.f("ck_exports_period_order")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_exports_positive_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports")),
        sa.UniqueConstraint("folder", name=op.f("uq_exports_folder")),
        sa.UniqueConstraint(
            "period_start",
            "period_end",
            "version",
            name=op.f("uq_exports_period_start_period_end_version"),
        ),
        schema="operational",
    )
    op.create_table(
        "export_files",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("export_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("mart", sa.String(length=120), nullable=True),
        sa.Column("row_count", sa.BigInteger(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "format in ('csv', 'parquet', 'xlsx', 'json')",
            name=op.f("ck_export_files_known_format"),
        ),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["operational.exports.id"],
            name=op.f("fk_export_files_export_id_exports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_files")),
        sa.UniqueConstraint("export_id", "name", name=op.f("uq_export_files_export_id_name")),
        schema="operational",
    )
    op.create_index(
        op.f("ix_export_files_export_id"),
        "export_files",
        ["export_id"],
        unique=False,
        schema="operational",
    )

    op.execute(CREATE_ANALYST_ROLE)
    op.execute(f"create schema if not exists {MARTS_SCHEMA}")
    op.execute(f"grant usage on schema {MARTS_SCHEMA} to {ANALYST_ROLE}")
    op.execute(f"grant select on all tables in schema {MARTS_SCHEMA} to {ANALYST_ROLE}")
    op.execute(
        f"alter default privileges in schema {MARTS_SCHEMA} "
        f"grant select on tables to {ANALYST_ROLE}"
    )
    # Nothing in the operational schema, not even by way of PUBLIC.
    op.execute(f"revoke all on schema operational from public, {ANALYST_ROLE}")
    op.execute(f"revoke all on all tables in schema operational from public, {ANALYST_ROLE}")


def downgrade() -> None:
    op.execute(
        f"alter default privileges in schema {MARTS_SCHEMA} "
        f"revoke select on tables from {ANALYST_ROLE}"
    )
    op.execute(f"revoke select on all tables in schema {MARTS_SCHEMA} from {ANALYST_ROLE}")
    op.execute(f"revoke usage on schema {MARTS_SCHEMA} from {ANALYST_ROLE}")
    op.drop_index(
        op.f("ix_export_files_export_id"), table_name="export_files", schema="operational"
    )
    op.drop_table("export_files", schema="operational")
    op.drop_table("exports", schema="operational")
