"""Lean lists: ``GET /incidents?fields=...`` returns only the fields named (``id`` always), byte
for byte as the model writes those fields, with the filters, sorts, keyset and numbered pages,
totals and visibility of the whole list; an unknown name is a 400 that lists the allowed ones."""

import jsonschema
import pytest
from pydantic import TypeAdapter

from operational.core.pagination import KeysetPage
from operational.incidents.schemas import IncidentRead
from operational.main import create_app
from tests.conftest import assert_problem
from tests.incidents.test_read_json import _expected, varied  # noqa: F401 (fixture)

URL = "/api/v1/incidents"
PAGE = TypeAdapter(KeysetPage[IncidentRead])
LEAN = "id,number,title,state,priority"


def _page(client, headers, **params):
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize(
    "fields",
    [
        LEAN,
        " priority , title,priority",  # spaces and repeats; written in the model's order
        "requester,assignee,assignment_group,sla_timers,allowed_states",
        "opened_at,resolved_at,escalated,custom_fields,known_error",
        "number",  # and id
    ],
)
def test_the_fields_named_are_written_as_the_model_writes_them(
    client,
    session,
    varied,  # noqa: F811
    fields,
):
    headers, _ = varied
    names = {name.strip() for name in fields.split(",")} | {"id"}
    for params in ({"size": 50}, {"size": 4, "sort": "-priority,title"}, {"state": "resolved"}):
        response = _page(client, headers, fields=fields, **params)
        body = response.json()
        assert body["items"]
        assert all(set(item) == names for item in body["items"])
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
        left_out = set(IncidentRead.model_fields) - names
        assert response.content == PAGE.dump_json(
            expected, by_alias=True, exclude={"items": {"__all__": left_out}}
        )


@pytest.fixture
def listed(client, incidents, factory):
    team = incidents.team()
    agent = incidents.agent(teams=(team,))
    requester = incidents.requester()
    other = incidents.requester()
    made = [
        incidents.incident(
            actor=agent,
            requester_id=(requester if n % 3 else other).id,
            assignment_group_id=team.id if n % 2 else None,
            title=f"Disk full {n}",
            urgency=1 + n % 3,
            service="Payroll" if n % 2 else "Mail",
        )
        for n in range(9)
    ]
    return factory.auth_headers(agent), requester, made


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sort": "urgency,-number"},
        {"sort": "-resolved_at"},
        {"priority": ["2", "3", "4"], "sort": "title"},
        {"service": "payroll"},
        {"q": "disk", "sort": "-urgency"},
        {"size": "2", "page": "3"},
    ],
)
def test_the_same_incidents_total_and_cursor_as_the_whole_list(client, listed, params):
    headers, _, _ = listed
    params = {"size": "4", **params}
    whole = _page(client, headers, **params).json()
    lean = _page(client, headers, **params, fields=LEAN).json()

    assert whole["items"]
    assert lean["items"] == [
        {name: item[name] for name in LEAN.split(",")} for item in whole["items"]
    ]
    assert {key: value for key, value in lean.items() if key != "items"} == {
        key: value for key, value in whole.items() if key != "items"
    }


def test_keyset_pages_with_fields_walk_the_whole_list(client, listed):
    headers, _, made = listed
    seen, after = [], None
    for _ in range(10):
        params = {"size": "2", "sort": "urgency,-number", "fields": "title"}
        body = _page(client, headers, **params, **({"after": after} if after else {})).json()
        seen += [item["id"] for item in body["items"]]
        assert all(set(item) == {"id", "title"} for item in body["items"])
        if (after := body["next_after"]) is None:
            break
    whole = _page(client, headers, size="50", sort="urgency,-number").json()
    assert seen == [item["id"] for item in whole["items"]]
    assert sorted(seen) == sorted(incident.id for incident in made)


def test_a_requester_lists_only_their_incidents_with_fields(client, listed, factory):
    _, requester, made = listed
    headers = factory.auth_headers(requester)
    lean = _page(client, headers, size="50", fields="number,requester").json()

    theirs = sorted(incident.id for incident in made if incident.requester_id == requester.id)
    assert sorted(item["id"] for item in lean["items"]) == theirs
    assert lean["total"] == len(theirs)
    assert {item["requester"]["id"] for item in lean["items"]} == {requester.id}


