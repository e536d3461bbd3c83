"""The canonical schema every source is turned into, and the one check against it.

Every source module produces polars frames with exactly these columns and dtypes; the loader
only ever sees canonical frames. People, groups, services and CIs are plain text labels here;
the loader matches them to operational rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from operational.auth.permissions import ROLE_PERMISSIONS
from operational.changes.enums import (
    ApprovalStage,
    ChangeState,
    ChangeType,
    Decision,
    ReviewOutcome,
    RiskLevel,
)
from operational.cmdb.enums import CIStatus, Criticality, Environment, RelationshipType
from operational.events.enums import EventKind
from operational.incidents import enums as incident_enums
from operational.incidents.enums import Channel, HoldReason, IncidentState
from operational.problems.enums import ProblemState, RootCauseCategory
from operational.requests.enums import (
    ApprovalRule,
    ApprovalState,
    ItemState,
    RequestState,
    TaskState,
)

UTC_DATETIME = pl.Datetime("us", "UTC")

# Enumerations are the operational service's own (one definition, imported here).
STATES = tuple(state.value for state in IncidentState)
OPEN_STATES = tuple(state.value for state in incident_enums.OPEN_STATES)
HOLD_REASONS = tuple(reason.value for reason in HoldReason)
CHANNELS = tuple(channel.value for channel in Channel)
IMPACTS = incident_enums.IMPACT_URGENCY_VALUES  # 1 high, 2 medium, 3 low
URGENCIES = incident_enums.IMPACT_URGENCY_VALUES
PRIORITIES = incident_enums.PRIORITY_VALUES  # P1..P5

# The kinds an import writes. Resolution, closure and reopening are state_changed events
# (a reopen is a state_changed out of resolved/closed), as in the operational event log.
EVENT_KINDS = tuple(
    kind.value
    for kind in (
        EventKind.created,
        EventKind.state_changed,
        EventKind.assigned,
        EventKind.priority_changed,
        EventKind.field_changed,
        EventKind.comment_added,
        EventKind.work_note_added,
    )
)

CHANGE_TYPES = tuple(kind.value for kind in ChangeType)
CHANGE_STATES = tuple(state.value for state in ChangeState)
RISK_LEVELS = tuple(level.value for level in RiskLevel)
REVIEW_OUTCOMES = tuple(outcome.value for outcome in ReviewOutcome)
APPROVAL_STAGES = tuple(stage.value for stage in ApprovalStage)
DECISIONS = tuple(decision.value for decision in Decision)
# Roles an import may give a CAB member: those that decide on changes, short of administering
# users (an export must never make anyone an administrator).
APPROVER_ROLES = tuple(
    sorted(
        role.value
        for role, granted in ROLE_PERMISSIONS.items()
        if "change:approve" in granted and "user:admin" not in granted
    )
)
PROBLEM_STATES = tuple(state.value for state in ProblemState)
ROOT_CAUSE_CATEGORIES = tuple(category.value for category in RootCauseCategory)
REQUEST_STATES = tuple(state.value for state in RequestState)
REQUEST_ITEM_STATES = tuple(state.value for state in ItemState)
REQUEST_TASK_STATES = tuple(state.value for state in TaskState)
REQUEST_APPROVAL_STATES = tuple(state.value for state in ApprovalState)
REQUEST_APPROVAL_RULES = tuple(rule.value for rule in ApprovalRule)
# The records of the request domain whose history an import carries (their event entity types).
REQUEST_EVENT_ENTITIES = ("request", "request_item", "request_task")
CI_STATUSES = tuple(status.value for status in CIStatus)
ENVIRONMENTS = tuple(environment.value for environment in Environment)
CRITICALITIES = tuple(level.value for level in Criticality)  # 1 most critical .. 4
RELATIONSHIP_TYPES = tuple(kind.value for kind in RelationshipType)

INCIDENT_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    # Custom field values as a JSON object of their source text (generic mappings'
    # custom_fields); the loader types them by the definitions (ingest/loader/custom_fields.py).
    "custom_fields": pl.String(),
    "external_id": pl.String(),
    "number": pl.String(),
    "title": pl.String(),
    "description": pl.String(),
    "requester": pl.String(),
    "opened_by": pl.String(),
    "channel": pl.String(),
    "category": pl.String(),
    "subcategory": pl.String(),
    "service": pl.String(),
    "ci": pl.String(),
    "location": pl.String(),
    "impact": pl.Int8(),
    "urgency": pl.Int8(),
    "priority": pl.Int8(),
    "assignment_group": pl.String(),
    "assignee": pl.String(),
    "state": pl.String(),
    "hold_reason": pl.String(),
    "resolution_code": pl.String(),
    "resolution_notes": pl.String(),
    "opened_at": UTC_DATETIME,
    "updated_at": UTC_DATETIME,
    "resolved_at": UTC_DATETIME,
    "closed_at": UTC_DATETIME,
    "reopen_count": pl.Int32(),
    "reassignment_count": pl.Int32(),
    "source_made_sla": pl.Boolean(),
    "problem_ref": pl.String(),
    "change_ref": pl.String(),
    # The source's own figures, as the source states them (null where it does not): the marts
    # prefer them to the replay of the history (docs/ingest.md, "Source figures").
    # reopen_count and reassignment_count above are the source's own counters too.
    "source_resolved_at": UTC_DATETIME,
    "source_closed_at": UTC_DATETIME,
    # Resolved or closed in the first record the export holds, with no resolution time: when it
    # was resolved is unknown.
    "resolution_time_unknown": pl.Boolean(),
    # Updates the source made that the export lacks (sys_mod_count gaps, a Jira changelog cut
    # short); null where the source has no sequence to check.
    "missing_updates": pl.Int32(),
}

EVENT_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    "external_id": pl.String(),  # the ticket's external id
    "seq": pl.Int32(),  # 1-based order within the ticket
    "occurred_at": UTC_DATETIME,
    "actor": pl.String(),
    "kind": pl.String(),
    "field": pl.String(),
    "old_value": pl.String(),
    "new_value": pl.String(),
    "synthesized": pl.Boolean(),
}

CHANGE_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    # Custom field values as a JSON object of their source text (generic mappings'
    # custom_fields); the loader types them by the definitions (ingest/loader/custom_fields.py).
    "custom_fields": pl.String(),
    "external_id": pl.String(),
    "number": pl.String(),
    "title": pl.String(),
    "description": pl.String(),
    "change_type": pl.String(),
    "state": pl.String(),
    "requester": pl.String(),
    "assignment_group": pl.String(),
    "implementer": pl.String(),
    "affected_cis": pl.List(pl.String()),
    "justification": pl.String(),
    "implementation_plan": pl.String(),
    "backout_plan": pl.String(),
    "test_plan": pl.String(),
    "risk": pl.String(),  # risk level
    "planned_start": UTC_DATETIME,
    "planned_end": UTC_DATETIME,
    "actual_start": UTC_DATETIME,  # implementation began: the change counts as implemented
    "actual_end": UTC_DATETIME,
    "review_outcome": pl.String(),  # the post-implementation review: successful, failed, ...
    "review_caused_incidents": pl.Boolean(),
    "review_notes": pl.String(),
    "reviewer": pl.String(),
    "reviewed_at": UTC_DATETIME,
    "opened_at": UTC_DATETIME,
    "closed_at": UTC_DATETIME,
}

# One CAB member's decision on a change in one round (rounds are numbered per change across
# stages, as the platform does: an emergency change's retrospective is the round after its
# authorization). Outcomes are not imported: the loader settles each round by the CAB rules.
CHANGE_APPROVAL_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    "change_external_id": pl.String(),
    "stage": pl.String(),  # authorization or retrospective
    "round": pl.Int32(),
    "approver": pl.String(),
    "approver_role": pl.String(),  # a role granting change:approve, given to the approver
    "decision": pl.String(),  # approved or rejected
    "comment": pl.String(),
    "decided_at": UTC_DATETIME,
}

CONFIGURATION_ITEM_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    "external_id": pl.String(),
    "name": pl.String(),
    "ci_class": pl.String(),
    "status": pl.String(),
    "environment": pl.String(),
    "owner_group": pl.String(),
    "location": pl.String(),
    "criticality": pl.Int8(),
    "attributes": pl.String(),  # a JSON object, as text
}

# Read as: <ci> <relationship_type> <related_ci>, e.g. "crm-app depends_on crm-db".
CI_RELATIONSHIP_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    "ci_external_id": pl.String(),
    "relationship_type": pl.String(),
    "related_ci_external_id": pl.String(),
}

# A problem behind incidents (incidents name it in problem_ref, by this external id). Sources
# that only reference problems (ServiceNow's problem_id) leave this frame empty: the loader
# makes a problem of each reference it meets (docs/ingest.md, "Problems").
PROBLEM_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    # Custom field values as a JSON object of their source text (generic mappings'
    # custom_fields); the loader types them by the definitions (ingest/loader/custom_fields.py).
    "custom_fields": pl.String(),
    "external_id": pl.String(),
    "number": pl.String(),
    "title": pl.String(),
    "description": pl.String(),
    "state": pl.String(),
    "service": pl.String(),
    "category": pl.String(),
    "ci": pl.String(),  # the CI at fault: a CI's external id or name
    "impact": pl.Int8(),
    "urgency": pl.Int8(),
    "priority": pl.Int8(),
    "assignment_group": pl.String(),
    "owner": pl.String(),
    "symptom": pl.String(),
    "root_cause": pl.String(),
    "root_cause_category": pl.String(),
    "workaround": pl.String(),
    "fix_notes": pl.String(),
    "known_error": pl.Boolean(),
    "opened_at": UTC_DATETIME,
    "root_cause_at": UTC_DATETIME,
    "known_error_at": UTC_DATETIME,
    "resolved_at": UTC_DATETIME,
    "closed_at": UTC_DATETIME,
}

# Service requests (docs/ingest.md, "Requests"): a request (REQ), its items (RITM) naming their
# request and catalog item, the items' fulfilment tasks (SCTASK) and approvals; each record's
# history is a `request_events` frame. Numbers are kept unless another record holds them.
REQUEST_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    # Custom field values as a JSON object of their source text (generic mappings'
    # custom_fields); the loader types them by the definitions (ingest/loader/custom_fields.py).
    "custom_fields": pl.String(),
    "external_id": pl.String(),
    "number": pl.String(),
    "requester": pl.String(),
    "opened_by": pl.String(),
    "justification": pl.String(),
    "state": pl.String(),
    "opened_at": UTC_DATETIME,
    "closed_at": UTC_DATETIME,
}

REQUEST_ITEM_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    "external_id": pl.String(),
    "number": pl.String(),
    "request_external_id": pl.String(),
    "line": pl.Int32(),  # default: after the request's other lines
    "catalog_item": pl.String(),  # the catalog item's name or id (a value map turns others)
    "quantity": pl.Int32(),
    "state": pl.String(),
    "assignment_group": pl.String(),  # the fulfilment team; default: the catalog item's
    "rejection_reason": pl.String(),
    "opened_at": UTC_DATETIME,
    "approved_at": UTC_DATETIME,  # approvals ended: fulfilment begins
    "delivered_at": UTC_DATETIME,
    "closed_at": UTC_DATETIME,  # delivered, rejected or cancelled
}

REQUEST_TASK_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    "external_id": pl.String(),
    "number": pl.String(),
    "request_item_external_id": pl.String(),
    "position": pl.Int32(),  # default: after the item's other tasks
    "name": pl.String(),
    "description": pl.String(),
    "assignment_group": pl.String(),
    "assignee": pl.String(),
    "state": pl.String(),
    "opened_at": UTC_DATETIME,
    "closed_at": UTC_DATETIME,
    "close_notes": pl.String(),
}

# One approver's part in one stage of a request item's approvals.
REQUEST_APPROVAL_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    "request_item_external_id": pl.String(),
    "stage": pl.String(),  # the stage's name
    "stage_position": pl.Int32(),  # default: stages in the order they were first asked
    "rule": pl.String(),  # one, all or quorum (default one)
    "approver": pl.String(),
    "decision": pl.String(),  # pending, approved, rejected or not_required
    "requested_at": UTC_DATETIME,
    "decided_at": UTC_DATETIME,
    "decided_by": pl.String(),  # a delegate deciding for the approver; default the approver
    "comment": pl.String(),
}

# The history of requests, items and tasks: as EVENT_SCHEMA, with the record's entity type.
REQUEST_EVENT_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    "entity": pl.String(),  # request, request_item or request_task
    "external_id": pl.String(),  # the record's external id
    "seq": pl.Int32(),
    "occurred_at": UTC_DATETIME,
    "actor": pl.String(),
    "kind": pl.String(),
    "field": pl.String(),
    "old_value": pl.String(),
    "new_value": pl.String(),
    "synthesized": pl.Boolean(),
}

CSAT_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    "external_id": pl.String(),  # the ticket's external id
    "answered_at": UTC_DATETIME,
    "rating": pl.Int8(),  # 1..5 stars
    "comment": pl.String(),
    "respondent": pl.String(),
}


@dataclass(frozen=True)
class Entity:
    """One canonical entity: its columns, its key, and the columns with a closed set of values."""

    name: str
    schema: dict[str, pl.DataType]
    key: tuple[str, ...]
    required: tuple[str, ...]
    allowed: dict[str, tuple] = field(default_factory=dict)
    minimum: dict[str, int] = field(default_factory=dict)  # lower bounds of number columns


ENTITIES: dict[str, Entity] = {
    "incidents": Entity(
        "incidents",
        INCIDENT_SCHEMA,
        key=("source_system", "external_id"),
        required=("source_system", "external_id", "number", "state", "opened_at"),
        allowed={
            "state": STATES,
            "hold_reason": HOLD_REASONS,
            "channel": CHANNELS,
            "impact": IMPACTS,
            "urgency": URGENCIES,
            "priority": PRIORITIES,
        },
    ),
    "events": Entity(
        "events",
        EVENT_SCHEMA,
        key=("source_system", "external_id", "seq"),
        required=("source_system", "external_id", "seq", "occurred_at", "kind", "synthesized"),
        allowed={"kind": EVENT_KINDS},
    ),
    "changes": Entity(
        "changes",
        CHANGE_SCHEMA,
        key=("source_system", "external_id"),
        required=("source_system", "external_id", "number", "title", "change_type", "state"),
        allowed={
            "change_type": CHANGE_TYPES,
            "state": CHANGE_STATES,
            "risk": RISK_LEVELS,
            "review_outcome": REVIEW_OUTCOMES,
        },
    ),
    "change_approvals": Entity(
        "change_approvals",
        CHANGE_APPROVAL_SCHEMA,
        key=("source_system", "change_external_id", "round", "approver"),
        required=(
            "source_system",
            "change_external_id",
            "stage",
            "round",
            "approver",
            "decision",
            "decided_at",
        ),
        allowed={
            "stage": APPROVAL_STAGES,
            "decision": DECISIONS,
            "approver_role": APPROVER_ROLES,
        },
        minimum={"round": 1},
    ),
    "configuration_items": Entity(
        "configuration_items",
        CONFIGURATION_ITEM_SCHEMA,
        key=("source_system", "external_id"),
        required=("source_system", "external_id", "name", "ci_class"),
        allowed={
            "status": CI_STATUSES,
            "environment": ENVIRONMENTS,
            "criticality": CRITICALITIES,
        },
    ),
    "ci_relationships": Entity(
        "ci_relationships",
        CI_RELATIONSHIP_SCHEMA,
        key=("source_system", "ci_external_id", "relationship_type", "related_ci_external_id"),
        required=(
            "source_system",
            "ci_external_id",
            "relationship_type",
            "related_ci_external_id",
        ),
        allowed={"relationship_type": RELATIONSHIP_TYPES},
    ),
    "problems": Entity(
        "problems",
        PROBLEM_SCHEMA,
        key=("source_system", "external_id"),
        required=("source_system", "external_id", "number", "title", "state", "opened_at"),
        allowed={
            "state": PROBLEM_STATES,
            "impact": IMPACTS,
            "urgency": URGENCIES,
            "priority": PRIORITIES,
            "root_cause_category": ROOT_CAUSE_CATEGORIES,
        },
    ),
    "requests": Entity(
        "requests",
        REQUEST_SCHEMA,
        key=("source_system", "external_id"),
        required=("source_system", "external_id", "number", "requester", "state", "opened_at"),
        allowed={"state": REQUEST_STATES},
    ),
    "request_items": Entity(
        "request_items",
        REQUEST_ITEM_SCHEMA,
        key=("source_system", "external_id"),
        required=(
            "source_system",
            "external_id",
            "number",
            "request_external_id",
            "catalog_item",
            "state",
            "opened_at",
        ),
        allowed={"state": REQUEST_ITEM_STATES},
        minimum={"line": 1, "quantity": 1},
    ),
    "request_tasks": Entity(
        "request_tasks",
        REQUEST_TASK_SCHEMA,
        key=("source_system", "external_id"),
        required=(
            "source_system",
            "external_id",
            "number",
            "request_item_external_id",
            "state",
            "opened_at",
        ),
        allowed={"state": REQUEST_TASK_STATES},
        minimum={"position": 1},
    ),
    "request_approvals": Entity(
        "request_approvals",
        REQUEST_APPROVAL_SCHEMA,
        key=("source_system", "request_item_external_id", "stage", "approver"),
        required=("source_system", "request_item_external_id", "stage", "approver", "decision"),
        allowed={"decision": REQUEST_APPROVAL_STATES, "rule": REQUEST_APPROVAL_RULES},
        minimum={"stage_position": 1},
    ),
    "request_events": Entity(
        "request_events",
        REQUEST_EVENT_SCHEMA,
        key=("source_system", "external_id", "entity", "seq"),
        required=(
            "source_system",
            "entity",
            "external_id",
            "seq",
            "occurred_at",
            "kind",
            "synthesized",
        ),
        allowed={"entity": REQUEST_EVENT_ENTITIES, "kind": EVENT_KINDS},
    ),
    "csat": Entity(
        "csat",
        CSAT_SCHEMA,
        key=("source_system", "external_id"),
        required=("source_system", "external_id", "answered_at", "rating"),
        allowed={"rating": (1, 2, 3, 4, 5)},
    ),
}


class SchemaViolation(ValueError):
    """A source module produced a frame that breaks the canonical schema (a bug, not bad data)."""


def empty(entity: str) -> pl.DataFrame:
    return pl.DataFrame(schema=ENTITIES[entity].schema)


def conform(frame: pl.DataFrame, entity: str) -> pl.DataFrame:
    """Select and cast `frame` to the canonical columns of `entity`, adding missing ones as null.

    Sources reject bad rows before this point, so a violation here means a source bug and raises.
    """
    spec = ENTITIES[entity]
    columns = []
    for name, dtype in spec.schema.items():
        if name in frame.columns:
            columns.append(pl.col(name).cast(dtype))
        else:
            columns.append(pl.lit(None, dtype=dtype).alias(name))
    conformed = frame.select(columns)
    check(conformed, entity)
    return conformed


def check(frame: pl.DataFrame, entity: str) -> None:
    spec = ENTITIES[entity]
    if frame.schema != pl.Schema(spec.schema):
        raise SchemaViolation(f"{entity}: schema {dict(frame.schema)} is not canonical")
    for name in spec.required:
        nulls = frame.get_column(name).null_count()
        if nulls:
            raise SchemaViolation(f"{entity}: {nulls} null value(s) in required column {name}")
    for name, allowed in spec.allowed.items():
        column = frame.get_column(name).drop_nulls()
        bad = column.filter(~column.is_in(list(allowed))).unique()
        if len(bad):
            raise SchemaViolation(f"{entity}: {name} has values outside {allowed}: {bad.to_list()}")
    for name, lowest in spec.minimum.items():
        below = frame.get_column(name).drop_nulls().lt(lowest).sum()
        if below:
            raise SchemaViolation(f"{entity}: {below} value(s) of {name} below {lowest}")
