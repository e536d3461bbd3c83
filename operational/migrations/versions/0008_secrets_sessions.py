"""Secrets and sessions: TOTP secrets encrypted at rest, a per-user "sessions valid after" mark,
the start of each refresh-token family, and no personal data left in the analysts' marts.

TOTP secrets are encrypted with the install's TOTP key, the same the API uses:
``ITSM_TOTP_KEY`` when set, else ``<ITSM_HOME>/totp.key`` (made now when missing). Run the
migration with the API's ITSM_HOME and environment, or the API cannot read the secrets
(docs/security.md, "Secrets and keys"). The downgrade decrypts them again.

The access review now lives in schema ``personal`` and ``dim_users`` keeps no email or login
data; the copies an earlier dbt run left in ``marts`` are removed here, not at the next run.
The database roles and their grants are set up around the migrations by ``itsm db migrate``
(operational/core/roles.py).

Revision ID: 0008_secrets_sessions
Revises: 0007_refresh_indexes
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from operational.core import encryption

revision: str = "0008_secrets_sessions"
down_revision: str | None = "0007_refresh_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rewrite_mfa_secrets(change: Callable[[str], str]) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("select id, mfa_secret from operational.users where mfa_secret is not null")
    ).all()
    for user_id, secret in rows:
        connection.execute(
            sa.text("update operational.users set mfa_secret = :secret where id = :id"),
            {"secret": change(secret), "id": user_id},
        )


def upgrade() -> None:
    op.alter_column(
        "users", "mfa_secret", type_=sa.Text(), existing_type=sa.String(64), schema="operational"
    )
    _rewrite_mfa_secrets(encryption.encrypt)
    op.add_column(
        "users",
        sa.Column("sessions_valid_after", sa.DateTime(timezone=True), nullable=True),
        schema="operational",
    )

    op.add_column(
        "refresh_tokens",
        sa.Column("family_started_at", sa.DateTime(timezone=True), nullable=True),
        schema="operational",
    )
    op.execute(
        """
        update operational.refresh_tokens as token
        set family_started_at = family.started_at
        from (
            select family_id, min(issued_at) as started_at
            from operational.refresh_tokens
            group by family_id
        ) as family
        where family.family_id = token.family_id
        """
    )
    op.alter_column("refresh_tokens", "family_started_at", nullable=False, schema="operational")

    op.execute("drop table if exists marts.access_review")
    op.execute(
        "alter table if exists marts.dim_users "
        "drop column if exists email, drop column if exists last_login_at"
    )


def downgrade() -> None:
    op.drop_column("refresh_tokens", "family_started_at", schema="operational")
    op.drop_column("users", "sessions_valid_after", schema="operational")
    _rewrite_mfa_secrets(encryption.decrypt)
    op.alter_column(
        "users", "mfa_secret", type_=sa.String(64), existing_type=sa.Text(), schema="operational"
    )
