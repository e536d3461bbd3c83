"""CI classes: seeded classes, attribute validation against each class's JSON Schema."""

SEEDED = ["application", "business_service", "database", "network_device", "server", "service"]


def test_seeded_classes_are_listed(client, headers_for):
    response = client.get("/api/v1/ci-classes", headers=headers_for("agent"))
    assert response.status_code == 200
    assert [item["name"] for item in response.json()] == SEEDED


def test_ci_with_valid_attributes_is_created(client, headers_for):
    response = client.post(
        "/api/v1/cis",
        headers=headers_for("agent"),
        json={
            "name": "web-01",
            "ci_class": "server",
            "criticality": 2,
            "attributes": {
                "hostname": "web-01.example.com",
                "ip_address": "10.0.0.7",
                "cpu_cores": 8,
                "virtual": True,
            },
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["ci_class"] == "server"
    assert body["attributes"]["cpu_cores"] == 8
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/api/v1/cis/{body['id']}"


def test_attributes_breaking_the_class_schema_are_refused_with_each_problem(client, headers_for):
    response = client.post(
        "/api/v1/cis",
        headers=headers_for("agent"),
        json={
            "name": "web-02",
            "ci_class": "server",
            "attributes": {"cpu_cores": "eight", "ip_address": "10.0.0.300", "colour": "red"},
        },
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/invalid-ci-attributes"
    problems = {(error["path"], error["message"]) for error in problem["errors"]}
    assert ("(attributes)", "'hostname' is a required property") in problems
    assert ("cpu_cores", "'eight' is not of type 'integer'") in problems
    assert ("ip_address", "'10.0.0.300' is not a 'ipv4'") in problems
    assert any("'colour' was unexpected" in message for _, message in problems)
    assert len(problems) == 4


def test_the_same_attributes_pass_on_one_class_and_fail_on_another(cmdb, client, headers_for):
    attributes = {"engine": "postgresql", "port": 5432}
    ok = client.post(
        "/api/v1/cis",
        headers=headers_for("agent"),
        json={"name": "crm-db", "ci_class": "database", "attributes": attributes},
    )
    refused = client.post(
        "/api/v1/cis",
        headers=headers_for("agent"),
        json={"name": "crm-db", "ci_class": "application", "attributes": attributes},
    )
    assert ok.status_code == 201
    assert refused.status_code == 422


def test_unknown_class_is_404(client, headers_for):
    response = client.post(
        "/api/v1/cis",
        headers=headers_for("agent"),
        json={"name": "x", "ci_class": "spaceship"},
    )
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/ci-class-not-found"


def test_a_new_class_adds_fields_without_a_migration(client, headers_for):
    headers = headers_for("agent")
    created = client.post(
        "/api/v1/ci-classes",
        headers=headers,
        json={
            "name": "storage_array",
            "label": "Storage array",
            "attribute_schema": {
                "type": "object",
                "required": ["capacity_tb"],
                "properties": {"capacity_tb": {"type": "number", "minimum": 0}},
            },
        },
    )
    assert created.status_code == 201, created.text
    good = client.post(
        "/api/v1/cis",
        headers=headers,
        json={"name": "san-1", "ci_class": "storage_array", "attributes": {"capacity_tb": 120}},
    )
    bad = client.post(
        "/api/v1/cis",
        headers=headers,
        json={"name": "san-2", "ci_class": "storage_array", "attributes": {"capacity_tb": -1}},
    )
    assert good.status_code == 201
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"path": "capacity_tb", "message": "-1 is less than the minimum of 0"}
    ]


def test_a_schema_that_is_not_json_schema_is_refused(client, headers_for):
    response = client.post(
        "/api/v1/ci-classes",
        headers=headers_for("agent"),
        json={
            "name": "broken",
            "label": "Broken",
            "attribute_schema": {"type": "object", "properties": {"x": {"type": "colour"}}},
        },
    )
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/invalid-attribute-schema"


def test_a_schema_change_that_existing_cis_break_is_refused_and_names_them(
    cmdb, client, headers_for
):
    server = cmdb.ci("db-host", ci_class="server", attributes={"hostname": "db-host"})
    stricter = {
        "type": "object",
        "required": ["hostname", "os"],
        "properties": {"hostname": {"type": "string"}, "os": {"type": "string"}},
    }
    response = client.patch(
        "/api/v1/ci-classes/server",
        headers=headers_for("agent"),
        json={"attribute_schema": stricter},
    )
    assert response.status_code == 409
    body = response.json()
    assert body["count"] == 1
    assert body["cis"][0]["ci_id"] == server.id
    assert body["cis"][0]["errors"] == [
        {"path": "(attributes)", "message": "'os' is a required property"}
    ]


def test_attribute_patch_merges_and_is_validated_on_the_result(cmdb, client, headers_for):
    server = cmdb.ci(
        "app-host", ci_class="server", attributes={"hostname": "app-host", "os": "linux"}
    )
    headers = {**headers_for("agent"), "If-Match": '"1"'}
    merged = client.patch(
        f"/api/v1/cis/{server.id}",
        headers=headers,
        json={"attributes": {"cpu_cores": 4, "os": None}},
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["attributes"] == {"hostname": "app-host", "cpu_cores": 4}
    removing_required = client.patch(
        f"/api/v1/cis/{server.id}",
        headers={**headers, "If-Match": '"2"'},
        json={"attributes": {"hostname": None}},
    )
    assert removing_required.status_code == 422
