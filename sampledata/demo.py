"""A seeded, realistic year of service-desk history, written as a generic export.

`write_demo_export(directory)` writes CSV files and their mapping files (the generic source's
own format), so the demo goes through the same parsing and loading as a customer's export:

- configuration_items.csv / ci_relationships.csv: ~300 CIs (business services, applications,
  servers, databases, network devices) and how they depend on each other;
- changes.csv: ~300 changes over the year (standard, normal, emergency) on those CIs, with
  their implementation and post-implementation review (a few failed or backed out);
- change_approvals.csv: the CAB's decisions on them by six CAB members (role manager, which
  holds change:approve): normal changes need two approvals, emergency changes one, and then a
  retrospective review; some rounds are rejected (the change is resubmitted or cancelled). The
  decisions are generated with the platform's own tally, so the outcomes the loader settles
  follow the default CAB rules;
- incidents.csv with incident_events.csv (its history file): ~20,000 incidents raised with
  weekly and daily seasonality, a realistic priority mix, assignment, reassignment, on-hold
  pauses, resolution (some past their SLA), reopening and closure; some are caused by a
  failed, backed-out or unlucky change (on one of its CIs, hours after it began);
- csat.csv: satisfaction answers for part of the resolved incidents;
- problems.csv: the problems behind recurring incidents (about one per 500 incidents): each
  gathers incidents of one category on one CI; some are fixed (and a few recur after the fix),
  some are known errors with a workaround, the rest still under analysis. Incidents name their
  problem in incidents.csv's `problem` column.

The knowledge base (about a hundred articles that the resolved incidents use) is written after
the import, through the knowledge service: see `sampledata.knowledge`.

The history covers the `days` (default 365) up to `end_date`, by default yesterday, so that a
dashboard's default period always shows data; pass `end_date` for byte-identical files.

`IMPORT_ORDER` lists the (file, mapping) pairs in the order they must be loaded.
"""

from __future__ import annotations

import bisect
import csv
import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import yaml

from operational.changes.cab import tally

SOURCE_SYSTEM = "demo"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

TEAMS: dict[str, tuple[str, ...]] = {
    # team: categories it handles
    "Service Desk": ("Access", "How-to", "Password"),
    "Workplace": ("Laptop", "Printer", "Mobile"),
    "Network": ("Network", "VPN", "Wi-Fi"),
    "Identity & Access": ("Accounts", "MFA"),
    "Business Applications": ("CRM", "ERP", "Payroll"),
    "Database": ("Database",),
    "Cloud Platform": ("Hosting", "Storage"),
    "Security": ("Phishing", "Malware"),
}
FIRST_NAMES = (
    "Ana",
    "Ben",
    "Chen",
    "Dana",
    "Eli",
    "Fatima",
    "Gus",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Lena",
    "Mo",
    "Nia",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Vic",
    "Wen",
    "Xavi",
    "Yara",
    "Zoe",
)
LAST_NAMES = (
    "Silva",
    "Berg",
    "Okafor",
    "Jansen",
    "Kowalski",
    "Haddad",
    "Park",
    "Rossi",
    "Novak",
    "Dubois",
    "Larsen",
    "Moreau",
    "Tanaka",
    "Costa",
    "Meyer",
    "Ahmed",
    "Walsh",
    "Nakamura",
    "Fischer",
    "Lopez",
)
# impact, urgency -> share of incidents (the ITIL matrix turns them into P1..P5)
IMPACT_URGENCY_MIX = {
    (1, 1): 0.01,
    (1, 2): 0.03,
    (2, 1): 0.03,
    (1, 3): 0.04,
    (2, 2): 0.34,
    (3, 1): 0.05,
    (2, 3): 0.25,
    (3, 2): 0.20,
    (3, 3): 0.05,
}
# typical resolution time in hours by priority (lognormal median)
RESOLUTION_HOURS = {1: 1.5, 2: 3.5, 3: 8.0, 4: 22.0, 5: 50.0}
# typical minutes to the first agent touch by priority (the default policies allow
# 15, 30, 120, 480 and 1440 minutes)
RESPONSE_MINUTES = {1: 6, 2: 12, 3: 40, 4: 120, 5: 300}
WEEKDAY_WEIGHT = (1.25, 1.15, 1.1, 1.05, 0.95, 0.2, 0.15)  # Monday .. Sunday
HOUR_WEIGHT = (
    0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 0.9, 1.6, 1.8, 1.7, 1.5,
    1.2, 1.4, 1.6, 1.5, 1.2, 0.8, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1,
)  # fmt: skip
# The platform's default CAB rules (migration 0003_cmdb_changes): (rule, quorum) by change type.
CAB_RULES = {"normal": ("quorum", 2), "emergency": ("quorum", 1)}
CAB_SIZE = 6
CAB_ROLE = "manager"  # holds change:approve
APPROVE_COMMENTS = (
    "Plan, backout and test reviewed; go.",
    "Low blast radius, window is fine.",
    "OK with the monitoring in place.",
    "Approved; tell the service desk beforehand.",
)
REJECT_COMMENTS = (
    "Backout plan is not tested.",
    "Collides with month-end close; pick another window.",
    "Impact on dependent services is not assessed.",
)
CHANNEL_MIX = {"portal": 0.42, "email": 0.25, "phone": 0.2, "chat": 0.08, "walk_in": 0.03,
               "monitoring": 0.02}  # fmt: skip


