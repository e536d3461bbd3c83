"""Seeded generator of ServiceNow incident audit exports (for the benchmark and tests).

Each incident follows a plausible life (assignment, work, optional reassignment, on-hold pause,
priority change, resolution, optional reopen, closure). The generator counts the events the
import will reconstruct, so `write_servicenow_audit(path, events=N)` writes an export that
yields at least N events.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from ingest.sources import servicenow_audit

# Every column the source reads, required or optional: the generated export is complete.
AUDIT_COLUMNS = (*servicenow_audit.REQUIRED_COLUMNS, *servicenow_audit.OPTIONAL_COLUMNS)
_IMPACTS = ("1 - High", "2 - Medium", "3 - Low")
_PRIORITIES = ("1 - Critical", "2 - High", "3 - Moderate", "4 - Low")
_CHANNELS = ("Phone", "Email", "Self service", "IVR", "Direct opening")


def servicenow_time(moment: datetime) -> str:
    """Day-first, no leading zeros on day, month and hour: 29/2/2016 1:16."""
    return f"{moment.day}/{moment.month}/{moment.year} {moment.hour}:{moment.minute:02d}"


@dataclass
class AuditExport:
    path: Path
    incidents: int
    rows: int
    events: int  # events the import reconstructs from it


def write_servicenow_audit(
    path: Path, *, events: int, seed: int = 7, start: datetime = datetime(2016, 2, 29)
) -> AuditExport:
    rng = random.Random(seed)
    columns: dict[str, list[str]] = {name: [] for name in AUDIT_COLUMNS}
    total_events = 0
    incidents = 0
    while total_events < events:
        incidents += 1
        number = f"INC{incidents:07d}"
        opened = start + timedelta(minutes=incidents * 7 + rng.randrange(5))
        fixed = {
            "number": number,
            "made_sla": "true" if rng.random() < 0.9 else "false",
            "caller_id": f"Caller {rng.randrange(1, 5000)}",
            "opened_by": f"Opened by  {rng.randrange(1, 400)}",
            "opened_at": servicenow_time(opened),
            "sys_created_by": f"Created by {rng.randrange(1, 200)}",
            "sys_created_at": servicenow_time(opened),
            "contact_type": rng.choice(_CHANNELS),
            "location": f"Location {rng.randrange(1, 200)}",
            "category": f"Category {rng.randrange(1, 60)}",
            "subcategory": f"Subcategory {rng.randrange(1, 250)}",
            "u_symptom": f"Symptom {rng.randrange(1, 500)}",
            "cmdb_ci": "?",
            "impact": rng.choices(_IMPACTS, (1, 8, 3))[0],
            "urgency": rng.choices(_IMPACTS, (1, 8, 3))[0],
            "knowledge": "false",
            "u_priority_confirmation": "false",
            "notify": "Do Not Notify",
            "problem_id": "?",
            "rfc": "?",
            "vendor": "?",
            "caused_by": "?",
        }
        current = {
            "incident_state": "New",
            "active": "true",
            "reassignment_count": "0",
            "reopen_count": "0",
            "priority": rng.choices(_PRIORITIES, (1, 4, 30, 10))[0],
            "assignment_group": "?",
            "assigned_to": "?",
            "closed_code": "?",
            "resolved_by": "?",
            "resolved_at": "?",
            "closed_at": "?",
        }
        moment = opened
        mod_count = 0
        produced = 1  # created

        def update(
            changes: dict[str, str],
            new_events: int,
            minutes: int,
            fixed: dict[str, str] = fixed,
            current: dict[str, str] = current,
        ) -> None:
            nonlocal moment, mod_count, produced
            moment += timedelta(minutes=minutes)
            current.update(changes)
            row = {**fixed, **current}
            row["sys_mod_count"] = str(mod_count)
            row["sys_updated_by"] = f"Updated by {rng.randrange(1, 900)}"
            row["sys_updated_at"] = servicenow_time(moment)
            for name in AUDIT_COLUMNS:
                columns[name].append(row[name])
            mod_count += 1
            produced += new_events

        group = f"Group {rng.randrange(1, 80)}"
        update({}, 0, rng.randrange(1, 10))
        update({"incident_state": "Active", "assignment_group": group}, 2, rng.randrange(1, 60))
        update({"assigned_to": f"Resolver {rng.randrange(1, 230)}"}, 2, rng.randrange(1, 120))
        if rng.random() < 0.3:
            update(
                {
                    "assignment_group": f"Group {rng.randrange(80, 90)}",
                    "assigned_to": "?",
                    "reassignment_count": "1",
                },
                3,
                rng.randrange(30, 600),
            )
            update({"assigned_to": f"Resolver {rng.randrange(1, 230)}"}, 2, rng.randrange(1, 90))
        if rng.random() < 0.25:
            update({"incident_state": "Awaiting User Info"}, 2, rng.randrange(10, 300))
            update({"incident_state": "Active"}, 2, rng.randrange(60, 3000))
        if rng.random() < 0.1:
            raised = _PRIORITIES[max(0, _PRIORITIES.index(current["priority"]) - 1)]
            if raised != current["priority"]:
                update({"priority": raised}, 1, rng.randrange(5, 60))
        resolve = {
            "incident_state": "Resolved",
            "closed_code": f"code {rng.randrange(1, 18)}",
            "resolved_by": f"Resolved by {rng.randrange(1, 230)}",
        }
        minutes = rng.randrange(20, 2000)
        resolve["resolved_at"] = servicenow_time(moment + timedelta(minutes=minutes))
        update(resolve, 2, minutes)
        if rng.random() < 0.05:
            update({"incident_state": "Active", "reopen_count": "1"}, 1, rng.randrange(60, 2000))
            minutes = rng.randrange(20, 600)
            resolved_at = servicenow_time(moment + timedelta(minutes=minutes))
            update({"incident_state": "Resolved", "resolved_at": resolved_at}, 1, minutes)
        if rng.random() < 0.8:
            minutes = rng.randrange(4000, 8000)
            closed_at = servicenow_time(moment + timedelta(minutes=minutes))
            update(
                {"incident_state": "Closed", "active": "false", "closed_at": closed_at}, 1, minutes
            )
        total_events += produced
    frame = pl.DataFrame(columns, schema={name: pl.String for name in AUDIT_COLUMNS})
    path = Path(path)
    frame.write_csv(path)
    return AuditExport(path=path, incidents=incidents, rows=frame.height, events=total_events)
