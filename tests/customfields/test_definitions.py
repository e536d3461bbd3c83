"""Admins define custom fields; managers and agents read them all; requesters see only the
fields requesters may see. Every change to a definition is in its event log."""

from sqlalchemy import select

from operational.events.models import Event
from tests.conftest import assert_problem

URL = "/api/v1/custom-fields"
SITE = {
    "record_type": "incident",
    "name": "site",
    "label": "Site",
    "type": "choice",
    "allowed_values": ["Rotterdam", "Delft"],
    "default": "delft",
    "help_text": "Where the caller works",
    "requester_settable": True,
}


def test_an_admin_defines_a_field_and_its_default_is_normalized(client, headers_for):
    response = client.post(URL, json=SITE, headers=headers_for("admin"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["name"], body["type"], body["default"]) == ("site", "choice", "Delft")
    # Requesters who may set a field must see it.
    assert (body["requester_visible"], body["requester_settable"]) == (True, True)
    assert body["retired_at"] is None


def test_a_name_is_never_reused_for_the_same_record_type(client, headers_for):
    admin = headers_for("admin")
    assert client.post(URL, json=SITE, headers=admin).status_code == 201
    assert_problem(client.post(URL, json=SITE, headers=admin), 409, "custom-field-conflict")
    # The same name on another record type is another field.
    other = client.post(URL, json={**SITE, "record_type": "change"}, headers=admin)
    assert other.status_code == 201, other.text


def test_definitions_that_cannot_hold_values_are_refused(client, headers_for):
    admin = headers_for("admin")
    no_options = {**SITE, "allowed_values": [], "default": None}
    assert assert_problem(client.post(URL, json=no_options, headers=admin), 422)["field"] == (
        "allowed_values"
    )
    bad_default = {**SITE, "default": "Paris"}
    assert assert_problem(client.post(URL, json=bad_default, headers=admin), 422)["field"] == (
        "default"
    )
    options_on_text = {
        "record_type": "incident",
        "name": "tag",
        "label": "Tag",
        "type": "text",
        "allowed_values": ["a"],
    }
    assert_problem(client.post(URL, json=options_on_text, headers=admin), 422)
    bad_name = {**SITE, "name": "Site Name"}
    assert_problem(client.post(URL, json=bad_name, headers=admin), 422)


def test_only_admins_manage_and_managers_read(client, headers_for, fields):
    field = fields.define("cost", "decimal")
    for role in ("manager", "agent", "requester", "auditor"):
        assert_problem(client.post(URL, json=SITE, headers=headers_for(role)), 403)
        patch = client.patch(f"{URL}/{field.id}", json={"label": "x"}, headers=headers_for(role))
        assert_problem(patch, 403)
    listed = client.get(URL, headers=headers_for("manager"))
    assert listed.status_code == 200
    assert [item["name"] for item in listed.json()["items"]] == ["cost"]
    assert client.get(f"{URL}/{field.id}", headers=headers_for("manager")).status_code == 200
    assert_problem(client.get(URL, headers=headers_for("analyst")), 403)


def test_requesters_see_only_the_fields_shown_to_them(client, headers_for, fields):
    shown = fields.define("site", "choice", requester_visible=True)
    hidden = fields.define("asset_tag", "text")
    requester = headers_for("requester")
    listed = client.get(URL, params={"record_type": "incident"}, headers=requester)
    assert [item["name"] for item in listed.json()["items"]] == ["site"]
    assert client.get(f"{URL}/{shown.id}", headers=requester).status_code == 200
    assert_problem(client.get(f"{URL}/{hidden.id}", headers=requester), 404)


def test_retiring_keeps_the_field_listed_and_can_be_undone(client, headers_for, fields):
    field = fields.define("site", "choice")
    admin = headers_for("admin")
    retired = client.patch(f"{URL}/{field.id}", json={"retired": True}, headers=admin)
    assert retired.status_code == 200 and retired.json()["retired_at"] is not None
    active = client.get(URL, params={"include_retired": "false"}, headers=admin).json()
    assert active["items"] == []
    restored = client.patch(f"{URL}/{field.id}", json={"retired": False}, headers=admin)
    assert restored.json()["retired_at"] is None
    assert_problem(client.patch(f"{URL}/{field.id}", json={"label": None}, headers=admin), 422)


def test_definition_changes_are_events(client, headers_for, fields, session):
    field = fields.define("site", "choice")
    admin = headers_for("admin")
    response = client.patch(
        f"{URL}/{field.id}", json={"allowed_values": ["Rotterdam", "Delft", "Oslo"]}, headers=admin
    )
    assert response.status_code == 200, response.text
    logged = session.scalars(
        select(Event)
        .where(Event.entity_type == "custom_field", Event.entity_id == field.id)
        .order_by(Event.seq)
    ).all()
    assert [event.kind for event in logged] == ["created", "field_changed"]
    assert logged[1].data["after"] == {"allowed_values": ["Rotterdam", "Delft", "Oslo"]}
    assert logged[1].new_value == "incident.site"
