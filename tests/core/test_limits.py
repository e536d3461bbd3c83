"""Input limits: a body over ITSM_MAX_REQUEST_BYTES is a 413, a text field over its maximum a 422,
and an odd path parameter a 404 or 422: never a 500 (docs/security.md, "Input limits")."""

import json

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from operational.core.config import get_settings
from operational.core.schemas import TEXT_MAX_LENGTH
from operational.main import create_app
from tests.conftest import assert_problem

INCIDENTS = "/api/v1/incidents"


@pytest.fixture
def admin(headers_for):
    return headers_for("admin")


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_read(client, admin):
    limit = get_settings().max_request_bytes
    body = json.dumps({"title": "big", "description": "x" * limit}).encode()
    assert len(body) > limit
    response = client.post(
        INCIDENTS, content=body, headers={**admin, "Content-Type": "application/json"}
    )
    assert_problem(response, 413)


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit_too(client, admin):
    limit = get_settings().max_request_bytes
    chunk = b"x" * 65536

    def stream():
        yield b'{"title": "big", "description": "'
        for _ in range(limit // len(chunk) + 2):
            yield chunk
        yield b'"}'

    response = client.post(
        INCIDENTS, content=stream(), headers={**admin, "Content-Type": "application/json"}
    )
    assert "content-length" not in {key.lower() for key in response.request.headers}
    assert_problem(response, 413)


def test_a_body_under_the_limit_passes(client, admin):
    response = client.post(
        INCIDENTS, json={"title": "small", "description": "x" * 1000}, headers=admin
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (INCIDENTS, "description"),
        ("/api/v1/changes", "implementation_plan"),
        ("/api/v1/sla/calendars", "description"),
    ],
)
def test_a_text_field_over_its_maximum_is_a_422_naming_it(client, admin, path, field):
    response = client.post(path, json={field: "y" * (TEXT_MAX_LENGTH + 1)}, headers=admin)
    body = assert_problem(response, 422, "validation-error")
    too_long = [error for error in body["errors"] if error["location"][-1] == field]
    assert too_long and "at most 50,000 characters" in too_long[0]["message"]


def test_the_longest_text_allowed_is_stored(client, admin):
    text = "z" * TEXT_MAX_LENGTH
    created = client.post(INCIDENTS, json={"title": "long", "description": text}, headers=admin)
    assert created.status_code == 201
    assert created.json()["description"] == text


def test_the_openapi_document_shows_the_text_maximum(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    description = schemas["IncidentCreate"]["properties"]["description"]["anyOf"][0]
    assert description == {"type": "string", "maxLength": TEXT_MAX_LENGTH}
    assert schemas["IncidentCreate"]["properties"]["title"]["maxLength"] == 300


ODD_VALUES = ["²", "٣", "%00", "9" * 5000, "-1", "%F0%9F%98%80", "INC%00", "..%2F..%2Fetc"]


def _paths_with_parameters() -> list[tuple[str, str]]:
    found = []
    for route in iter_route_contexts(create_app().routes):
        if isinstance(route.original_route, APIRoute) and route.param_convertors:
            for method in sorted(route.methods - {"HEAD"}):
                found.append((method, route.path_format))
    return found


@pytest.mark.parametrize(("method", "path"), _paths_with_parameters())
def test_odd_path_parameters_are_404_or_422_never_a_server_error(client, admin, method, path):
    for value in ODD_VALUES:
        filled = path
        for name in route_parameters(path):
            filled = filled.replace("{" + name + "}", value)
        response = client.request(method, filled, headers={**admin, "If-Match": '"1"'}, json={})
        assert response.status_code in (400, 404, 405, 422), (filled, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def route_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def test_an_incident_is_found_by_ascii_digits_only(client, admin):
    created = client.post(INCIDENTS, json={"title": "three"}, headers=admin).json()
    assert client.get(f"{INCIDENTS}/{created['id']}", headers=admin).status_code == 200
    assert client.get(f"{INCIDENTS}/{created['number']}", headers=admin).status_code == 200
    # "²" and "٣" are digits to str.isdigit(), and int("٣") is 3: neither names an incident.
    lookalikes = str(created["id"]).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for reference in ("²", lookalikes):
        assert_problem(client.get(f"{INCIDENTS}/{reference}", headers=admin), 404, "not-found")
