"""What the main incident routes cost in SQL statements, counted on the real engine: a change that
adds a round trip per request (a lazy load, a selectin cascade, a lookup per item) fails here.

The counts leave out the test harness's own statements (savepoints, ``set role``). The signed-in
user comes from the auth cache after the first request (tests/auth/test_auth_cache.py)."""

import pytest
from sqlalchemy import event

from operational.auth.models import User
from operational.sla.models import SlaTimer

HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "set role", "reset role")

# The budgets: statements per request with a warm auth cache.
# Reads: PostgreSQL writes the response (operational/incidents/reads.py).
GET_BY_ID = 1  # the incident's JSON, with its people, team and timers
LIST_PAGE = 3  # the total; the page's ids; their JSON
# Writes: lock (the row read again, locked: one statement), one UPDATE of the row whatever
# changed, one event per change (the chain's head read once), the SLA timers' replay and its
# events (their chain heads, when not read already, and the time in one statement), the
# notifications the change calls for (recipients, preferences, outbox), and the automation rules
# the change triggers (one lookup when none match); a create also reads the custom field
# definitions (defaults and required fields), draws its number (one statement with the check
# that no imported ticket holds it) and asks for suggestions (docs/knowledge.md).
CREATE = 16
UPDATE = 13


class Statements:
    def __init__(self, engine):
        self.engine = engine
        self.seen: list[str] = []

    def _record(self, _conn, _cursor, statement, *_args):
        if not statement.startswith(HARNESS):
            self.seen.append(statement)

    def __call__(self, send):
        self.seen = []
        event.listen(self.engine, "before_cursor_execute", self._record)
        try:
            response = send()
        finally:
            event.remove(self.engine, "before_cursor_execute", self._record)
        assert response.is_success, response.text
        return len(self.seen)


@pytest.fixture
def agent_with_incidents(client, session, incidents, factory):
    team = incidents.team()
    agent = incidents.agent(teams=(team,))
    requester = incidents.requester()
    made = [
        incidents.incident(
            actor=agent,
            requester_id=requester.id,
            assignment_group_id=team.id,
            assignee_id=agent.id,
            title=f"Mail queue stuck {n}",
        )
        for n in range(5)
    ]
    headers = factory.auth_headers(agent)
    for _ in range(2):  # the first request commits the new user; the second caches it
        client.get("/api/v1/incidents/priority-matrix", headers=headers).raise_for_status()
    # As in a request's own session, nothing is loaded yet (the tests share theirs).
    session.expunge_all()
    return headers, made


def test_get_by_id_is_one_statement(client, engine, agent_with_incidents):
    headers, made = agent_with_incidents
    count = Statements(engine)
    by_id = count(lambda: client.get(f"/api/v1/incidents/{made[0].id}", headers=headers))
    by_number = count(lambda: client.get(f"/api/v1/incidents/{made[1].number}", headers=headers))
    body = client.get(f"/api/v1/incidents/{made[0].id}", headers=headers).json()

    assert (by_id, by_number) == (GET_BY_ID, GET_BY_ID)
    assert body["sla_timers"] and body["requester"] and body["assignee"]
    assert body["assignment_group"]


def test_a_list_page_costs_the_same_whatever_its_size(client, engine, agent_with_incidents):
    headers, _ = agent_with_incidents
    count = Statements(engine)

    small = count(lambda: client.get("/api/v1/incidents?size=1", headers=headers))
    full = count(lambda: client.get("/api/v1/incidents?size=50", headers=headers))

    assert small == full == LIST_PAGE


def test_a_lean_page_costs_the_same_and_reads_neither_people_nor_timers(
    client, engine, agent_with_incidents
):
    headers, _ = agent_with_incidents
    count = Statements(engine)

    lean = count(
        lambda: client.get(
            "/api/v1/incidents?size=50&fields=id,number,title,state,priority", headers=headers
        )
    )
    written = count.seen[-1]
    with_people = count(
        lambda: client.get("/api/v1/incidents?fields=title,assignee,sla_timers", headers=headers)
    )

    assert lean == with_people == LIST_PAGE
    assert "concat(" in written and '"priority"' in written  # the page's JSON
    assert User.__table__.fullname not in written and SlaTimer.__table__.fullname not in written
    assert (
        User.__table__.fullname in count.seen[-1] and SlaTimer.__table__.fullname in count.seen[-1]
    )


def test_create_and_update_stay_within_their_budget(client, engine, agent_with_incidents):
    headers, made = agent_with_incidents
    count = Statements(engine)
    created = count(
        lambda: client.post("/api/v1/incidents", json={"title": "VPN drops"}, headers=headers)
    )
    updated = count(
        lambda: client.patch(
            f"/api/v1/incidents/{made[2].id}",
            json={"urgency": 1},
            headers={**headers, "If-Match": f'"{made[2].version}"'},
        )
    )
    assert created <= CREATE
    assert updated <= UPDATE


def test_an_update_writes_the_incident_once_whatever_it_changes(
    client, engine, agent_with_incidents
):
    """Each changed field is an event of its own, but the row is written once: an event does not
    flush the fields set before it (urgency moves the priority too: two fields, two events)."""
    headers, made = agent_with_incidents
    count = Statements(engine)
    count(
        lambda: client.patch(
            f"/api/v1/incidents/{made[3].id}",
            json={"urgency": 1, "title": "Mail queue stuck for everyone"},
            headers={**headers, "If-Match": f'"{made[3].version}"'},
        )
    )
    row_writes = [s for s in count.seen if s.startswith("UPDATE operational.incidents")]
    field_events = [s for s in count.seen if s.startswith("INSERT INTO operational.events")]

    assert len(row_writes) == 1
    assert "urgency" in row_writes[0] and "priority" in row_writes[0] and "title" in row_writes[0]
    assert len(field_events) == 3  # title, urgency, priority
