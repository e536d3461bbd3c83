"""The Compliance page's evidence: change approvals, the access review, the audit trail, and how
far imported tickets' replayed histories agree with their source systems."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboards.queries.db import read, read_personal
from dashboards.queries.records import with_links

APPROVAL_FLAGS = {
    "is_implemented_without_approval": "Implemented without approval",
    "is_implemented_outside_window": "Implemented outside its window",
    "is_in_blackout": "Implemented in a blackout",
    "is_emergency_without_retrospective": "Emergency without retrospective review",
}

APPROVAL_EVIDENCE_SQL = """
select
    change_id, change_number, title, change_type, state, team_name, implemented_date,
    authorization_outcome, authorization_rule, authorization_quorum,
    authorization_approved_count, authorization_rejected_count, approvers, quorum_met,
    retrospective_outcome,
    is_implemented_without_approval, is_implemented_outside_window, is_in_blackout,
    is_emergency_without_retrospective
from marts.change_approval_evidence
where implemented_date between :start and :end
    and (cast(:team as text) is null or team_name = :team)
order by implemented_date desc, change_number
"""


def approval_evidence(filters: Any) -> pd.DataFrame:
    frame = read(
        APPROVAL_EVIDENCE_SQL, start=filters.start, end=filters.end, team=filters.value("team")
    )
    return with_links(frame, "fct_changes")


ACCESS_REVIEW_SQL = """
select
    user_id, display_name, email, roles, team_names, is_active, is_privileged, is_mfa_enabled,
    is_privileged_without_mfa, last_login_at, days_since_last_login, failed_logins_last_30_days,
    roles_changed_at
from personal.access_review
where can_log_in
order by is_privileged_without_mfa desc, is_privileged desc, email
"""


def access_review() -> pd.DataFrame:
    """Personal data: read as the auditor role, for auditors and admins only."""
    return read_personal(ACCESS_REVIEW_SQL)


AUDIT_TRAIL_SQL = """
select activity_date, entity_type, event_kind, event_count, record_count, actor_count,
    system_event_count, imported_event_count
from marts.audit_trail_summary
where activity_date between :start and :end
order by activity_date desc, entity_type, event_kind
limit 1000
"""


def audit_trail(filters: Any) -> pd.DataFrame:
    return read(AUDIT_TRAIL_SQL, start=filters.start, end=filters.end)


RECONCILIATION_SUMMARY_SQL = """
select source_system, field_name, unit, compared_count, agree_count, differ_count,
    replay_lower_count, replay_higher_count, unknown_count, largest_difference, agreement_rate
from marts.source_reconciliation_summary
order by source_system, field_name
"""

RECONCILIATION_ROWS_SQL = """
select incident_number, source_system, external_id, field_name, source_value, replayed_value,
    difference, outcome, missing_updates
from marts.source_reconciliation
order by field_name, abs(difference) desc nulls last, incident_number
limit 1000
"""


def source_reconciliation() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary per source system and field, and the largest differences (both all time:
    a reconciliation is of the whole import)."""
    return read(RECONCILIATION_SUMMARY_SQL), read(RECONCILIATION_ROWS_SQL)
