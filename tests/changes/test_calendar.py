"""Calendar, blackout windows (recurring), collision detection and override with a reason."""

from datetime import timedelta

import pytest

from operational.events import service as events

from .conftest import MONDAY


def _blackout(client, headers, **fields):
    fields.setdefault("name", "Freeze")
    return client.post("/api/v1/blackout-windows", headers=headers, json=fields)


def test_a_weekly_window_keeps_its_local_time_across_daylight_saving(client, headers_for):
    created = _blackout(
        client,
        headers_for("admin"),
        name="Weekend freeze",
        starts_at="2030-03-23T22:00:00+01:00",
        ends_at="2030-03-24T06:00:00+01:00",
        timezone="Europe/Berlin",
        rrule="RRULE:freq=weekly;byday=SA",
    )
    assert created.status_code == 201, created.text
    assert created.json()["rrule"] == "FREQ=WEEKLY;BYDAY=SA"

    calendar = client.get(
        "/api/v1/changes/calendar",
        headers=headers_for("auditor"),
        params={"from": "2030-03-20T00:00:00Z", "to": "2030-04-10T00:00:00Z"},
    )
    assert calendar.status_code == 200, calendar.text
    body = calendar.json()
    assert (body["from"], body["to"]) == ("2030-03-20T00:00:00Z", "2030-04-10T00:00:00Z")
    # Berlin moves to summer time on Sunday 31 March 2030 at 02:00.
    assert [(item["starts_at"], item["ends_at"]) for item in body["blackouts"]] == [
        ("2030-03-23T21:00:00Z", "2030-03-24T05:00:00Z"),
        ("2030-03-30T21:00:00Z", "2030-03-31T04:00:00Z"),
        ("2030-04-06T20:00:00Z", "2030-04-07T04:00:00Z"),
    ]


def test_calendar_lists_scheduled_changes_in_range(changes, client, headers_for):
    in_range = changes.scheduled(changes.change(cis=[changes.ci()], title="In range"))
    changes.change(cis=[changes.ci()], title="Only raised")
    changes.scheduled(
        changes.change(cis=[changes.ci()], title="Later", start=MONDAY + timedelta(days=30))
    )
    body = client.get(
        "/api/v1/changes/calendar",
        headers=headers_for("agent"),
        params={"from": "2030-03-04T00:00:00Z", "to": "2030-03-05T00:00:00Z"},
    ).json()
    assert [item["number"] for item in body["changes"]] == [in_range.number]
    assert body["changes"][0]["state"] == "scheduled"
    everything = client.get(
        "/api/v1/changes/calendar",
        headers=headers_for("agent"),
        params={
            "from": "2030-03-04T00:00:00Z",
            "to": "2030-03-05T00:00:00Z",
            "state": ["new", "scheduled"],
        },
    ).json()
    assert len(everything["changes"]) == 2


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"from": "2030-03-05T00:00:00Z", "to": "2030-03-04T00:00:00Z"}, 400),
        ({"from": "2030-01-01T00:00:00Z", "to": "2031-06-01T00:00:00Z"}, 400),
        ({"to": "2030-03-04T00:00:00Z"}, 422),
        ({"from": "2030-03-04T00:00:00", "to": "2030-03-05T00:00:00"}, 422),
    ],
)
def test_calendar_checks_its_range(client, headers_for, params, status):
    response = client.get("/api/v1/changes/calendar", headers=headers_for("agent"), params=params)
    assert response.status_code == status


