import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from operational.core.db import SCHEMA
from operational.incidents import flows
from operational.incidents.schemas import IncidentUpdate

URL = "/api/v1/incidents"


def _facts(events):
    return [(e.kind, e.field, e.old_value, e.new_value) for e in events]


def test_one_event_per_changed_field_and_none_for_unchanged(incidents, session):
    agent = incidents.agent()
    incident = incidents.incident(actor=agent, title="Old", category="Network", location="HQ")
    flows.update(
        session=session,
        incident=incident,
        data=IncidentUpdate(
            title="New",
            description="Details",
            category="Network",  # unchanged: no event
            configuration_item="srv-042",
            location=None,
            channel="phone",
        ),
        actor=agent,
        expected_version=1,
    )
    assert _facts(incidents.events(incident)[1:]) == [
        ("field_changed", "title", "Old", "New"),
        ("field_changed", "description", None, "Details"),
        ("field_changed", "channel", "portal", "phone"),
        ("field_changed", "ci", None, "srv-042"),
        ("field_changed", "location", "HQ", None),
    ]
    assert incident.version == 2
    # Sending only unchanged values changes nothing: no event, no new version.
    flows.update(
        session=session,
        incident=incident,
        data=IncidentUpdate(title="New"),
        actor=agent,
        expected_version=2,
    )
    assert (len(incidents.events(incident)), incident.version) == (6, 2)


def test_created_event_carries_the_initial_values(incidents):
    requester = incidents.requester()
    incident = incidents.incident(
        actor=requester, title="Disk full", impact=2, urgency=1, category="Storage"
    )
    created = incidents.events(incident)[0]
    assert (created.seq, created.kind, created.new_value, created.actor_id) == (
        1,
        "created",
        incident.number,
        requester.id,
    )
    # A requester's impact and urgency are a suggestion; the priority waits for an agent.
    assert created.data == {
        "title": "Disk full",
        "state": "new",
        "channel": "portal",
        "requester": requester.display_name,
        "requester_id": requester.id,
        "category": "Storage",
        "impact": 3,
        "urgency": 3,
        "priority": 5,
        "suggested_impact": 2,
        "suggested_urgency": 1,
    }


def test_requester_change_records_names_and_ids(incidents, session):
    agent, first, second = incidents.agent(), incidents.requester(), incidents.requester()
    incident = incidents.incident(actor=agent, requester_id=first.id)
    flows.update(
        session=session,
        incident=incident,
        data=IncidentUpdate(requester_id=second.id),
        actor=agent,
        expected_version=1,
    )
    event = incidents.events(incident)[-1]
    assert (event.field, event.old_value, event.new_value) == (
        "requester",
        first.display_name,
        second.display_name,
    )
    assert event.data == {"old_id": first.id, "new_id": second.id}


def test_the_database_refuses_to_rewrite_incident_events(incidents, session):
    incident = incidents.incident()
    event = incidents.events(incident)[0]
    for statement in (
        f"update {SCHEMA}.events set new_value = 'INC0000000' where id = :id",
        f"delete from {SCHEMA}.events where id = :id",
    ):
        savepoint = session.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement), {"id": event.id})
        savepoint.rollback()
    assert incidents.events(incident)[0].new_value == incident.number


def test_a_refused_update_leaves_neither_changes_nor_events(client, factory, session):
    headers = factory.auth_headers(factory.user(roles=("agent",)))
    incident = client.post(URL, json={"title": "Before"}, headers=headers).json()
    refused = client.patch(
        f"{URL}/{incident['id']}",
        json={"title": "After", "state": "closed"},
        headers={**headers, "If-Match": '"1"'},
    )
    assert refused.status_code == 409
    after = client.get(f"{URL}/{incident['id']}", headers=headers).json()
    assert (after["title"], after["version"]) == ("Before", 1)
    timeline = client.get(f"{URL}/{incident['id']}/timeline", headers=headers).json()
    assert [event["kind"] for event in timeline if not event["kind"].startswith("sla_")] == [
        "created"
    ]


def test_first_contact_facts(incidents, session):
    agent, requester = incidents.agent(), incidents.requester()
    quick = incidents.resolved(actor=agent, requester_id=requester.id, channel="phone")
    assert (quick.channel, quick.first_assignee_id, quick.reassignment_count) == (
        "phone",
        agent.id,
        0,
    )
    assert (quick.escalated, quick.requester_replied_before_resolution) == (False, False)
    # A comment after the resolution is not a reply before it.
    flows.add_comment(session=session, incident=quick, actor=requester, body="Thanks!")
    assert quick.requester_replied_before_resolution is False

    chased = incidents.incident(actor=agent, requester_id=requester.id, assignee_id=agent.id)
    flows.add_comment(session=session, incident=chased, actor=requester, body="Any news?")
    assert chased.requester_replied_before_resolution is True
