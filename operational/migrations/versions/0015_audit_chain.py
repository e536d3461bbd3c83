"""A tamper-evident audit trail (issue 12): every event is linked into its record's hash chain,
and seals sign a root over all chain heads (docs/security.md, "Audit trail").

- ``events.prev_hash`` / ``events.hash``: the SHA-256 chain per (entity_type, entity_id), in seq
  order. Existing events are hashed here, record by record in seq order, with the same code the
  events service uses (``operational/events/chain.py``).
- ``audit_seals`` / ``audit_seal_heads``: append-only, refused UPDATE, DELETE and TRUNCATE like
  the event log.

Revision ID: 0015_audit_chain
Revises: 0010_hardening
"""

import io
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from operational.events import chain

revision: str = "0015_audit_chain"
down_revision: str | None = "0020_inbound"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "operational"
BATCH = 50_000

APPEND_ONLY_FUNCTION = """
create or replace function operational.refuse_audit_change() returns trigger
language plpgsql as $$
begin
    raise exception 'operational.% is append-only: % is not allowed', tg_table_name, tg_op
        using errcode = 'insufficient_privilege';
end
$$
"""


def upgrade() -> None:
    op.add_column("events", sa.Column("prev_hash", sa.String(64), nullable=True), schema=SCHEMA)
    op.add_column("events", sa.Column("hash", sa.String(64), nullable=True), schema=SCHEMA)
    _backfill()
    op.alter_column("events", "hash", nullable=False, schema=SCHEMA)

    op.create_table(
        "audit_seals",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chain_count", sa.BigInteger(), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("previous_signature", sa.String(64), nullable=True),
        sa.Column("signature", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_seals")),
        schema=SCHEMA,
    )
    op.create_table(
        "audit_seal_heads",
        sa.Column("seal_id", sa.BigInteger(), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["seal_id"],
            [f"{SCHEMA}.audit_seals.id"],
            name=op.f("fk_audit_seal_heads_seal_id_audit_seals"),
        ),
        sa.PrimaryKeyConstraint(
            "seal_id", "entity_type", "entity_id", name=op.f("pk_audit_seal_heads")
        ),
        schema=SCHEMA,
    )
    # Compliance exports carry the audit trail: JSON Lines files and the offline verifier.
    op.drop_constraint("ck_export_files_known_format", "export_files", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_export_files_known_format"),
        "export_files",
        "format in ('csv', 'parquet', 'xlsx', 'json', 'jsonl', 'py')",
        schema=SCHEMA,
    )
    op.execute(APPEND_ONLY_FUNCTION)
    for table in ("audit_seals", "audit_seal_heads"):
        op.execute(
            f"create trigger {table}_append_only before update or delete on {SCHEMA}.{table} "
            "for each row execute function operational.refuse_audit_change()"
        )
        op.execute(
            f"create trigger {table}_no_truncate before truncate on {SCHEMA}.{table} "
            "for each statement execute function operational.refuse_audit_change()"
        )


def _backfill() -> None:
    """Hash the existing events, record by record in seq order (the one time the log's rows
    are updated, by the schema owner, with its append-only trigger set aside)."""
    bind = op.get_bind()
    count = bind.execute(sa.text(f"select count(*) from {SCHEMA}.events")).scalar()
    if not count:
        return
    bind.execute(sa.text("create temp table event_hashes (id bigint, prev_hash text, hash text)"))
    columns = ", ".join(chain.FIELDS)
    result = bind.execute(
        sa.text(f"select id, {columns} from {SCHEMA}.events order by entity_type, entity_id, seq"),
        execution_options={"stream_results": True, "yield_per": BATCH},
    )
    raw = bind.connection.driver_connection
    last_key = None
    prev_hash = None
    buffer = io.StringIO()

    def flush() -> None:
        with raw.cursor() as cursor, cursor.copy("copy event_hashes from stdin") as copy:
            copy.write(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()

    for written, row in enumerate(result, start=1):
        key = (row.entity_type, row.entity_id)
        if key != last_key:
            prev_hash, last_key = None, key
        event_hash = chain.row_hash(tuple(row)[1:], prev_hash)
        buffer.write(f"{row.id}\t{prev_hash or chr(92) + 'N'}\t{event_hash}\n")
        prev_hash = event_hash
        if written % BATCH == 0:
            flush()
    flush()
    op.execute(f"alter table {SCHEMA}.events disable trigger events_append_only")
    op.execute(
        f"update {SCHEMA}.events e set prev_hash = h.prev_hash, hash = h.hash "
        "from event_hashes h where h.id = e.id"
    )
    op.execute(f"alter table {SCHEMA}.events enable trigger events_append_only")
    op.execute("drop table event_hashes")


def downgrade() -> None:
    op.drop_constraint("ck_export_files_known_format", "export_files", schema=SCHEMA)
    op.create_check_constraint(
        op.f("ck_export_files_known_format"),
        "export_files",
        "format in ('csv', 'parquet', 'xlsx', 'json')",
        schema=SCHEMA,
    )
    op.drop_table("audit_seal_heads", schema=SCHEMA)
    op.drop_table("audit_seals", schema=SCHEMA)
    op.execute("drop function if exists operational.refuse_audit_change()")
    op.drop_column("events", "hash", schema=SCHEMA)
    op.drop_column("events", "prev_hash", schema=SCHEMA)
