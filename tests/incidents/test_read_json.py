"""Incident responses that PostgreSQL writes (operational/incidents/reads.py) are byte for byte
what the response models write: over incidents in every state, with and without people, team,
CI, timers running, paused, met and breached, known errors, and awkward text and numbers."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import select, text, update

from operational.auth.models import User
from operational.core import json_sql
from operational.core.pagination import KeysetPage, PageParams
from operational.incidents import flows, reads, service
from operational.incidents.router import _read
from operational.incidents.schemas import IncidentFilters, IncidentRead, IncidentUpdate
from operational.sla import service as sla_service
from operational.sla import timers as sla_timers
from operational.sla.models import SlaTimer
from operational.sla.schemas import CalendarCreate, PolicyCreate
from operational.tickets import hints
from tests.problems.conftest import ProblemApi

URL = "/api/v1/incidents"
ONE = TypeAdapter(IncidentRead)
PAGE = TypeAdapter(KeysetPage[IncidentRead])
WHOLE_WEEK = {
    day: ["00:00-24:00"]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
}
AWKWARD = 'Quote " backslash \\ tab \t newline \n bell \x07 \x1f del \x7f é ✓ 𝄞 \u2028 </script>'


@pytest.fixture
def varied(session, client, factory, incidents):
    """Incidents of every kind, and an agent's headers to read them with."""
    calendar = sla_service.create_calendar(
        session=session,
        data=CalendarCreate(name="always", timezone="UTC", weekly_hours=WHOLE_WEEK),
    )
    sla_service.create_policy(
        session=session,
        data=PolicyCreate(
            name='Payroll "gold"',
            service="Payroll",
            calendar_id=calendar.id,
            response_minutes=60,
            resolution_minutes=240,
        ),
        actor=None,
    )
    team = incidents.team(name='Desk ✓ "north"')
    agent = incidents.agent(teams=(team,), display_name="Zoë O'Brien \\ ")
    requester = incidents.requester(display_name=AWKWARD)
    past = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    made = [
        incidents.incident(actor=agent, title="Bare"),
        incidents.incident(
            actor=agent,
            title=AWKWARD,
            description=AWKWARD * 3,
            requester_id=requester.id,
            assignment_group_id=team.id,
            assignee_id=agent.id,
            service="Payroll",
            category="Software",
            subcategory="Mail",
            configuration_item="MAIL-01",
            location="Floor 3",
            impact=1,
            urgency=2,
            problem_ref="PRB0000001",
            change_ref="CHG0000001",
        ),
        incidents.incident(actor=agent, title="Timers, from the past", service="Payroll", now=past),
        incidents.incident(
            actor=agent,
            title="Overridden",
            priority=1,
            priority_reason="Board meeting",
            service="Payroll",
        ),
        incidents.incident(actor=requester, title="From the requester", impact=1, urgency=1),
    ]
    on_hold = incidents.incident(
        actor=agent, title="Waiting", service="Payroll", assignee_id=agent.id, now=past
    )
    flows.update(
        session=session,
        incident=on_hold,
        data=_update(state="on_hold", hold_reason="awaiting_caller", reason="Asked"),
        actor=agent,
        expected_version=on_hold.version,
        now=past + timedelta(minutes=30),
    )
    resolved = incidents.resolved(actor=agent, service="Payroll", now=past)
    closed = incidents.resolved(actor=agent, title="Closed")
    flows.update(
        session=session,
        incident=closed,
        data=_update(state="closed"),
        actor=agent,
        expected_version=closed.version,
    )
    breached = incidents.incident(
        actor=agent, title="Late", service="Payroll", now=datetime.now(UTC) - timedelta(hours=9)
    )
    flows.process_sla(session=session, incident_id=breached.id, now=datetime.now(UTC))
    made += [on_hold, resolved, closed, breached]

    headers = factory.auth_headers(agent)
    problems = ProblemApi(client, headers)
    problem = problems.create(title="Mail server drops connections")
    assert problems.link(problem, made[1].id).status_code in (200, 201)
    problems.patch(problems.get(problem), root_cause="Stale DNS cache")
    assert problems.publish(problem, "Flush the DNS cache").status_code == 200
    # Whole numbers of minutes and instants without microseconds, written as pydantic does.
    session.execute(
        update(SlaTimer)
        .where(SlaTimer.incident_id == made[2].id)
        .values(elapsed_minutes=12.0, paused_minutes=0.0, computed_at=past)
    )
    session.flush()
    return headers, [incident.id for incident in made]