@dataclass
class DemoExport:
    directory: Path
    incidents: int
    events: int
    changes: int
    change_approvals: int
    configuration_items: int
    csat_answers: int
    problems: int
    first_day: date
    last_day: date


def _priority(impact: int, urgency: int) -> int:
    return [[1, 2, 3], [2, 3, 4], [3, 4, 5]][impact - 1][urgency - 1]


def _stamp(moment: datetime) -> str:
    return moment.strftime(TIME_FORMAT)


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _mapping(path: Path, entity: str, columns: dict[str, str], **extra) -> None:
    document = {
        "entity": entity,
        "source_system": SOURCE_SYSTEM,
        "date_formats": [TIME_FORMAT],
        "columns": columns,
        **extra,
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))


IMPORT_ORDER = (
    ("configuration_items.csv", "configuration_items.mapping.yaml"),
    ("ci_relationships.csv", "ci_relationships.mapping.yaml"),
    ("changes.csv", "changes.mapping.yaml"),
    ("change_approvals.csv", "change_approvals.mapping.yaml"),
    ("problems.csv", "problems.mapping.yaml"),
    ("incidents.csv", "incidents.mapping.yaml"),
    ("csat.csv", "csat.mapping.yaml"),
)


def default_end_date() -> date:
    """Yesterday (UTC): the demo history ends there, so the dashboards' default period has data."""
    return datetime.now(UTC).date() - timedelta(days=1)