@pytest.mark.parametrize(
    ("fields", "unknown"),
    [
        ("title,colour", ["colour"]),
        ("id,Title", ["Title"]),
        ("items", ["items"]),
        ("cf.colour", ["cf.colour"]),
    ],
)
def test_an_unknown_field_is_a_400_naming_it_and_the_allowed_ones(client, listed, fields, unknown):
    headers, _, _ = listed
    body = assert_problem(client.get(URL, params={"fields": fields}, headers=headers), 400)
    assert body["unknown"] == unknown
    assert unknown[0] in body["detail"]
    assert {"id", "number", "title", "state", "priority", "sla_timers"} <= set(body["allowed"])


@pytest.mark.parametrize("fields", ["", " , "])
def test_fields_naming_nothing_is_a_400(client, listed, fields):
    headers, _, _ = listed
    body = assert_problem(client.get(URL, params={"fields": fields}, headers=headers), 400)
    assert "title" in body["allowed"]


@pytest.fixture
def with_custom_fields(session, client, incidents, factory):
    incidents.define_site_and_cost()
    agent = incidents.agent()
    requester = incidents.requester()
    made = [
        incidents.incident(
            actor=agent,
            requester_id=requester.id,
            title="Both",
            custom_fields={"site": "Delft", "cost": 10.5},
        ),
        incidents.incident(
            actor=agent, requester_id=requester.id, title="Cost", custom_fields={"cost": 7}
        ),
        incidents.incident(actor=agent, requester_id=requester.id, title="None"),
    ]
    return factory.auth_headers(agent), factory.auth_headers(requester), made


def _by_title(body):
    return {item["title"]: item for item in body["items"]}


def test_cf_fields_give_those_custom_fields_only(client, with_custom_fields):
    agent, _, _ = with_custom_fields
    site = _by_title(_page(client, agent, fields="title,cf.site").json())
    both = _by_title(_page(client, agent, fields="title,cf.site,cf.cost").json())
    every = _by_title(_page(client, agent, fields="title,custom_fields,cf.site").json())

    assert site == {
        "Both": {"id": site["Both"]["id"], "title": "Both", "custom_fields": {"site": "Delft"}},
        "Cost": {"id": site["Cost"]["id"], "title": "Cost", "custom_fields": {}},
        "None": {"id": site["None"]["id"], "title": "None", "custom_fields": {}},
    }
    assert both["Both"]["custom_fields"] == {"site": "Delft", "cost": 10.5}
    assert both["Cost"]["custom_fields"] == {"cost": 7}
    assert every["Both"]["custom_fields"] == {"site": "Delft", "cost": 10.5}


def test_a_requester_names_only_the_custom_fields_they_may_see(client, with_custom_fields):
    _, requester, _ = with_custom_fields
    seen = _by_title(_page(client, requester, fields="title,cf.site").json())
    whole = _by_title(_page(client, requester, fields="title,custom_fields").json())

    assert seen["Both"]["custom_fields"] == {"site": "Delft"}
    assert whole["Both"]["custom_fields"] == {"site": "Delft"}  # cost is not theirs to see
    assert whole["Cost"]["custom_fields"] == {}
    body = assert_problem(client.get(URL, params={"fields": "cf.cost"}, headers=requester), 400)
    assert body["unknown"] == ["cf.cost"]
    assert "cf.site" in body["allowed"]
    assert "cf.cost" not in body["allowed"]


def test_a_lean_page_fits_the_documented_response_schema(client, varied):  # noqa: F811
    headers, _ = varied
    document = create_app().openapi()
    operation = document["paths"][URL]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator({**schema, "components": document["components"]})
    lean = _page(client, headers, fields=LEAN).json()
    with_people = _page(client, headers, fields="requester,sla_timers,custom_fields").json()
    whole = _page(client, headers).json()

    for body in (lean, with_people, whole):
        validator.validate(body)
    assert "fields" in {parameter["name"] for parameter in operation["parameters"]}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**lean, "items": [{"title": "no id"}]})