def test_scheduling_into_a_blackout_is_refused_with_the_window(changes, client, factory):
    window = changes.blackout(
        starts_at=MONDAY - timedelta(hours=1), ends_at=MONDAY + timedelta(hours=8)
    )
    change = changes.approved(changes.change(cis=[changes.ci()]))
    response = client.post(
        f"/api/v1/changes/{change.id}/transition",
        headers={**factory.auth_headers(changes.agent()), "If-Match": f'"{change.version}"'},
        json={"to": "scheduled"},
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "/problems/schedule-conflict"
    assert problem["conflicts"] == [
        {
            "kind": "blackout",
            "window_id": window.id,
            "name": "Quarter-end freeze",
            "starts_at": "2030-03-04T09:00:00+00:00",
            "ends_at": "2030-03-04T18:00:00+00:00",
            "environment": None,
        }
    ]
    assert problem["override"] == f"/api/v1/changes/{change.id}/schedule-override"


def test_a_window_limited_to_production_spares_test_cis(changes):
    changes.blackout(
        starts_at=MONDAY - timedelta(hours=1),
        ends_at=MONDAY + timedelta(hours=8),
        environment="production",
    )
    change = changes.approved(changes.change(cis=[changes.ci(environment="test")]))
    assert changes.move(change, "scheduled").state == "scheduled"


@pytest.fixture
def crm(changes):
    """crm-app depends_on crm-db; crm-db hosted_on db-host; a change on crm-db is scheduled
    from 10:00 to 12:00."""
    cis = {
        "app": changes.ci("crm-app"),
        "db": changes.ci("crm-db", ci_class="database"),
        "host": changes.ci("db-host", ci_class="server"),
        "other": changes.ci("intranet"),
    }
    changes.cmdb.relate(cis["app"], "depends_on", cis["db"])
    changes.cmdb.relate(cis["db"], "hosted_on", cis["host"])
    cis["scheduled"] = changes.scheduled(changes.change(cis=[cis["db"]], title="Tune crm-db"))
    return cis


@pytest.mark.parametrize(
    ("ci", "relation"),
    [("db", "same_ci"), ("app", "upstream"), ("host", "downstream")],
)
def test_a_change_on_a_related_ci_at_the_same_time_conflicts(
    changes, client, headers_for, crm, ci, relation
):
    # crm-app relies on crm-db (upstream of it); db-host carries crm-db (downstream of it).
    change = changes.change(cis=[crm[ci]], start=MONDAY + timedelta(hours=1))
    conflicts = client.get(
        f"/api/v1/changes/{change.id}/conflicts", headers=headers_for("agent")
    ).json()
    assert conflicts == [
        {
            "kind": "change",
            "change_id": crm["scheduled"].id,
            "number": crm["scheduled"].number,
            "title": "Tune crm-db",
            "state": "scheduled",
            "starts_at": "2030-03-04T10:00:00+00:00",
            "ends_at": "2030-03-04T12:00:00+00:00",
            "cis": [{"ci_id": crm["db"].id, "name": "crm-db", "relation": relation}],
        }
    ]


def test_unrelated_or_later_changes_do_not_conflict(changes, crm):
    unrelated = changes.approved(
        changes.change(cis=[crm["other"]], start=MONDAY + timedelta(hours=1))
    )
    assert changes.move(unrelated, "scheduled").state == "scheduled"
    # Windows are half-open: starting when the other ends is fine.
    after = changes.approved(changes.change(cis=[crm["db"]], start=MONDAY + timedelta(hours=2)))
    assert changes.move(after, "scheduled").state == "scheduled"


def test_a_permitted_role_overrides_a_conflict_with_a_reason(
    changes, client, factory, crm, session
):
    change = changes.approved(changes.change(cis=[crm["db"]], start=MONDAY + timedelta(hours=1)))
    url = f"/api/v1/changes/{change.id}/schedule-override"
    version = {"If-Match": f'"{change.version}"'}
    agent = factory.auth_headers(changes.agent())
    refused = client.post(url, headers={**agent, **version}, json={"reason": "Need it"})
    assert refused.status_code == 403
    manager = changes.manager(display_name="Mia Manager")
    headers = {**factory.auth_headers(manager), **version}
    assert client.post(url, headers=headers, json={"reason": ""}).status_code == 422

    response = client.post(
        url, headers=headers, json={"reason": "Both changes are coordinated by the DBA team"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "scheduled"
    assert body["conflict_override_reason"] == "Both changes are coordinated by the DBA team"
    assert body["conflict_overridden_by_id"] == manager.id
    override = next(
        event
        for event in events.list_for(session=session, entity_type="change", entity_id=change.id)
        if event.field == "conflict_override"
    )
    assert override.actor_id == manager.id
    assert override.data["reason"] == "Both changes are coordinated by the DBA team"
    assert [item["number"] for item in override.data["conflicts"]] == [crm["scheduled"].number]


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"rrule": "FREQ=HOURLY"}, 422),
        ({"rrule": "FREQ=WEEKLY;COLOUR=RED"}, 422),
        ({"rrule": "FREQ=WEEKLY;UNTIL=20301231T000000Z"}, 422),
        ({"rrule": "FREQ=WEEKLY;BYDAY=XX"}, 422),
        # Two rules make a set, which no window can repeat by (it was a 500 before issue 12).
        ({"rrule": "FREQ=DAILY;BYDAY=MO\nRRULE:FREQ=WEEKLY"}, 422),
        ({"timezone": "Mars/Olympus_Mons"}, 422),
        ({"ends_at": "2030-03-04T08:00:00Z"}, 422),
        ({"starts_at": "2030-03-04T09:00:00"}, 422),
        ({"rrule": "FREQ=MONTHLY;BYMONTHDAY=-1;UNTIL=20301231T000000"}, 201),
    ],
)
def test_blackout_windows_are_checked(client, headers_for, fields, status):
    body = {"starts_at": "2030-03-04T09:00:00Z", "ends_at": "2030-03-04T18:00:00Z", **fields}
    response = _blackout(client, headers_for("admin"), **body)
    assert response.status_code == status, response.text


def test_only_admins_manage_blackout_windows(client, headers_for):
    body = {"starts_at": "2030-03-04T09:00:00Z", "ends_at": "2030-03-04T18:00:00Z"}
    for role in ("agent", "manager"):
        assert _blackout(client, headers_for(role), **body).status_code == 403
    admin = headers_for("admin")
    window = _blackout(client, admin, **body).json()
    url = f"/api/v1/blackout-windows/{window['id']}"
    changed = client.patch(url, headers=admin, json={"is_active": False, "name": "Old freeze"})
    assert changed.status_code == 200
    assert (changed.json()["is_active"], changed.json()["name"]) == (False, "Old freeze")
    listed = client.get("/api/v1/blackout-windows", headers=headers_for("agent"))
    assert [item["id"] for item in listed.json()["items"]] == [window["id"]]
    assert client.delete(url, headers=headers_for("manager")).status_code == 403
    assert client.delete(url, headers=admin).status_code == 204
    assert client.get(url, headers=admin).status_code == 404