def write_demo_export(
    directory: Path,
    *,
    seed: int = 2025,
    incidents: int = 20_000,
    days: int = 365,
    end_date: date | None = None,
) -> DemoExport:
    """The demo history covers the `days` up to and including `end_date` (default: yesterday).
    The same seed and end date give the same files."""
    end_date = end_date or default_end_date()
    start = datetime.combine(end_date + timedelta(days=1), time(), tzinfo=UTC) - timedelta(
        days=days
    )
    rng = random.Random(seed)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    people = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(people)
    agents = {team: people[index * 7 : index * 7 + rng.randint(4, 7)] for index, team in
              enumerate(TEAMS)}  # fmt: skip
    cab = people[56 : 56 + CAB_SIZE]
    requesters = people[56 + CAB_SIZE :]

    cis, relationships = _cmdb(rng)
    _write_csv(
        directory / "configuration_items.csv",
        ["id", "name", "class", "status", "environment", "team", "site", "criticality", "attrs"],
        cis,
    )
    _mapping(
        directory / "configuration_items.mapping.yaml",
        "configuration_items",
        {"external_id": "id", "name": "name", "ci_class": "class", "status": "status",
         "environment": "environment", "owner_group": "team", "location": "site",
         "criticality": "criticality", "attributes": "attrs"},
    )  # fmt: skip
    _write_csv(directory / "ci_relationships.csv", ["ci", "type", "related_ci"], relationships)
    _mapping(
        directory / "ci_relationships.mapping.yaml",
        "ci_relationships",
        {
            "ci_external_id": "ci",
            "relationship_type": "type",
            "related_ci_external_id": "related_ci",
        },
    )
    ci_names = [row[0] for row in cis if row[2] in ("application", "server", "database")]
    services = [row[1] for row in cis if row[2] == "business_service"]

    changes = _changes(rng, ci_names, agents, cab, start, days)
    _write_csv(
        directory / "changes.csv",
        ["id", "title", "type", "state", "requester", "team", "implementer", "cis", "risk",
         "start", "end", "opened", "closed", "began", "ended", "review", "caused_incidents",
         "reviewer", "reviewed"],
        [change.row for change in changes],
    )  # fmt: skip
    _mapping(
        directory / "changes.mapping.yaml",
        "changes",
        {"external_id": "id", "title": "title", "change_type": "type", "state": "state",
         "requester": "requester", "assignment_group": "team", "implementer": "implementer",
         "affected_cis": "cis", "risk": "risk", "planned_start": "start", "planned_end": "end",
         "opened_at": "opened", "closed_at": "closed", "actual_start": "began",
         "actual_end": "ended", "review_outcome": "review",
         "review_caused_incidents": "caused_incidents", "reviewer": "reviewer",
         "reviewed_at": "reviewed"},
    )  # fmt: skip
    approvals = [decision for change in changes for decision in change.decisions]
    _write_csv(
        directory / "change_approvals.csv",
        ["change", "stage", "round", "member", "decision", "comment", "at"],
        approvals,
    )
    _mapping(
        directory / "change_approvals.mapping.yaml",
        "change_approvals",
        {"change_external_id": "change", "stage": "stage", "round": "round",
         "approver": "member", "decision": "decision", "comment": "comment",
         "decided_at": "at"},
        constants={"approver_role": CAB_ROLE},
    )  # fmt: skip

    incident_rows, event_rows, csat_rows = _incidents(
        rng, incidents, start, days, agents, requesters, ci_names, services
    )
    _link_caused_incidents(rng, changes, incident_rows, event_rows)
    problem_rows = _problems(random.Random(seed + 1), incident_rows, ci_names, agents, start, days)
    _write_csv(directory / "problems.csv", list(PROBLEM_COLUMNS), problem_rows)
    _mapping(
        directory / "problems.mapping.yaml",
        "problems",
        {"external_id": "id", "title": "title", "state": "state", "assignment_group": "team",
         "owner": "owner", "category": "category", "ci": "ci", "impact": "impact",
         "urgency": "urgency", "symptom": "symptom", "root_cause": "cause",
         "root_cause_category": "cause_category", "workaround": "workaround",
         "fix_notes": "fix", "known_error": "known", "opened_at": "opened",
         "root_cause_at": "cause_found", "known_error_at": "known_at",
         "resolved_at": "resolved", "closed_at": "closed"},
    )  # fmt: skip
    _write_csv(
        directory / "incidents.csv",
        ["id", "title", "requester", "channel", "category", "service", "ci", "impact",
         "urgency", "team", "agent", "state", "hold", "code", "opened", "updated", "resolved",
         "closed", "reopens", "reassignments", "caused_by", "problem"],
        incident_rows,
    )  # fmt: skip
    _write_csv(
        directory / "incident_events.csv",
        ["ticket", "at", "by", "kind", "field", "old", "new"],
        event_rows,
    )
    _mapping(
        directory / "incidents.mapping.yaml",
        "incidents",
        {"external_id": "id", "title": "title", "requester": "requester", "opened_by": "requester",
         "channel": "channel", "category": "category", "service": "service", "ci": "ci",
         "impact": "impact", "urgency": "urgency", "assignment_group": "team",
         "assignee": "agent", "state": "state", "hold_reason": "hold", "resolution_code": "code",
         "opened_at": "opened", "updated_at": "updated", "resolved_at": "resolved",
         "closed_at": "closed", "reopen_count": "reopens",
         "reassignment_count": "reassignments", "change_ref": "caused_by",
         "problem_ref": "problem"},
        history={
            "path": "incident_events.csv",
            "columns": {"external_id": "ticket", "occurred_at": "at", "actor": "by",
                        "kind": "kind", "field": "field", "old_value": "old",
                        "new_value": "new"},
        },
    )  # fmt: skip
    _write_csv(directory / "csat.csv", ["ticket", "answered", "stars", "remark"], csat_rows)
    _mapping(
        directory / "csat.mapping.yaml",
        "csat",
        {"external_id": "ticket", "answered_at": "answered", "rating": "stars",
         "comment": "remark"},
    )  # fmt: skip
    return DemoExport(
        directory=directory,
        incidents=len(incident_rows),
        events=len(event_rows),
        changes=len(changes),
        change_approvals=len(approvals),
        configuration_items=len(cis),
        csat_answers=len(csat_rows),
        problems=len(problem_rows),
        first_day=start.date(),
        last_day=end_date,
    )


