"""Values on incidents and changes: each type's validation (one 422 naming every bad field),
defaults, required fields, retirement, requesters' audience, and the events of each change."""

from datetime import UTC, datetime

import pytest

from tests.conftest import assert_problem

URL = "/api/v1/incidents"


def _create(client, headers, **fields):
    fields.setdefault("title", "Printer jams")
    return client.post(URL, json=fields, headers=headers)


def _patch(client, headers, incident, **fields):
    return client.patch(
        f"{URL}/{incident['id']}",
        json=fields,
        headers={**headers, "If-Match": f'"{incident["version"]}"'},
    )


# (type, value given, value stored) for values every field of the type accepts.
VALID = [
    ("text", "Floor 3, room 12", "Floor 3, room 12"),
    ("long_text", "line one\nline two", "line one\nline two"),
    ("number", 42, 42),
    ("number", "42", 42),
    ("decimal", 1234.5, 1234.5),
    ("decimal", "0.10", 0.1),
    ("date", "2026-03-01", "2026-03-01"),
    ("datetime", "2026-03-01T10:00:00+01:00", "2026-03-01T09:00:00Z"),
    ("datetime", "2026-03-01T10:00:00.750", "2026-03-01T10:00:00Z"),
    ("boolean", True, True),
    ("choice", "rotterdam", "Rotterdam"),
    ("multi_choice", ["Utrecht", "Rotterdam", "Utrecht"], ["Rotterdam", "Utrecht"]),
]
# (type, value refused, reason)
INVALID = [
    ("text", 12, "invalid"),
    ("text", "x" * 1001, "invalid"),
    ("number", 1.5, "invalid"),
    ("number", True, "invalid"),
    ("number", 2**60, "invalid"),
    ("decimal", "twelve", "invalid"),
    ("decimal", "NaN", "invalid"),
    ("date", "01/03/2026", "invalid"),
    ("date", "2026-02-30", "invalid"),
    ("datetime", "yesterday", "invalid"),
    ("datetime", "0001-01-01T00:00:00+01:00", "invalid"),  # before year 1 in UTC
    ("boolean", "yes", "invalid"),
    ("choice", "Paris", "not_allowed"),
    ("choice", ["Delft"], "not_allowed"),
    ("multi_choice", "Delft", "not_allowed"),
    ("multi_choice", ["Delft", "Paris"], "not_allowed"),
    ("user", 999_999, "invalid"),
    ("team", "abc", "invalid"),
    ("ci", 999_999, "invalid"),
]


@pytest.mark.parametrize(("field_type", "given", "stored"), VALID)
def test_each_type_stores_its_normal_form(client, agent_headers, fields, field_type, given, stored):
    fields.define("value", field_type)
    response = _create(client, agent_headers, custom_fields={"value": given})
    assert response.status_code == 201, response.text
    assert response.json()["custom_fields"] == {"value": stored}
    fetched = client.get(f"{URL}/{response.json()['id']}", headers=agent_headers).json()
    assert fetched["custom_fields"] == {"value": stored}


@pytest.mark.parametrize(("field_type", "given", "reason"), INVALID)
def test_each_type_refuses_what_it_cannot_hold(
    client, agent_headers, fields, field_type, given, reason
):
    fields.define("value", field_type)
    body = assert_problem(
        _create(client, agent_headers, custom_fields={"value": given}),
        422,
        "invalid-custom-fields",
    )
    assert body["fields"] == ["cf.value"]
    assert body["errors"][0]["reason"] == reason


def test_references_must_exist(client, agent_headers, fields, factory, cmdb):
    fields.define("owner", "user")
    fields.define("resolver_team", "team")
    fields.define("device", "ci")
    user, team, ci = factory.user(), factory.team(), cmdb.ci()
    values = {"owner": user.id, "resolver_team": team.id, "device": ci.id}
    response = _create(client, agent_headers, custom_fields=values)
    assert response.status_code == 201, response.text
    assert response.json()["custom_fields"] == values


def test_one_problem_names_every_bad_field(client, agent_headers, fields):
    fields.define("cost", "decimal")
    fields.define("site", "choice", required=True)
    body = assert_problem(
        _create(client, agent_headers, custom_fields={"cost": "much", "colour": "red"}), 422
    )
    assert sorted(body["fields"]) == ["cf.colour", "cf.cost", "cf.site"]
    reasons = {error["field"]: error["reason"] for error in body["errors"]}
    assert reasons == {"cost": "invalid", "colour": "unknown", "site": "required"}


def test_defaults_fill_what_is_not_given_and_required_fields_cannot_be_cleared(
    client, agent_headers, fields
):
    fields.define("site", "choice", required=True, default="Delft")
    fields.define("approved", "boolean", default=False)
    created = _create(client, agent_headers).json()
    assert created["custom_fields"] == {"site": "Delft", "approved": False}
    cleared = _patch(client, agent_headers, created, custom_fields={"site": None})
    assert assert_problem(cleared, 422)["errors"][0]["reason"] == "required"
    kept = _patch(client, agent_headers, created, custom_fields={"approved": None})
    assert kept.status_code == 200, kept.text
    assert kept.json()["custom_fields"] == {"site": "Delft"}


