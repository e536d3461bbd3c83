"""Custom fields on problems: definitions of record type problem, values validated on create and
update (one 422 naming each field), field_changed events named cf.<name>, list filters, sorting
and q= over their words."""

import pytest

from tests.conftest import assert_problem
from tests.problems.conftest import ProblemApi

URL = "/api/v1/problems"


@pytest.fixture
def problems(client, agent_headers) -> ProblemApi:
    return ProblemApi(client, agent_headers)


def test_an_admin_defines_problem_fields_over_the_api(client, factory):
    admin = factory.auth_headers(factory.user(roles=("admin",)))
    created = client.post(
        "/api/v1/custom-fields",
        json={
            "record_type": "problem",
            "name": "vendor_case",
            "label": "Vendor case",
            "type": "text",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    listed = client.get(
        "/api/v1/custom-fields", params={"record_type": "problem"}, headers=admin
    ).json()
    assert [item["name"] for item in listed["items"]] == ["vendor_case"]


def test_values_are_validated_on_create_and_update(client, agent_headers, fields, problems):
    fields.define("site", "choice", record_type="problem", required=True)
    fields.define("cost", "decimal", record_type="problem")
    fields.define("site", "text")  # an incident field of the same name is another field
    refused = client.post(
        URL,
        json={"title": "Disk fills", "custom_fields": {"cost": "lots", "colour": "red"}},
        headers=agent_headers,
    )
    body = assert_problem(refused, 422, "invalid-custom-fields")
    assert sorted(body["fields"]) == ["cf.colour", "cf.cost", "cf.site"]
    assert {error["field"]: error["reason"] for error in body["errors"]} == {
        "colour": "unknown",
        "cost": "invalid",
        "site": "required",
    }
    created = problems.create(custom_fields={"site": "delft", "cost": "0.10"})
    assert created["custom_fields"] == {"site": "Delft", "cost": 0.1}
    assert problems.get(created)["custom_fields"] == {"site": "Delft", "cost": 0.1}
    cleared = problems.patch(created, custom_fields={"site": None})
    assert assert_problem(cleared, 422)["errors"] == [
        {"field": "site", "reason": "required", "detail": "is required"}
    ]


def test_each_change_is_an_event_named_cf(client, agent_headers, fields, problems):
    fields.define("site", "choice", record_type="problem")
    fields.define("cost", "decimal", record_type="problem")
    created = problems.create(custom_fields={"site": "Delft"})
    updated = problems.patch(created, custom_fields={"site": "Rotterdam", "cost": 12.5})
    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == created["version"] + 1
    history = client.get(f"{URL}/{created['id']}/history", headers=agent_headers).json()
    changed = sorted(
        (item["field"], item["old_value"], item["new_value"], item["data"])
        for item in history["items"]
        if item["field"] and item["field"].startswith("cf.")
    )
    assert changed == [
        ("cf.cost", None, "12.5", {"old": None, "new": 12.5}),
        ("cf.site", "Delft", "Rotterdam", {"old": "Delft", "new": "Rotterdam"}),
    ]
    opened = next(item for item in history["items"] if item["kind"] == "created")
    assert opened["data"]["custom_fields"] == {"site": "Delft"}
    same = problems.patch(updated.json(), custom_fields={"site": "rotterdam"})
    assert same.json()["version"] == updated.json()["version"]


def test_lists_filter_sort_and_search_custom_fields(client, agent_headers, fields, problems):
    fields.define("site", "choice", record_type="problem")
    fields.define("cost", "decimal", record_type="problem")
    fields.define("vendor_case", "text", record_type="problem")
    made = [
        problems.create(
            title="Mail drops",
            custom_fields={"site": "Delft", "cost": 200, "vendor_case": "Zephyr"},
        ),
        problems.create(title="VPN flaps", custom_fields={"site": "Rotterdam", "cost": 10.5}),
        problems.create(title="Printer jams", custom_fields={"site": "Delft", "cost": 99.99}),
        problems.create(title="Badge reader"),
    ]
    numbers = {problem["id"]: index for index, problem in enumerate(made)}

    def listed(**params):
        response = client.get(URL, params=params, headers=agent_headers)
        assert response.status_code == 200, response.text
        return [numbers[item["id"]] for item in response.json()["items"]]

    assert sorted(listed(**{"cf.site": "delft"})) == [0, 2]
    assert sorted(listed(**{"cf.cost_from": "50", "cf.cost_to": "200"})) == [2]
    assert listed(sort="cf.cost") == [1, 2, 0, 3]  # no value last
    assert listed(sort="-cf.cost") == [0, 2, 1, 3]
    assert listed(q="zephyr") == [0]
    assert client.get(URL, headers=agent_headers).json()["items"][0]["custom_fields"] == {}
    assert_problem(client.get(URL, params={"cf.colour": "red"}, headers=agent_headers), 400)
    assert_problem(client.get(URL, params={"cf.site_from": "A"}, headers=agent_headers), 400)
    assert_problem(client.get(URL, params={"cf.cost": "ten"}, headers=agent_headers), 400)