def _cmdb(rng: random.Random) -> tuple[list[list[object]], list[list[str]]]:
    rows: list[list[object]] = []
    relationships: list[list[str]] = []
    sites = ("Amsterdam", "Utrecht", "Frankfurt DC", "Dublin DC")

    def add(kind: str, name: str, team: str, criticality: int, attrs: dict) -> str:
        key = f"CI{len(rows) + 1:05d}"
        environment = "production" if rng.random() < 0.8 else rng.choice(("test", "staging"))
        rows.append([key, name, kind, "in_service", environment, team, rng.choice(sites),
                     criticality, json.dumps(attrs)])  # fmt: skip
        return key

    network = [
        add("network_device", f"{kind}-{index:02d}", "Network", 2, {"device_type": kind})
        for index in range(1, 71)
        for kind in (("switch", "router", "firewall", "load_balancer")[index % 4],)
    ]
    servers = []
    for index in range(1, 151):
        key = add("server", f"srv-{index:03d}", "Cloud Platform", 3,
                  {"hostname": f"srv-{index:03d}.corp.example"})  # fmt: skip
        servers.append(key)
        relationships.append([key, "connects_to", rng.choice(network)])
    databases = []
    for index in range(1, 31):
        engine = rng.choice(("postgresql", "mysql", "sqlserver", "oracle"))
        key = add("database", f"db-{index:02d}", "Database", 2, {"engine": engine})
        databases.append(key)
        relationships.append([key, "runs_on", rng.choice(servers)])
    applications = []
    for index, team in zip(range(1, 41), [*TEAMS] * 5, strict=False):
        key = add("application", f"app-{index:02d}", team, rng.choice((1, 2, 3)), {})
        applications.append(key)
        relationships.append([key, "depends_on", rng.choice(databases)])
        for server in rng.sample(servers, 2):
            relationships.append([key, "runs_on", server])
    for name in ("Email", "CRM", "ERP", "Payroll", "Web shop", "VPN", "Wi-Fi", "Intranet",
                 "File shares", "Identity"):  # fmt: skip
        key = add("business_service", name, "Service Desk", 1, {})
        for application in rng.sample(applications, 3):
            relationships.append([key, "depends_on", application])
    unique = {tuple(row) for row in relationships}
    return rows, [list(row) for row in sorted(unique)]


@dataclass
class _Change:
    row: list[object]  # the changes.csv row
    decisions: list[list[object]]  # its change_approvals.csv rows
    cis: list[str]
    began: datetime | None = None
    causes_incidents: int = 0  # incidents it will be linked to as their cause


def _cab_round(
    rng: random.Random,
    key: str,
    change_type: str,
    stage: str,
    number: int,
    members: list[str],
    since: datetime,
    until: datetime,
    approve_chance: float,
) -> tuple[str, list[list[object]], datetime]:
    """One CAB round: members decide one after another until the platform's tally settles it
    (or the window closes). Returns (outcome, decision rows, time of the last decision)."""
    rule, quorum = CAB_RULES["emergency" if change_type == "emergency" else "normal"]
    order = rng.sample(members, len(members))
    rows: list[list[object]] = []
    decisions: list[str] = []
    moment = since
    step = max((until - since) / (len(order) + 1), timedelta(minutes=2))
    outcome = "pending"
    for member in order:
        moment += step * rng.uniform(0.3, 1.0)
        if moment >= until:
            break
        decision = "approved" if rng.random() < approve_chance else "rejected"
        comment = rng.choice(APPROVE_COMMENTS if decision == "approved" else REJECT_COMMENTS)
        decisions.append(decision)
        rows.append([key, stage, number, member, decision, comment, _stamp(moment)])
        outcome = tally(
            rule=rule, quorum=quorum, decisions=decisions, pool_size=len(members)
        ).outcome.value
        if outcome != "pending":
            break
    return outcome, rows, moment


