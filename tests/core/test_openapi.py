"""Every route documents the problems it can answer with (operational/core/openapi.py): derived
from what the route is made of, as application/problem+json with one Problem schema."""

import pytest

from operational.main import create_app

DOCUMENT = create_app().openapi()
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _operations():
    for path, methods in DOCUMENT["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def _errors(method: str, path: str) -> set[int]:
    responses = DOCUMENT["paths"][path][method.lower()]["responses"]
    return {int(code) for code in responses if int(code) >= 400}


@pytest.mark.parametrize(("method", "path", "operation"), list(_operations()))
def test_every_error_response_is_a_documented_problem(method, path, operation):
    errors = {code: body for code, body in operation["responses"].items() if int(code) >= 400}
    assert 422 in {int(code) for code in errors}, (method, path)
    for code, body in errors.items():
        assert body["content"] == PROBLEM, (method, path, code)
        assert body["description"]


def test_the_problem_schema_replaces_fastapis_validation_error():
    schemas = DOCUMENT["components"]["schemas"]
    assert schemas["Problem"]["required"] == ["type", "title", "status"]
    assert schemas["Problem"]["additionalProperties"] is True
    assert "HTTPValidationError" not in schemas


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        # auth, path parameter, If-Match, a body, a write
        ("PATCH", "/api/v1/incidents/{incident_id}", {400, 401, 403, 404, 409, 412, 413, 422, 428}),
        # auth and a list (unknown sort field)
        ("GET", "/api/v1/incidents", {400, 401, 403, 422}),
        # public, a path parameter, a body; 410 declared by the route
        ("POST", "/api/v1/csat/{token}", {400, 404, 409, 410, 413, 422}),
        ("GET", "/api/v1/csat/{token}", {404, 422}),
        # a declared 404: a body naming CIs that do not exist
        ("POST", "/api/v1/changes", {400, 401, 403, 404, 409, 413, 422}),
    ],
)
def test_the_codes_follow_from_the_route(method, path, expected):
    assert _errors(method, path) == expected