def _update(**fields):
    return IncidentUpdate(**fields)


def _expected(session, incident_id: int, viewer_id: int | None = None) -> bytes:
    """The response as the models write it (the route's output before reads.py)."""
    session.expire_all()
    incident = service.get_by_reference(session=session, reference=str(incident_id))
    read = _read(incident, sla_timers.timers_for(session=session, incident_id=incident_id))
    if viewer_id is not None:
        viewer = session.get(User, viewer_id)
        read.known_error = hints.workaround(
            session=session, viewer=viewer, problem_id=incident.problem_id
        )
    return ONE.dump_json(read, by_alias=True)


def _viewer_id(client, headers) -> int:
    return client.get("/api/v1/auth/me", headers=headers).json()["id"]


def test_one_incident_is_written_as_the_model_writes_it(client, session, varied):
    headers, ids = varied
    viewer = _viewer_id(client, headers)
    kinds = set()
    for incident_id in ids:
        response = client.get(f"{URL}/{incident_id}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.content == _expected(session, incident_id, viewer)
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert response.headers["etag"] == f'"{body["version"]}"'
        kinds |= {body["state"], *(timer["state"] for timer in body["sla_timers"])}
        kinds |= {"known error"} if body["known_error"] else set()
        kinds |= {"paused"} if any(t["due_at"] is None for t in body["sla_timers"]) else set()
    # The data covers what it claims to.
    assert {"new", "assigned", "on_hold", "resolved", "closed"} <= kinds
    assert {"running", "met", "breached", "paused", "known error"} <= kinds


def test_a_page_is_written_as_the_model_writes_it(client, session, varied):
    headers, _ = varied
    for params in ({"size": 4}, {"size": 50, "sort": "-priority,title"}, {"state": ["resolved"]}):
        response = client.get(URL, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["items"]
        expected = KeysetPage[IncidentRead](
            items=[
                IncidentRead.model_validate_json(_expected(session, item["id"]))
                for item in body["items"]
            ],
            total=body["total"],
            page=body["page"],
            size=body["size"],
            total_is_estimate=body["total_is_estimate"],
            next_after=body["next_after"],
        )
        assert response.content == PAGE.dump_json(expected, by_alias=True)
    # The ids and the cursor are the model path's (service.search) as well.
    viewer = session.get(User, _viewer_id(client, headers))
    for params in ({"size": 4}, {"size": 3, "sort": "-priority,title"}):
        listed = client.get(URL, params=params, headers=headers).json()
        page = service.search(
            session=session,
            viewer=viewer,
            filters=IncidentFilters(),
            params=PageParams(size=params["size"], sort=params.get("sort")),
        )
        assert [item["id"] for item in listed["items"]] == [item.id for item in page.items]
        assert listed["next_after"] == page.next_after
        following = client.get(
            URL, params={**params, "after": listed["next_after"]}, headers=headers
        ).json()
        assert not {item["id"] for item in following["items"]} & {
            item["id"] for item in listed["items"]
        }


@pytest.mark.parametrize("zone", ["UTC", "America/St_Johns", "Asia/Kolkata", "Europe/Berlin"])
def test_instants_follow_the_sessions_time_zone_as_the_models_do(session, varied, zone):
    _, ids = varied
    session.execute(text(f"set local timezone = '{zone}'"))
    for incident_id in ids:
        found = reads.by_reference(session=session, reference=str(incident_id))
        assert found.body == _expected(session, incident_id)


def test_a_number_postgresql_cannot_write_as_pydantic_goes_through_the_models(
    client, session, varied
):
    headers, ids = varied
    timed = ids[2]
    for tiny in (1.5e-05, 1e17, float("nan")):
        session.execute(
            update(SlaTimer).where(SlaTimer.incident_id == timed).values(elapsed_minutes=tiny)
        )
        session.flush()
        assert reads.by_reference(session=session, reference=str(timed)).body is None
        response = client.get(f"{URL}/{timed}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.content == _expected(session, timed)
        listed = client.get(URL, params={"size": 50}, headers=headers)
        assert listed.status_code == 200, listed.text
        [item] = [item for item in listed.json()["items"] if item["id"] == timed]
        assert item == response.json()


def test_by_number_and_missing(client, session, varied):
    headers, ids = varied
    number = session.scalar(select(service.Incident.number).where(service.Incident.id == ids[1]))
    by_number = client.get(f"{URL}/{number.lower()}", headers=headers)
    assert by_number.content == client.get(f"{URL}/{ids[1]}", headers=headers).content
    assert client.get(f"{URL}/99999999", headers=headers).status_code == 404
    assert client.get(f"{URL}/INC9999999", headers=headers).status_code == 404


def test_a_field_without_a_source_or_writer_is_refused_when_the_statement_is_built():
    class Extended(BaseModel):
        id: int
        tags: list[str]

    with pytest.raises(KeyError, match="tags"):
        json_sql.object_sql(Extended, {"id": "i.id"})
    with pytest.raises(TypeError, match=r"list\[str\]"):
        json_sql.object_sql(Extended, {"id": "i.id", "tags": "i.tags"})


VALUES = {
    "site": AWKWARD,
    "cost": 1234.5,
    "ratio": 0.0001,
    "count": 42,
    "negative": -7.25,
    "large": 123456789012,
    "due": "2026-03-02",
    "at": "2026-03-02T09:00:00+00:00",
    "urgent": True,
    "cleared": None,
    "tags": ["a", 'b "c"', "é ✓"],
    "none_picked": [],
    "owner": 17,
}


def _with_custom_fields(session, incident_id: int, values) -> None:
    # Stored as the custom fields' service stores validated values (no definitions needed to
    # read them back: an agent sees every stored value).
    session.execute(
        update(service.Incident)
        .where(service.Incident.id == incident_id)
        .values(custom_fields=values)
    )
    session.flush()


def test_custom_field_values_are_written_by_postgresql_as_the_models_write_them(
    client, session, varied
):
    headers, ids = varied
    viewer = _viewer_id(client, headers)
    _with_custom_fields(session, ids[1], VALUES)
    assert reads.by_reference(session=session, reference=str(ids[1])).body is not None
    response = client.get(f"{URL}/{ids[1]}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.content == _expected(session, ids[1], viewer)
    assert response.json()["custom_fields"] == VALUES
    listed = client.get(URL, params={"size": 50}, headers=headers)
    [item] = [item for item in listed.json()["items"] if item["id"] == ids[1]]
    assert item == response.json() | {"known_error": None}


def test_a_custom_number_pydantic_writes_with_an_exponent_goes_through_the_models(
    client, session, varied
):
    headers, ids = varied
    for number in (1.5e-05, 1e16, -2.5e15, [3e-07]):
        _with_custom_fields(session, ids[0], {"cost": number})
        assert reads.by_reference(session=session, reference=str(ids[0])).body is None
        response = client.get(f"{URL}/{ids[0]}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.content == _expected(session, ids[0])


def test_a_requester_and_a_cf_subset_see_only_their_custom_fields(
    client, session, varied, factory, incidents
):
    headers, ids = varied
    incidents.with_site_and_cost(ids[1], "Delft", 12.5)
    requester = session.get(service.Incident, ids[1]).requester
    own = factory.auth_headers(requester)
    mine = client.get(f"{URL}/{ids[1]}", headers=own)
    assert mine.status_code == 200, mine.text
    assert mine.json()["custom_fields"] == {"site": "Delft"}
    listed = client.get(URL, headers=own).json()["items"]
    assert [item["custom_fields"] for item in listed if item["id"] == ids[1]] == [{"site": "Delft"}]
    subset = client.get(URL, params={"fields": "number,cf.cost", "size": 50}, headers=headers)
    [item] = [item for item in subset.json()["items"] if item["id"] == ids[1]]
    assert item["custom_fields"] == {"cost": 12.5}