def _changes(
    rng: random.Random,
    ci_keys: list[str],
    agents: dict[str, list[str]],
    cab: list[str],
    start: datetime,
    days: int,
) -> list[_Change]:
    horizon = start + timedelta(days=days)
    changes = []
    for index in range(1, 301):
        key = f"CHG{index:05d}"
        team = rng.choice(list(TEAMS))
        kind = rng.choices(("standard", "normal", "emergency"), (0.5, 0.4, 0.1))[0]
        opened = start + timedelta(minutes=rng.randrange(days * 24 * 60))
        planned = (opened + timedelta(days=rng.randint(2, 14))).replace(
            hour=rng.choice((20, 21, 22)), minute=0, second=0
        )
        if kind == "emergency":
            planned = opened + timedelta(hours=rng.randint(2, 6))
        length = timedelta(hours=rng.choice((1, 2, 3)))
        decisions: list[list[object]] = []
        state = ""
        closed_at: datetime | None = None
        # The CAB: normal changes are sometimes contested; a rejected one is reworked and
        # resubmitted a week later, or dropped.
        if kind != "standard":
            contested = kind == "normal" and rng.random() < 0.12
            outcome, rows, last = _cab_round(
                rng, key, kind, "authorization", 1, cab,
                opened + timedelta(minutes=10), min(planned, horizon) - timedelta(minutes=5),
                0.1 if contested else 0.93,
            )  # fmt: skip
            decisions += rows
            if outcome == "rejected" and rng.random() < 0.5:
                planned += timedelta(days=7)
                outcome, rows, last = _cab_round(
                    rng, key, kind, "authorization", 2, cab, last + timedelta(days=1),
                    min(planned, horizon) - timedelta(minutes=5), 0.95,
                )  # fmt: skip
                decisions += rows
            if outcome == "rejected":
                state, closed_at = "cancelled", last + timedelta(hours=rng.randint(1, 48))
            elif outcome == "pending":
                state = "authorize"  # still waiting for the CAB at the end of the year
        end = planned + length
        began = ended = reviewed = None
        review = caused = reviewer = ""
        if not state and end + timedelta(days=5) > horizon:
            state = "scheduled"
        elif not state and rng.random() < 0.03:
            state, closed_at = "cancelled", planned - timedelta(hours=rng.randint(2, 30))
        elif not state:
            began = planned + timedelta(minutes=rng.randrange(15))
            ended = began + length * rng.uniform(0.6, 1.1)
            result = rng.choices(("successful", "failed", "backed_out"), (0.88, 0.05, 0.07))[0]
            state = {"successful": "closed"}.get(result, result)
            reviewed = ended + timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 8))
            if kind == "emergency":
                # The emergency CAB reviews it in retrospect before the PIR closes it.
                _, rows, last = _cab_round(
                    rng, key, kind, "retrospective", int(decisions[-1][2]) + 1, cab,
                    ended + timedelta(hours=1), reviewed - timedelta(minutes=30), 0.9,
                )  # fmt: skip
                decisions += rows
            review, reviewer, closed_at = result, rng.choice(cab), reviewed
        affected = rng.sample(ci_keys, rng.randint(1, 3))
        change = _Change(
            row=[
                key, f"{kind.title()} change {index} by {team}", kind, state,
                rng.choice(agents[team]), team, rng.choice(agents[team]), ";".join(affected),
                rng.choices(("low", "moderate", "high"), (0.6, 0.3, 0.1))[0], _stamp(planned),
                _stamp(end), _stamp(opened), _stamp(closed_at) if closed_at else "",
                _stamp(began) if began else "", _stamp(ended) if ended else "", review, caused,
                reviewer, _stamp(reviewed) if reviewed else "",
            ],
            decisions=decisions,
            cis=affected,
            began=began,
        )  # fmt: skip
        if began is not None:
            unlucky = review == "successful" and rng.random() < 0.04
            if review in ("failed", "backed_out") or unlucky:
                change.causes_incidents = rng.randint(1, 4)
            # The PIR records whether the change caused incidents.
            change.row[16] = "true" if change.causes_incidents else "false"
        changes.append(change)
    return changes


