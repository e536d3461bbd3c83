"""The record types rules act on, one entry each: how the engine reads a record of the type
(its model and fields, a record by reference, the open ones, a lock), what its update looks like,
who its people are, and which actions apply to it.

The writing half of each entry (update, assign, comment, link through the domain's own flows)
is ``flows.WRITERS``: this module sits at the service level (the rule API validates against it),
and only a flow may call the domains' flows. ``tests/automation/test_records.py`` checks that
both halves name the same record types and actions.

Adding a record type: its ``RecordType`` value, one ``RecordKind`` here, one ``Writer`` in
``flows``, and its flows publishing to ``operational.tickets.hooks``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from operational.automation import conditions
from operational.automation.enums import RecordType, TriggerKind
from operational.changes import records as change_records
from operational.changes.enums import TERMINAL_STATES as CHANGE_ENDED
from operational.changes.enums import ChangeState
from operational.changes.models import Change
from operational.changes.schemas import ChangeUpdate
from operational.core.errors import NotFound
from operational.core.references import record_id, record_number
from operational.incidents import service as incident_service
from operational.incidents.enums import OPEN_STATES as INCIDENT_OPEN
from operational.incidents.models import Incident
from operational.incidents.schemas import IncidentUpdate
from operational.problems import service as problem_service
from operational.problems.enums import OPEN_STATES as PROBLEM_OPEN
from operational.problems.models import Problem
from operational.problems.schemas import ProblemUpdate
from operational.requests import service as request_service
from operational.requests.enums import RequestState
from operational.requests.models import Request
from operational.requests.schemas import RequestUpdate

# Actions every record type takes: they go through the record's update, the notifications
# outbox or nowhere.
COMMON_ACTIONS = frozenset({"set_fields", "notify", "webhook", "stop"})
# Actions a record type takes only when its domain can do them (``RecordKind.actions``).
OPTIONAL_ACTIONS = frozenset({"assign", "comment", "link_problem", "link_change"})
# What every record type's flows publish (and the worker's schedule).
COMMON_TRIGGERS = frozenset(
    {TriggerKind.created, TriggerKind.updated, TriggerKind.state_changed, TriggerKind.schedule}
)
SLA_TRIGGERS = frozenset({TriggerKind.sla_warning, TriggerKind.sla_breached})


@dataclass(frozen=True)
class RecordKind:
    record_type: RecordType
    label: str  # in messages: "a <label>"
    model: type
    api_path: str  # /api/v1/<api_path>/<id>: the link in notices
    update_schema: type[BaseModel]  # what set_fields may set (validated when the rule is saved)
    find: Callable[[Session, str], Any]  # by id or number; NotFound
    open_states: frozenset[str]  # scheduled rules and the dry run look at these
    # The people a notify action's to_assignee / to_team / to_requester reach (None: nobody).
    assignee_field: str | None
    team_field: str | None
    requester_field: str | None
    # What its domain's flows publish: a rule on another trigger would never fire (422).
    triggers: frozenset[str]
    # OPTIONAL_ACTIONS this type takes, with why the others do not apply (the 422 says it).
    actions: frozenset[str]
    refusals: dict[str, str]

    def applies(self, action: str) -> bool:
        return action in COMMON_ACTIONS or action in self.actions

    def fields(self) -> frozenset[str]:
        return conditions.record_fields(self.model)

    def open_ids(self, session: Session, *, after_id: int, limit: int) -> list[int]:
        """Open records of the type, by id (read only)."""
        model = self.model
        return list(
            session.scalars(
                select(model.id)
                .where(model.state.in_(sorted(self.open_states)), model.id > after_id)
                .order_by(model.id)
                .limit(limit)
            )
        )

    def load(self, session: Session, ids: list[int]) -> list[Any]:
        model = self.model
        return list(session.scalars(select(model).where(model.id.in_(ids)).order_by(model.id)))

    def lock_open(self, session: Session, record_id: int) -> Any | bool | None:
        """The record locked and reloaded; None when another transaction holds it, False when
        it is no longer open (a scheduled rule leaves it)."""
        model = self.model
        held = session.scalar(
            select(model.id).where(model.id == record_id).with_for_update(skip_locked=True)
        )
        if held is None:
            return None
        record = session.get(model, record_id, populate_existing=True)
        if record is None or record.state not in self.open_states:
            return False
        return record


def _change_by_reference(session: Session, reference: str) -> Change:
    reference = reference.strip()
    if (found_id := record_id(reference)) is not None:
        return change_records.get(session=session, change_id=found_id)
    number = record_number(reference, max_length=32)
    found = session.scalar(select(Change).where(Change.number == number)) if number else None
    if found is None:
        raise NotFound(f"Change {reference[:32]!r} does not exist")
    return found


KINDS: dict[str, RecordKind] = {
    RecordType.incident: RecordKind(
        record_type=RecordType.incident,
        label="incident",
        model=Incident,
        api_path="incidents",
        update_schema=IncidentUpdate,
        find=lambda session, ref: incident_service.get_by_reference(session=session, reference=ref),
        open_states=frozenset(state.value for state in INCIDENT_OPEN),
        assignee_field="assignee_id",
        team_field="assignment_group_id",
        requester_field="requester_id",
        # route: only incidents are routed when raised (assignment rules).
        triggers=COMMON_TRIGGERS | SLA_TRIGGERS | {TriggerKind.commented, TriggerKind.route},
        actions=OPTIONAL_ACTIONS,
        refusals={},
    ),
    RecordType.change: RecordKind(
        record_type=RecordType.change,
        label="change",
        model=Change,
        api_path="changes",
        update_schema=ChangeUpdate,
        find=_change_by_reference,
        open_states=frozenset(state.value for state in ChangeState if state not in CHANGE_ENDED),
        assignee_field="implementer_id",
        team_field="assignment_group_id",
        requester_field="requester_id",
        triggers=COMMON_TRIGGERS,
        actions=frozenset({"assign"}),
        refusals={
            "comment": "changes have no comments or work notes",
            "link_problem": "a problem names the change that caused it, not the other way",
            "link_change": "link_change records an incident as caused by a change",
        },
    ),
    RecordType.problem: RecordKind(
        record_type=RecordType.problem,
        label="problem",
        model=Problem,
        api_path="problems",
        update_schema=ProblemUpdate,
        find=lambda session, ref: problem_service.get_by_reference(session=session, reference=ref),
        open_states=frozenset(state.value for state in PROBLEM_OPEN),
        assignee_field="owner_id",
        team_field="assignment_group_id",
        requester_field="opened_by_id",
        triggers=COMMON_TRIGGERS,
        # link_change: the change that caused the problem (its caused_by_change_id).
        actions=frozenset({"assign", "link_change"}),
        refusals={
            "comment": "problems have no comments or work notes",
            "link_problem": "a problem is not linked to another problem",
        },
    ),
    RecordType.request: RecordKind(
        record_type=RecordType.request,
        label="service request",
        model=Request,
        api_path="requests",
        update_schema=RequestUpdate,
        find=lambda session, ref: request_service.get_request(session=session, reference=ref),
        open_states=frozenset({RequestState.open.value}),
        assignee_field=None,
        team_field=None,
        requester_field="requester_id",
        # commented: the requester's reply on a line; SLA: a line's delivery clock.
        triggers=COMMON_TRIGGERS | SLA_TRIGGERS | {TriggerKind.commented},
        actions=frozenset(),
        refusals={
            "assign": "a request has no assignee (its fulfilment tasks do)",
            "comment": "a request has no comments or work notes of its own",
            "link_problem": "requests are not linked to problems",
            "link_change": "requests are not linked to changes",
        },
    ),
}


def kind_of(record_type: str) -> RecordKind:
    return KINDS[record_type]