def test_a_retired_field_keeps_its_values_but_cannot_be_set(client, agent_headers, fields, session):
    field = fields.define("site", "choice")
    created = _create(client, agent_headers, custom_fields={"site": "Delft"}).json()
    field.retired_at = datetime.now(UTC)
    session.flush()
    refused = _patch(client, agent_headers, created, custom_fields={"site": "Rotterdam"})
    assert assert_problem(refused, 422)["errors"][0]["reason"] == "retired"
    # Sending back what was read is no change, and no error.
    again = _patch(client, agent_headers, created, custom_fields={"site": "Delft"})
    assert again.status_code == 200, again.text
    assert client.get(f"{URL}/{created['id']}", headers=agent_headers).json()["custom_fields"] == {
        "site": "Delft"
    }
    assert_problem(_create(client, agent_headers, custom_fields={"site": "Delft"}), 422)


def test_requesters_see_and_set_only_their_fields(client, factory, fields, agent_headers):
    fields.define("site", "choice", requester_settable=True, required=True)
    fields.define("contact_hours", "text", requester_visible=True)
    fields.define("asset_tag", "text", required=True)  # agents fill it in later
    requester = factory.user(roles=("requester",))
    headers = factory.auth_headers(requester)
    created = _create(client, headers, custom_fields={"site": "Delft"})
    assert created.status_code == 201, created.text
    assert created.json()["custom_fields"] == {"site": "Delft"}
    incident = created.json()
    _patch(client, agent_headers, incident, custom_fields={"asset_tag": "A-17"})
    seen = client.get(f"{URL}/{incident['id']}", headers=headers).json()
    assert seen["custom_fields"] == {"site": "Delft"}
    listed = client.get(URL, headers=headers).json()["items"]
    assert [item["custom_fields"] for item in listed] == [{"site": "Delft"}]
    # A field they may see but not set: 403; one they may not see does not exist for them.
    assert_problem(
        _create(client, headers, custom_fields={"site": "Delft", "contact_hours": "9-5"}), 403
    )
    hidden = _create(client, headers, custom_fields={"site": "Delft", "asset_tag": "A-1"})
    assert assert_problem(hidden, 422)["errors"][0]["reason"] == "unknown"
    assert_problem(client.get(URL, params={"cf.asset_tag": "A-17"}, headers=headers), 400)


def test_each_change_is_an_event_named_cf(client, agent_headers, fields, incidents, session):
    fields.define("site", "choice")
    fields.define("rooms", "multi_choice")
    created = _create(client, agent_headers, custom_fields={"site": "Delft"}).json()
    updated = _patch(
        client,
        agent_headers,
        created,
        custom_fields={"site": "Rotterdam", "rooms": ["Delft", "Utrecht"]},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == created["version"] + 1
    timeline = client.get(f"{URL}/{created['id']}/timeline", headers=agent_headers).json()
    changed = [
        (item["field"], item["old_value"], item["new_value"])
        for item in timeline
        if item["field"] and item["field"].startswith("cf.")
    ]
    assert changed == [
        ("cf.rooms", None, '["Delft", "Utrecht"]'),
        ("cf.site", "Delft", "Rotterdam"),
    ]
    created_event = next(item for item in timeline if item["kind"] == "created")
    assert created_event["data"]["custom_fields"] == {"site": "Delft"}
    # Nothing changed: no event, no new version.
    same = _patch(client, agent_headers, updated.json(), custom_fields={"site": "Rotterdam"})
    assert same.json()["version"] == updated.json()["version"]


def test_changes_carry_custom_fields_too(client, fields, changes, factory, session):
    fields.define("cost", "decimal", record_type="change", required=True)
    agent = changes.agent()
    headers = factory.auth_headers(agent)
    assert_problem(
        client.post(
            "/api/v1/changes",
            json={"change_type": "normal", "title": "Patch"},
            headers=headers,
        ),
        422,
        "invalid-custom-fields",
    )
    change = changes.change(actor=agent, custom_fields={"cost": "1500.50"})
    assert change.custom_fields == {"cost": 1500.5}
    response = client.patch(
        f"/api/v1/changes/{change.id}",
        json={"custom_fields": {"cost": 1750}},
        headers={**headers, "If-Match": f'"{change.version}"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["custom_fields"] == {"cost": 1750}
    history = client.get(f"/api/v1/changes/{change.id}/history", headers=headers).json()["items"]
    assert ("cf.cost", "1500.5", "1750") in [
        (item["field"], item["old_value"], item["new_value"]) for item in history
    ]