def _link_caused_incidents(
    rng: random.Random,
    changes: list[_Change],
    incidents: list[list[object]],
    events: list[list[object]],
) -> None:
    """The incidents a failed, backed-out or unlucky change caused: the first ones raised in
    the day after it began become incidents on one of its CIs, linked to it ("caused by
    change") with that link in their history."""
    opened = [datetime.strptime(str(row[14]), TIME_FORMAT).replace(tzinfo=UTC) for row in incidents]
    taken: set[int] = set()
    for change in changes:
        if not change.causes_incidents or change.began is None:
            continue
        position = bisect.bisect_left(opened, change.began + timedelta(minutes=5))
        linked = 0
        while linked < change.causes_incidents and position < len(incidents):
            if position not in taken and opened[position] - change.began < timedelta(hours=24):
                row = incidents[position]
                row[6] = rng.choice(change.cis)
                row[-1] = change.row[0]
                at = opened[position] + timedelta(minutes=rng.randint(20, 90))
                events.append([row[0], _stamp(at), change.row[17] or "Change manager",
                               "field_changed", "caused_by_change", "", change.row[0]])  # fmt: skip
                taken.add(position)
                linked += 1
            position += 1


def _arrival(rng: random.Random, start: datetime, days: int) -> datetime:
    while True:
        day = rng.randrange(days)
        moment = start + timedelta(days=day)
        # seasonality: quieter in August and the last week of December
        season = 0.7 if moment.month == 8 or (moment.month == 12 and moment.day > 22) else 1.0
        if rng.random() < WEEKDAY_WEIGHT[moment.weekday()] / 1.25 * season:
            hour = rng.choices(range(24), HOUR_WEIGHT)[0]
            return moment + timedelta(hours=hour, minutes=rng.randrange(60))


