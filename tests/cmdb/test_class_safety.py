"""A CI class cannot break the CMDB (issue 12): an attribute schema that refers outside itself,
to nothing, or round in circles is refused (422); one stored before these checks makes its CIs a
422 naming the schema, never a 500."""

import pytest
from sqlalchemy import text

from tests.conftest import assert_problem

CLASSES = "/api/v1/ci-classes"
CIS = "/api/v1/cis"


def _schema(**properties) -> dict:
    return {"type": "object", "properties": properties}


@pytest.fixture
def admin(headers_for):
    return headers_for("admin")


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        (_schema(a={"$ref": "http://attacker.example/schema.json"}), "is not local"),
        (_schema(a={"$ref": "#/$defs/missing"}), "names nothing"),
        (
            {
                "type": "object",
                "$defs": {"n": {"$ref": "#/$defs/n"}},
                **_schema(a={"$ref": "#/$defs/n"}),
            },
            "loops",
        ),
        (
            {
                "type": "object",
                "$defs": {
                    "x": {"allOf": [{"$ref": "#/$defs/y"}]},
                    "y": {"anyOf": [{"$ref": "#/$defs/x"}]},
                },
                **_schema(a={"$ref": "#/$defs/x"}),
            },
            "loops",
        ),
        (_schema(a={"$dynamicRef": "#meta"}), "$dynamicRef is not supported"),
        (_schema(a={"type": "string", "pattern": "(unclosed"}), "not valid JSON Schema"),
    ],
)
def test_an_attribute_schema_that_cannot_be_evaluated_is_refused(client, admin, schema, needle):
    response = client.post(
        CLASSES,
        json={"name": "broken", "label": "Broken", "attribute_schema": schema},
        headers=admin,
    )
    body = assert_problem(response, 422, "invalid-attribute-schema")
    assert needle in body["detail"]


def test_local_definitions_and_recursion_through_values_are_fine(client, admin):
    tree = {
        "type": "object",
        "$defs": {
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}},
        },
        **_schema(port={"$ref": "#/$defs/port"}, tree={"$ref": "#/$defs/node"}),
    }
    created = client.post(
        CLASSES,
        json={"name": "balancer", "label": "Balancer", "attribute_schema": tree},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    good = client.post(
        CIS,
        json={
            "name": "lb-1",
            "ci_class": "balancer",
            "attributes": {"port": 443, "tree": {"child": {}}},
        },
        headers=admin,
    )
    assert good.status_code == 201, good.text
    bad = client.post(
        CIS, json={"name": "lb-2", "ci_class": "balancer", "attributes": {"port": 0}}, headers=admin
    )
    assert_problem(bad, 422, "invalid-ci-attributes")


def test_a_class_stored_with_a_schema_that_cannot_be_evaluated_refuses_its_cis_with_a_422(
    client, admin, session
):
    created = client.post(
        CLASSES,
        json={"name": "legacy", "label": "Legacy", "attribute_schema": _schema()},
        headers=admin,
    )
    assert created.status_code == 201
    # What the API now refuses, written behind its back (a class stored before the checks).
    session.execute(
        text(
            "update operational.ci_classes set attribute_schema = cast(:schema as jsonb) "
            "where name = 'legacy'"
        ),
        {"schema": '{"type": "object", "properties": {"a": {"$ref": "http://x.example/s"}}}'},
    )
    session.expire_all()
    response = client.post(
        CIS, json={"name": "old-1", "ci_class": "legacy", "attributes": {"a": 1}}, headers=admin
    )
    body = assert_problem(response, 422, "invalid-ci-attributes")
    assert body["errors"][0]["path"] == "(schema)"
    assert "cannot be evaluated" in body["errors"][0]["message"]
