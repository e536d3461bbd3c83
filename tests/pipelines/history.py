"""A small ServiceNow audit export whose figures are computed by hand in the tests.

All times are UTC, on 13 October 2026 (a day past the 12th: the file says its dates are
day-first) (``Active`` with an assignee is In Progress):

| incident | opened | first assignee (ack) | resolved | MTTA | MTTR |
| --- | --- | --- | --- | --- | --- |
| INC0090001 | 09:00 | 09:30 (queued at the group at 09:10) | 11:00 | 30 min | 120 min |
| INC0090002 | 10:00 | 10:15 | 14:00 | 15 min | 240 min |
| INC0090003 | 12:00 | 12:45 | still open | 45 min | - |
"""

from pathlib import Path

import polars as pl

from sampledata.generate import AUDIT_COLUMNS

INCIDENTS = ("INC0090001", "INC0090002", "INC0090003")
DAY = "2026-10-13"
MTTA_MINUTES = (30 + 15 + 45) / 3
MTTR_MINUTES = (120 + 240) / 2
MTTR_P90_MINUTES = 120 + 0.9 * (240 - 120)  # percentile_cont: linear between the two

_FIXED = {
    "active": "true",
    "reassignment_count": "0",
    "reopen_count": "0",
    "made_sla": "true",
    "caller_id": "Caller 1",
    "opened_by": "Opened by 1",
    "sys_created_by": "Created by 1",
    "sys_updated_by": "Updated by 1",
    "contact_type": "Phone",
    "location": "Location 1",
    "category": "Network",
    "subcategory": "Wifi",
    "u_symptom": "?",
    "cmdb_ci": "?",
    "impact": "2 - Medium",
    "urgency": "2 - Medium",
    "priority": "3 - Moderate",
    "knowledge": "false",
    "u_priority_confirmation": "false",
    "notify": "Do Not Notify",
    "problem_id": "?",
    "rfc": "?",
    "vendor": "?",
    "caused_by": "?",
    "closed_code": "?",
    "resolved_by": "?",
    "resolved_at": "?",
    "closed_at": "?",
    "assignment_group": "?",
    "assigned_to": "?",
}


def _rows(number: str, opened: str, updates: list[tuple[str, dict[str, str]]]) -> list[dict]:
    rows = []
    current = {**_FIXED, "number": number, "opened_at": opened, "sys_created_at": opened}
    for mod_count, (moment, changes) in enumerate([(opened, {"incident_state": "New"}), *updates]):
        current.update(changes)
        rows.append({**current, "sys_mod_count": str(mod_count), "sys_updated_at": moment})
    return rows


def write_history(path: Path) -> Path:
    desk = {"assignment_group": "Service Desk"}
    resolved = {"incident_state": "Resolved", "closed_code": "Solved", "resolved_by": "Agent"}
    rows = [
        *_rows(
            INCIDENTS[0],
            "13/10/2026 9:00",
            [
                ("13/10/2026 9:10", {"incident_state": "Active", **desk}),
                ("13/10/2026 9:30", {"assigned_to": "Agent One"}),
                ("13/10/2026 11:00", {**resolved, "resolved_at": "13/10/2026 11:00"}),
            ],
        ),
        *_rows(
            INCIDENTS[1],
            "13/10/2026 10:00",
            [
                (
                    "13/10/2026 10:15",
                    {"incident_state": "Active", **desk, "assigned_to": "Agent Two"},
                ),
                ("13/10/2026 14:00", {**resolved, "resolved_at": "13/10/2026 14:00"}),
            ],
        ),
        *_rows(
            INCIDENTS[2],
            "13/10/2026 12:00",
            [
                (
                    "13/10/2026 12:45",
                    {"incident_state": "Active", **desk, "assigned_to": "Agent One"},
                )
            ],
        ),
    ]
    pl.DataFrame(rows, schema={name: pl.String for name in AUDIT_COLUMNS}).write_csv(path)
    return path