def _incidents(
    rng: random.Random,
    count: int,
    start: datetime,
    days: int,
    agents: dict[str, list[str]],
    requesters: list[str],
    ci_keys: list[str],
    services: list[str],
) -> tuple[list[list[object]], list[list[object]], list[list[object]]]:
    horizon = start + timedelta(days=days)
    arrivals = sorted(_arrival(rng, start, days) for _ in range(count))
    mix = list(IMPACT_URGENCY_MIX)
    weights = list(IMPACT_URGENCY_MIX.values())
    channels, channel_weights = list(CHANNEL_MIX), list(CHANNEL_MIX.values())
    incidents: list[list[object]] = []
    events: list[list[object]] = []
    answers: list[list[object]] = []
    for number, opened in enumerate(arrivals, start=1):
        key = f"DEMO{number:06d}"
        team = rng.choice(list(TEAMS))
        category = rng.choice(TEAMS[team])
        impact, urgency = rng.choices(mix, weights)[0]
        priority = _priority(impact, urgency)
        requester = rng.choice(requesters)
        log: list[list[object]] = []
        now = opened
        state = "new"

        def event(kind: str, field: str = "", old: object = "", new: object = "",
                  actor: str = "", at: datetime | None = None) -> None:  # fmt: skip
            # called within the same iteration, so the loop's current values are the right ones
            log.append([key, _stamp(at or now), actor, kind, field, old, new])  # noqa: B023

        def move(to: str, actor: str) -> None:
            nonlocal state
            event("state_changed", "state", state, to, actor)
            state = to

        event("created", new=key, actor=requester)
        # assignment to a team, then to an agent who starts work
        response = rng.lognormvariate(math.log(RESPONSE_MINUTES[priority]), 0.6)
        now += timedelta(minutes=response * 0.4)
        first_team = team if rng.random() < 0.8 else "Service Desk"
        event("assigned", "assignment_group", "", first_team, "triage")
        move("assigned", "triage")
        group, agent = first_team, ""
        reassignments = 0
        if first_team != team or rng.random() < 0.1:
            now += timedelta(minutes=rng.randint(5, 60))
            event("assigned", "assignment_group", group, team, "triage")
            group = team
            reassignments += 1
        now += timedelta(minutes=response * 0.6)
        agent = rng.choice(agents[group])
        event("assigned", "assignee", "", agent, agent)
        move("in_progress", agent)
        if rng.random() < 0.5:
            event("comment_added", new="Looking into this now.", actor=agent)
        hold = ""
        if rng.random() < 0.18:
            now += timedelta(minutes=rng.randint(15, 240))
            move("on_hold", agent)
            hold = "awaiting_caller" if rng.random() < 0.8 else "awaiting_vendor"
            event("field_changed", "hold_reason", "", hold, agent)
            now += timedelta(hours=rng.lognormvariate(math.log(10), 0.9))
            if now < horizon:
                move("in_progress", requester if hold == "awaiting_caller" else agent)
                event("field_changed", "hold_reason", hold, "", agent)
                hold = ""
        resolved_at = closed_at = None
        code = ""
        reopens = 0
        rounds = 2 if rng.random() < 0.04 else 1
        for round_number in range(rounds):
            if state == "on_hold":
                break
            hours = rng.lognormvariate(math.log(RESOLUTION_HOURS[priority]), 0.7)
            if round_number:
                hours /= 3
            at = now + timedelta(hours=hours)
            if at >= horizon:
                break
            now = at
            move("resolved", agent)
            code = rng.choice(("Solved (permanently)", "Workaround", "Solved remotely"))
            event("field_changed", "resolution_code", "", code, agent)
            resolved_at = now
            if round_number + 1 < rounds:
                now += timedelta(hours=rng.uniform(2, 48))
                if now >= horizon:
                    break
                move("in_progress", requester)
                reopens += 1
                resolved_at = None
        if state == "resolved":
            close_at = now + timedelta(days=3)
            if close_at < horizon:
                now = close_at
                move("closed", "auto-close")
                closed_at = now
            if rng.random() < 0.3:
                answered = resolved_at + timedelta(hours=rng.uniform(1, 60))
                slow = (resolved_at - opened) > timedelta(hours=RESOLUTION_HOURS[priority] * 2)
                stars = rng.choices((1, 2, 3, 4, 5), (3, 4, 10, 30, 53) if not slow else
                                    (15, 20, 25, 25, 15))[0]  # fmt: skip
                if answered < horizon:
                    answers.append([key, _stamp(answered), stars, ""])
        events.extend(log)
        incidents.append([
            key, f"{category}: {rng.choice(('not working', 'slow', 'error', 'request'))}",
            requester, rng.choices(channels, channel_weights)[0], category,
            rng.choice(services), rng.choice(ci_keys), impact, urgency, group, agent, state,
            hold if state == "on_hold" else "", code, _stamp(opened), _stamp(now),
            _stamp(resolved_at) if resolved_at else "", _stamp(closed_at) if closed_at else "",
            reopens, reassignments, "",
        ])  # fmt: skip
    return incidents, events, answers


PROBLEM_COLUMNS = (
    "id", "title", "state", "team", "owner", "category", "ci", "impact", "urgency", "symptom",
    "cause", "cause_category", "workaround", "fix", "known", "opened", "cause_found", "known_at",
    "resolved", "closed",
)  # fmt: skip
# (symptom, root cause, its category, workaround, fix) of the demo's problems.
PROBLEM_STORIES = (
    ("Sessions drop every few minutes", "Idle timeout on the load balancer set to 60 s",
     "configuration", "Reconnect and keep the window active", "Idle timeout raised to 30 min"),
    ("Slow to open and save", "Storage volume at 98% forces synchronous writes", "capacity",
     "Work on the local copy and sync later", "Volume extended and alerting added at 80%"),
    ("Fails after the monthly patch", "Vendor update changed a default", "third_party",
     "Roll back the client to the previous build", "Vendor hotfix deployed"),
    ("Login loops back to the start page", "Clock drift on one node breaks token checks",
     "configuration", "Use the second node's address", "Time sync enforced on every node"),
    ("Errors under load at month end", "Connection pool too small for the peak", "capacity",
     "Retry after a few minutes", "Pool raised and load-tested"),
    ("Crashes when printing large files", "Memory leak in the spooler driver", "software",
     "Restart the spooler service", "Driver replaced by the fixed release"),
    ("Intermittent timeouts", "Faulty port on the distribution switch", "hardware",
     "Move to a port on the other switch", "Switch module replaced"),
    ("Access denied for new starters", "Onboarding script skips one group", "process",
     "Add the group by hand from the admin console", "Onboarding script corrected and tested"),
)  # fmt: skip


