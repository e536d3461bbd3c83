import pytest

from operational.core.errors import UnprocessableEntity
from operational.incidents import flows
from operational.incidents.priority import priority_for
from operational.incidents.schemas import IncidentUpdate

# The ITIL 3x3 matrix, cell by cell: (impact, urgency) -> priority.
ITIL = {
    (1, 1): 1, (1, 2): 2, (1, 3): 3,
    (2, 1): 2, (2, 2): 3, (2, 3): 4,
    (3, 1): 3, (3, 2): 4, (3, 3): 5,
}  # fmt: skip


@pytest.mark.parametrize(("impact", "urgency"), sorted(ITIL))
def test_default_matrix_is_itil(impact, urgency):
    assert priority_for(impact=impact, urgency=urgency) == ITIL[impact, urgency]


def test_new_incident_takes_its_priority_from_the_matrix(incidents):
    assert incidents.incident(impact=1, urgency=1).priority == 1
    assert incidents.incident(impact=3, urgency=3).priority == 5
    assert incidents.incident(impact=2, urgency=1).priority == 2


def test_matrix_is_configurable(incidents, settings_env):
    settings_env(incident_priority_matrix="[[1,1,2],[2,2,3],[3,4,4]]")
    assert priority_for(impact=1, urgency=2) == 1
    assert incidents.incident(impact=3, urgency=3).priority == 4


def test_impact_change_recomputes_priority_with_one_event_per_field(incidents, session):
    agent = incidents.agent()
    incident = incidents.incident(actor=agent, impact=3, urgency=2)
    assert incident.priority == 4
    flows.update(
        session=session,
        incident=incident,
        data=IncidentUpdate(impact=1),
        actor=agent,
        expected_version=1,
    )
    assert incident.priority == 2
    changes = [(e.kind, e.field, e.old_value, e.new_value) for e in incidents.events(incident)][1:]
    assert changes == [
        ("field_changed", "impact", "3", "1"),
        ("priority_changed", "priority", "4", "2"),
    ]


def test_override_is_recorded_with_reason_and_sticks(incidents, session):
    agent = incidents.agent()
    incident = incidents.incident(actor=agent, impact=3, urgency=3)
    flows.change_priority(
        session=session, incident=incident, actor=agent, priority=2, reason="CEO's laptop"
    )
    assert (incident.priority, incident.priority_overridden) == (2, True)
    assert incident.priority_override_reason == "CEO's laptop"
    event = incidents.events(incident)[-1]
    assert (event.kind, event.old_value, event.new_value) == ("priority_changed", "5", "2")
    assert event.data["reason"] == "CEO's laptop"
    assert event.data["matrix_priority"] == 5
    # A later urgency change no longer moves an overridden priority.
    flows.update(
        session=session,
        incident=incident,
        data=IncidentUpdate(urgency=1),
        actor=agent,
        expected_version=incident.version,
    )
    assert incident.priority == 2


def test_override_needs_a_reason(incidents, session):
    incident = incidents.incident()
    with pytest.raises(UnprocessableEntity):
        flows.change_priority(
            session=session, incident=incident, actor=None, priority=1, reason=" "
        )


def test_system_raising_the_priority_marks_the_incident_escalated(incidents, session):
    incident = incidents.incident(impact=2, urgency=2)
    assert incident.escalated is False
    flows.change_priority(
        session=session, incident=incident, actor=None, priority=2, reason="SLA 90% used"
    )
    assert incident.escalated is True
    assert incidents.events(incident)[-1].actor_label == "system"
