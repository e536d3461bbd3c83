"""Compliance marts with known rows, created inside the test's rolled-back transaction.

dbt builds the real marts (tests/pipelines runs it end to end); these stand-ins carry only the
columns the export service relies on, so that the export tests do not need a dbt run each. Like
dbt's, they are made by dbt's role, in the mart's schema (the access review: personal).
"""

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from operational.core.roles import DBT
from operational.exports.service import COMPLIANCE_MARTS

PERIOD = (date(2026, 10, 1), date(2026, 10, 31))

MART_ROWS = {
    "sla_breach_register": (
        "incident_number text, target_type text, breached_at timestamptz, breached_date date",
        [
            "('INC0000001', 'response', '2026-09-30 23:59:59+00', '2026-09-30')",
            "('INC0000002', 'resolution', '2026-10-01 00:00+00', '2026-10-01')",
            "('INC0000003', 'response', '2026-10-31 23:59:59+00', '2026-10-31')",
            "('INC0000004', 'resolution', '2026-11-01 00:00+00', '2026-11-01')",
        ],
    ),
    "change_approval_evidence": (
        "change_number text, implemented_date date, approved boolean",
        [
            "('CHG0000001', '2026-10-15', true)",
            "('CHG0000002', '2026-11-02', false)",
        ],
    ),
    "access_review": (
        "email text, roles text, mfa_enabled boolean, last_login_at timestamptz",
        [
            "('admin@example.com', 'admin', true, null)",
            "('auditor@example.com', 'auditor', false, '2026-08-01 09:00+00')",
            "('agent@example.com', 'agent', false, null)",
        ],
    ),
    "audit_trail_summary": (
        "activity_date date, entity_type text, events bigint",
        [
            "('2026-09-30', 'incident', 12)",
            "('2026-10-01', 'incident', 7)",
            "('2026-10-31', 'change', 3)",
        ],
    ),
    "sla_source_comparison": (
        "incident_number text, resolved_date date, source_made_sla boolean, our_made_sla boolean",
        [
            "('INC0000005', '2026-10-20', true, false)",
        ],
    ),
    "request_approval_evidence": (
        "request_item_number text, decided_by_name text, decision text, policy_version integer,"
        " decided_at timestamptz, decided_date date",
        [
            "('RITM0000001', 'Bob', 'approved', 2, '2026-10-02 09:00+00', '2026-10-02')",
            "('RITM0000002', 'Cora', 'rejected', 1, '2026-10-30 16:00+00', '2026-10-30')",
            "('RITM0000003', 'Bob', 'approved', 3, '2026-11-01 09:00+00', '2026-11-01')",
        ],
    ),
    "source_reconciliation_summary": (
        "source_system text, field_name text, compared_count bigint, agree_count bigint",
        [
            "('servicenow', 'reassignment_count', 5, 3)",
            "('servicenow', 'resolved_at', 4, 3)",
        ],
    ),
}
# Rows of each mart inside PERIOD, counted by hand from MART_ROWS (the snapshots access_review
# and source_reconciliation_summary: all rows).
ROWS_IN_PERIOD = {
    "sla_breach_register": 2,
    "change_approval_evidence": 1,
    "access_review": 3,
    "audit_trail_summary": 2,
    "sla_source_comparison": 1,
    "request_approval_evidence": 2,
    "source_reconciliation_summary": 2,
}


def plant_marts(session: Session, mart_rows: dict[str, tuple[str, list[str]]]) -> None:
    """Create each mart with its columns and rows, as dbt's role, in the mart's own schema."""
    schemas = {mart.name: mart.schema for mart in COMPLIANCE_MARTS}
    session.execute(text(f"set role {DBT}"))
    for name, (columns, rows) in mart_rows.items():
        relation = f"{schemas[name]}.{name}"
        session.execute(text(f"create table {relation} ({columns})"))
        session.execute(text(f"insert into {relation} values {', '.join(rows)}"))
    session.execute(text("reset role"))
    session.flush()


@pytest.fixture
def compliance_marts(session: Session) -> dict[str, int]:
    plant_marts(session, MART_ROWS)
    return ROWS_IN_PERIOD