def _problems(
    rng: random.Random,
    incidents: list[list[object]],
    ci_keys: list[str],
    agents: dict[str, list[str]],
    start: datetime,
    days: int,
) -> list[list[object]]:
    """Problems behind recurring incidents: each takes incidents of one category (not caused by
    a change) from three weeks before it opened on, moves them onto its CI and names itself in
    their `problem` column (appended to every incident row). Fixed ones stop collecting at the
    fix, except the few whose fix did not hold; known errors keep collecting, after their
    workaround was published too."""
    for row in incidents:
        row.append("")
    horizon = start + timedelta(days=days)
    opened_times = [datetime.strptime(str(row[14]), TIME_FORMAT).replace(tzinfo=UTC)
                    for row in incidents]  # fmt: skip
    by_category: dict[str, list[int]] = {}
    for index, row in enumerate(incidents):
        if not row[20]:  # not caused by a change
            by_category.setdefault(str(row[4]), []).append(index)
    rows: list[list[object]] = []
    for number in range(1, max(3, len(incidents) // 500) + 1):
        team = rng.choice(list(TEAMS))
        category = rng.choice(TEAMS[team])
        symptom, cause, cause_category, workaround, fix = rng.choice(PROBLEM_STORIES)
        opened = start + timedelta(days=rng.uniform(days * 0.1, days * 0.8))
        kind = ("fixed", "fixed", "fixed", "fixed", "known", "known", "known", "open", "open",
                "open")[number % 10]  # fmt: skip
        cause_found = opened + timedelta(hours=rng.uniform(12, 24 * 20))
        known_at = cause_found + timedelta(hours=rng.uniform(1, 48))
        resolved = known_at + timedelta(days=rng.uniform(2, 30))
        if kind == "fixed" and resolved >= horizon:
            kind = "known"
        recurs = kind == "fixed" and number % 5 == 0
        state = {"fixed": "resolved", "known": "fix_in_progress", "open": "assessed"}[kind]
        closed = resolved + timedelta(days=7) if kind == "fixed" else None
        if closed is not None and closed < horizon:
            state = "closed"
        else:
            closed = None
        if kind == "open" and cause_found < horizon and number % 2:
            state = "root_cause_analysis"
        key = f"PRB-D{number:04d}"
        ci = rng.choice(ci_keys)
        wanted = rng.randint(4, 18)
        until = resolved if kind == "fixed" else horizon
        candidates = [
            index
            for index in by_category.get(category, [])
            if opened - timedelta(days=21) <= opened_times[index] < until
            and not incidents[index][-1]
        ]
        chosen = sorted(rng.sample(candidates, min(wanted, len(candidates))))
        if recurs:  # the fix did not hold: a few more after it
            later = [index for index in by_category.get(category, [])
                     if opened_times[index] > resolved and not incidents[index][-1]]  # fmt: skip
            chosen += later[: rng.randint(1, 3)]
        for index in chosen:
            incidents[index][6] = ci
            incidents[index][-1] = key
        fixed = kind == "fixed"
        known = kind in ("fixed", "known")
        rows.append([
            key, f"{category}: {symptom.lower()}", state, team, rng.choice(agents[team]),
            category, ci, rng.choice((1, 2, 2, 3)), rng.choice((1, 2, 2, 3)), symptom,
            cause if kind != "open" else "", cause_category if kind != "open" else "",
            workaround if known else "", fix if fixed else "", "true" if known else "false",
            _stamp(opened), _stamp(cause_found) if kind != "open" else "",
            _stamp(known_at) if known else "", _stamp(resolved) if fixed else "",
            _stamp(closed) if closed else "",
        ])  # fmt: skip
    return rows
