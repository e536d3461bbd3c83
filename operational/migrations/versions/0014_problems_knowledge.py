"""Problems (with their CIs, root cause analysis and known errors) and the knowledge base
(articles, their published versions, uses on incidents, readers' feedback); incidents point at
their problem.

Revision ID: 0014_problems_knowledge
Revises: 0013_service_requests
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_problems_knowledge"
down_revision: str | None = "0013_service_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("create sequence if not exists operational.problem_number_seq")
    op.execute("create sequence if not exists operational.article_number_seq")
    op.create_table(
        "problems",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("service", sa.String(length=200), nullable=True),
        sa.Column("category", sa.String(length=120), nullable=True),
        sa.Column("impact", sa.SmallInteger(), nullable=False),
        sa.Column("urgency", sa.SmallInteger(), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("assignment_group_id", sa.BigInteger(), nullable=True),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("opened_by_id", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("symptom", sa.Text(), nullable=True),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("root_cause_category", sa.String(length=32), nullable=True),
        sa.Column(
            "five_whys",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "contributing_factors",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("root_cause_ci_id", sa.BigInteger(), nullable=True),
        sa.Column("caused_by_change_id", sa.BigInteger(), nullable=True),
        sa.Column("fix_notes", sa.Text(), nullable=True),
        sa.Column("workaround", sa.Text(), nullable=True),
        sa.Column("known_error", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("known_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("root_cause_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.Column("source_system", sa.String(length=64), server_default="native", nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('english'::regconfig, coalesce(number, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(symptom, '')), 'B') || setweight(to_tsvector('english'::regconfig, coalesce(root_cause, '')), 'B') || setweight(to_tsvector('english'::regconfig, coalesce(workaround, '')), 'B') || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'C')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "root_cause_category is null or root_cause_category in ('software', 'hardware', 'configuration', 'capacity', 'network', 'third_party', 'process', 'human_error', 'security', 'unknown')",
            name=op.f("ck_problems_known_root_cause_category"),
        ),
        sa.CheckConstraint(
            "state in ('new', 'assessed', 'root_cause_analysis', 'fix_in_progress', 'resolved', 'closed')",
            name=op.f("ck_problems_known_state"),
        ),
        sa.CheckConstraint("impact between 1 and 3", name=op.f("ck_problems_impact_range")),
        sa.CheckConstraint(
            "not known_error or (workaround is not null and known_error_at is not null)",
            name=op.f("ck_problems_known_error_has_workaround"),
        ),
        sa.CheckConstraint("priority between 1 and 5", name=op.f("ck_problems_priority_range")),
        sa.CheckConstraint("urgency between 1 and 3", name=op.f("ck_problems_urgency_range")),
        sa.ForeignKeyConstraint(
            ["assignment_group_id"],
            ["operational.teams.id"],
            name=op.f("fk_problems_assignment_group_id_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["caused_by_change_id"],
            ["operational.changes.id"],
            name=op.f("fk_problems_caused_by_change_id_changes"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"], ["operational.users.id"], name=op.f("fk_problems_opened_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["operational.users.id"], name=op.f("fk_problems_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["root_cause_ci_id"],
            ["operational.configuration_items.id"],
            name=op.f("fk_problems_root_cause_ci_id_configuration_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_problems")),
        sa.UniqueConstraint("number", name=op.f("uq_problems_number")),
        sa.UniqueConstraint(
            "source_system", "external_id", name=op.f("uq_problems_source_system_external_id")
        ),
        schema="operational",
    )
    op.create_index(
        op.f("ix_problems_assignment_group_id"),
        "problems",
        ["assignment_group_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_problems_category"), "problems", ["category"], unique=False, schema="operational"
    )
    op.create_index(
        op.f("ix_problems_caused_by_change_id"),
        "problems",
        ["caused_by_change_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_problems_opened_at"), "problems", ["opened_at"], unique=False, schema="operational"
    )
    op.create_index(
        op.f("ix_problems_owner_id"), "problems", ["owner_id"], unique=False, schema="operational"
    )
    op.create_index(
        op.f("ix_problems_priority"), "problems", ["priority"], unique=False, schema="operational"
    )
    op.create_index(
        "ix_problems_search_vector",
        "problems",
        ["search_vector"],
        unique=False,
        schema="operational",
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_problems_service"), "problems", ["service"], unique=False, schema="operational"
    )
    op.create_index(
        op.f("ix_problems_state"), "problems", ["state"], unique=False, schema="operational"
    )
    op.create_table(
        "problem_cis",
        sa.Column("problem_id", sa.BigInteger(), nullable=False),
        sa.Column("ci_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ci_id"],
            ["operational.configuration_items.id"],
            name=op.f("fk_problem_cis_ci_id_configuration_items"),
        ),
        sa.ForeignKeyConstraint(
            ["problem_id"],
            ["operational.problems.id"],
            name=op.f("fk_problem_cis_problem_id_problems"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("problem_id", "ci_id", name=op.f("pk_problem_cis")),
        schema="operational",
    )
    op.create_index(
        "ix_problem_cis_ci_id", "problem_cis", ["ci_id"], unique=False, schema="operational"
    )
    op.create_table(
        "knowledge_articles",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=120), nullable=True),
        sa.Column("service", sa.String(length=200), nullable=True),
        sa.Column("keywords", sa.ARRAY(sa.String(length=120)), server_default="{}", nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("editor_id", sa.BigInteger(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_version", sa.Integer(), nullable=True),
        sa.Column("first_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_period_days", sa.Integer(), server_default="365", nullable=False),
        sa.Column("source_incident_id", sa.BigInteger(), nullable=True),
        sa.Column("source_problem_id", sa.BigInteger(), nullable=True),
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
            "audience in ('agents', 'everyone')", name=op.f("ck_knowledge_articles_known_audience")
        ),
        sa.CheckConstraint(
            "language in ('english', 'german', 'french', 'spanish', 'dutch', 'italian', 'portuguese', 'simple')",
            name=op.f("ck_knowledge_articles_known_language"),
        ),
        sa.CheckConstraint(
            "state in ('draft', 'review', 'published', 'retired')",
            name=op.f("ck_knowledge_articles_known_state"),
        ),
        sa.CheckConstraint(
            "review_period_days > 0", name=op.f("ck_knowledge_articles_review_period_positive")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["operational.users.id"],
            name=op.f("fk_knowledge_articles_author_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["editor_id"],
            ["operational.users.id"],
            name=op.f("fk_knowledge_articles_editor_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["source_incident_id"],
            ["operational.incidents.id"],
            name=op.f("fk_knowledge_articles_source_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_problem_id"],
            ["operational.problems.id"],
            name=op.f("fk_knowledge_articles_source_problem_id_problems"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_articles")),
        sa.UniqueConstraint("number", name=op.f("uq_knowledge_articles_number")),
        schema="operational",
    )
    op.create_index(
        op.f("ix_knowledge_articles_category"),
        "knowledge_articles",
        ["category"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_knowledge_articles_service"),
        "knowledge_articles",
        ["service"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_knowledge_articles_state"),
        "knowledge_articles",
        ["state"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "knowledge_article_uses",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.BigInteger(), nullable=False),
        sa.Column("article_version", sa.Integer(), nullable=True),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("used_by_id", sa.BigInteger(), nullable=True),
        sa.Column("resolved", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["operational.knowledge_articles.id"],
            name=op.f("fk_knowledge_article_uses_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["operational.incidents.id"],
            name=op.f("fk_knowledge_article_uses_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["used_by_id"],
            ["operational.users.id"],
            name=op.f("fk_knowledge_article_uses_used_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_article_uses")),
        sa.UniqueConstraint(
            "article_id",
            "incident_id",
            name=op.f("uq_knowledge_article_uses_article_id_incident_id"),
        ),
        schema="operational",
    )
    op.create_index(
        op.f("ix_knowledge_article_uses_article_id"),
        "knowledge_article_uses",
        ["article_id"],
        unique=False,
        schema="operational",
    )
    op.create_index(
        op.f("ix_knowledge_article_uses_incident_id"),
        "knowledge_article_uses",
        ["incident_id"],
        unique=False,
        schema="operational",
    )
    op.create_table(
        "knowledge_article_versions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=120), nullable=True),
        sa.Column("service", sa.String(length=200), nullable=True),
        sa.Column("keywords", sa.ARRAY(sa.String(length=120)), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=True),
        sa.Column("approved_by_id", sa.BigInteger(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_comment", sa.Text(), nullable=True),
        sa.Column("is_current", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("search_vector", postgresql.TSVECTOR(), nullable=False),
        sa.CheckConstraint(
            "audience in ('agents', 'everyone')",
            name=op.f("ck_knowledge_article_versions_known_audience"),
        ),
        sa.CheckConstraint(
            "language in ('english', 'german', 'french', 'spanish', 'dutch', 'italian', 'portuguese', 'simple')",
            name=op.f("ck_knowledge_article_versions_known_language"),
        ),
        sa.ForeignKeyConstraint(
            ["approved_by_id"],
            ["operational.users.id"],
            name=op.f("fk_knowledge_article_versions_approved_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["operational.knowledge_articles.id"],
            name=op.f("fk_knowledge_article_versions_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["operational.users.id"],
            name=op.f("fk_knowledge_article_versions_author_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_article_versions")),
        sa.UniqueConstraint(
            "article_id", "number", name=op.f("uq_knowledge_article_versions_article_id_number")
        ),
        schema="operational",
    )
    op.create_index(
        "ix_knowledge_article_versions_search_vector",
        "knowledge_article_versions",
        ["search_vector"],
        unique=False,
        schema="operational",
        postgresql_using="gin",
        postgresql_where="is_current",
    )
    op.create_index(
        "ix_knowledge_article_versions_language",
        "knowledge_article_versions",
        ["language"],
        unique=False,
        schema="operational",
        postgresql_where="is_current",
    )
    op.create_index(
        "uq_knowledge_article_versions_current",
        "knowledge_article_versions",
        ["article_id"],
        unique=True,
        schema="operational",
        postgresql_where="is_current",
    )
    op.create_table(
        "knowledge_feedback",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.BigInteger(), nullable=False),
        sa.Column("article_version", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["operational.knowledge_articles.id"],
            name=op.f("fk_knowledge_feedback_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["operational.users.id"], name=op.f("fk_knowledge_feedback_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_feedback")),
        sa.UniqueConstraint(
            "article_id", "user_id", name=op.f("uq_knowledge_feedback_article_id_user_id")
        ),
        schema="operational",
    )
    op.create_index(
        op.f("ix_knowledge_feedback_article_id"),
        "knowledge_feedback",
        ["article_id"],
        unique=False,
        schema="operational",
    )
    op.add_column(
        "incidents", sa.Column("problem_id", sa.BigInteger(), nullable=True), schema="operational"
    )
    op.create_index(
        op.f("ix_incidents_problem_id"),
        "incidents",
        ["problem_id"],
        unique=False,
        schema="operational",
    )
    op.create_foreign_key(
        op.f("fk_incidents_problem_id_problems"),
        "incidents",
        "problems",
        ["problem_id"],
        ["id"],
        source_schema="operational",
        referent_schema="operational",
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_incidents_problem_id_problems"),
        "incidents",
        schema="operational",
        type_="foreignkey",
    )
    op.drop_index(op.f("ix_incidents_problem_id"), table_name="incidents", schema="operational")
    op.drop_column("incidents", "problem_id", schema="operational")
    op.drop_index(
        op.f("ix_knowledge_feedback_article_id"),
        table_name="knowledge_feedback",
        schema="operational",
    )
    op.drop_table("knowledge_feedback", schema="operational")
    op.drop_index(
        "ix_knowledge_article_versions_language",
        table_name="knowledge_article_versions",
        schema="operational",
        postgresql_where="is_current",
    )
    op.drop_index(
        "uq_knowledge_article_versions_current",
        table_name="knowledge_article_versions",
        schema="operational",
        postgresql_where="is_current",
    )
    op.drop_index(
        "ix_knowledge_article_versions_search_vector",
        table_name="knowledge_article_versions",
        schema="operational",
        postgresql_using="gin",
        postgresql_where="is_current",
    )
    op.drop_table("knowledge_article_versions", schema="operational")
    op.drop_index(
        op.f("ix_knowledge_article_uses_incident_id"),
        table_name="knowledge_article_uses",
        schema="operational",
    )
    op.drop_index(
        op.f("ix_knowledge_article_uses_article_id"),
        table_name="knowledge_article_uses",
        schema="operational",
    )
    op.drop_table("knowledge_article_uses", schema="operational")
    op.drop_index(
        op.f("ix_knowledge_articles_state"), table_name="knowledge_articles", schema="operational"
    )
    op.drop_index(
        op.f("ix_knowledge_articles_service"), table_name="knowledge_articles", schema="operational"
    )
    op.drop_index(
        op.f("ix_knowledge_articles_category"),
        table_name="knowledge_articles",
        schema="operational",
    )
    op.drop_table("knowledge_articles", schema="operational")
    op.drop_index("ix_problem_cis_ci_id", table_name="problem_cis", schema="operational")
    op.drop_table("problem_cis", schema="operational")
    op.drop_index(op.f("ix_problems_state"), table_name="problems", schema="operational")
    op.drop_index(op.f("ix_problems_service"), table_name="problems", schema="operational")
    op.drop_index(
        "ix_problems_search_vector",
        table_name="problems",
        schema="operational",
        postgresql_using="gin",
    )
    op.drop_index(op.f("ix_problems_priority"), table_name="problems", schema="operational")
    op.drop_index(op.f("ix_problems_owner_id"), table_name="problems", schema="operational")
    op.drop_index(op.f("ix_problems_opened_at"), table_name="problems", schema="operational")
    op.drop_index(
        op.f("ix_problems_caused_by_change_id"), table_name="problems", schema="operational"
    )
    op.drop_index(op.f("ix_problems_category"), table_name="problems", schema="operational")
    op.drop_index(
        op.f("ix_problems_assignment_group_id"), table_name="problems", schema="operational"
    )
    op.drop_table("problems", schema="operational")
    op.execute("drop sequence if exists operational.article_number_seq")
    op.execute("drop sequence if exists operational.problem_number_seq")
