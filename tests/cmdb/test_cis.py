"""CIs: versioned updates (If-Match), history in the event log, search, related work, access."""

from datetime import UTC, datetime, timedelta

from operational.changes.models import Change, ChangeCI


def test_update_needs_the_current_version(cmdb, client, headers_for):
    ci = cmdb.ci("billing")
    headers = headers_for("agent")

    missing = client.patch(f"/api/v1/cis/{ci.id}", headers=headers, json={"location": "Paris"})
    assert missing.status_code == 428

    updated = client.patch(
        f"/api/v1/cis/{ci.id}",
        headers={**headers, "If-Match": '"1"'},
        json={"location": "Paris", "criticality": 1},
    )
    assert updated.status_code == 200, updated.text
    assert updated.headers["ETag"] == '"2"'
    assert updated.json()["criticality"] == 1

    stale = client.patch(
        f"/api/v1/cis/{ci.id}",
        headers={**headers, "If-Match": '"1"'},
        json={"location": "Lyon"},
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    assert client.get(f"/api/v1/cis/{ci.id}", headers=headers).json()["location"] == "Paris"


def test_if_match_must_name_one_version(cmdb, client, headers_for):
    """Same contract as incidents: a wildcard names no version; a foreign ETag is a 400."""
    ci = cmdb.ci("ledger")
    url, headers = f"/api/v1/cis/{ci.id}", headers_for("agent")
    star = client.patch(url, headers={**headers, "If-Match": "*"}, json={"location": "Oslo"})
    assert star.status_code == 428
    assert star.json()["type"] == "/problems/version-required"
    foreign = client.patch(url, headers={**headers, "If-Match": '"v1"'}, json={"location": "Oslo"})
    assert foreign.status_code == 400
    assert client.get(url, headers=headers).json()["location"] is None


def test_every_change_is_in_the_history(cmdb, client, factory):
    agent = factory.user(roles=("agent",), display_name="Ada Agent")
    headers = factory.auth_headers(agent)
    created = client.post(
        "/api/v1/cis",
        headers=headers,
        json={"name": "crm", "ci_class": "application", "attributes": {"version": "1.0"}},
    ).json()
    client.patch(
        f"/api/v1/cis/{created['id']}",
        headers={**headers, "If-Match": '"1"'},
        json={"status": "maintenance", "attributes": {"version": "1.1"}},
    )

    history = client.get(f"/api/v1/cis/{created['id']}/history", headers=headers).json()
    assert history["total"] == 3
    created_event, *changes = history["items"]
    assert (created_event["kind"], created_event["new_value"]) == ("created", "crm")
    assert created_event["actor_label"] == "Ada Agent"
    assert {(item["field"], item["old_value"], item["new_value"]) for item in changes} == {
        ("status", "in_service", "maintenance"),
        ("attributes", '{"version": "1.0"}', '{"version": "1.1"}'),
    }


def test_an_update_that_changes_nothing_keeps_the_version(cmdb, client, headers_for):
    ci = cmdb.ci("quiet", location="Berlin")
    response = client.patch(
        f"/api/v1/cis/{ci.id}",
        headers={**headers_for("agent"), "If-Match": '"1"'},
        json={"location": "Berlin"},
    )
    assert response.headers["ETag"] == '"1"'


def test_name_is_unique_within_class_and_environment(cmdb, client, headers_for):
    cmdb.ci("crm", ci_class="application")
    cmdb.ci("crm", ci_class="business_service")
    cmdb.ci("crm", ci_class="application", environment="test")
    duplicate = client.post(
        "/api/v1/cis",
        headers=headers_for("agent"),
        json={"name": "crm", "ci_class": "application", "attributes": {}},
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["type"] == "/problems/duplicate-ci"


def test_search_by_name_and_attributes(cmdb, client, headers_for):
    cmdb.ci("pay-db-1", ci_class="database", attributes={"engine": "postgresql", "port": 5432})
    cmdb.ci("pay-db-2", ci_class="database", attributes={"engine": "mysql", "port": 3306})
    cmdb.ci("hr-db", ci_class="database", attributes={"engine": "postgresql", "port": 5433})
    cmdb.ci("PAY-app", attributes={"version": "2.0"})
    headers = headers_for("agent")

    def names(**params):
        response = client.get("/api/v1/cis", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert names(q="pay") == ["PAY-app", "pay-db-1", "pay-db-2"]
    assert names(q="pay", ci_class="database") == ["pay-db-1", "pay-db-2"]
    assert names(attr="engine=postgresql") == ["hr-db", "pay-db-1"]
    # Numbers compare as numbers: "5432" the text would match nothing.
    assert names(attr=["engine=postgresql", "port=5432"]) == ["pay-db-1"]
    assert names(attributes='{"engine": "mysql"}') == ["pay-db-2"]
    assert names(q="db", sort="-name") == ["pay-db-2", "pay-db-1", "hr-db"]
    assert names(q="100%") == []
    # Wildcards and the escape character are plain text: "_" is not any character.
    assert names(q="pay_db") == []
    assert names(q="pay/") == []


def test_search_pages_and_refuses_bad_filters(cmdb, client, headers_for):
    for number in range(5):
        cmdb.ci(f"node-{number}", ci_class="server", attributes={"hostname": f"node-{number}"})
    headers = headers_for("agent")
    page = client.get(
        "/api/v1/cis", headers=headers, params={"q": "node-", "size": 2, "page": 3}
    ).json()
    assert (page["total"], [item["name"] for item in page["items"]]) == (5, ["node-4"])
    assert client.get("/api/v1/cis", headers=headers, params={"attr": "nokey"}).status_code == 400
    assert client.get("/api/v1/cis", headers=headers, params={"sort": "colour"}).status_code == 400
    assert (
        client.get("/api/v1/cis", headers=headers, params={"attributes": "[1]"}).status_code == 400
    )


def test_a_ci_shows_its_open_incidents_and_upcoming_changes(cmdb, client, headers_for, session):
    ci = cmdb.ci("mail")
    open_incident = cmdb.incident(ci, state="in_progress", title="Mail is slow")
    cmdb.incident(ci, state="resolved", title="Mail was down")
    now = datetime.now(UTC)
    upcoming = Change(
        number="CHGT0000001",
        title="Upgrade mail",
        change_type="normal",
        state="scheduled",
        planned_start=now + timedelta(days=1),
        planned_end=now + timedelta(days=1, hours=2),
        ci_links=[ChangeCI(ci_id=ci.id)],
    )
    past = Change(
        number="CHGT0000002",
        title="Old mail change",
        change_type="normal",
        state="closed",
        planned_start=now - timedelta(days=9),
        planned_end=now - timedelta(days=8),
        ci_links=[ChangeCI(ci_id=ci.id)],
    )
    session.add_all([upcoming, past])
    session.flush()

    response = client.get(f"/api/v1/cis/{ci.id}", headers=headers_for("agent"))
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    body = response.json()
    assert [item["id"] for item in body["open_incidents"]] == [open_incident.id]
    assert [item["number"] for item in body["upcoming_changes"]] == ["CHGT0000001"]


def test_access_follows_permissions(cmdb, client, headers_for):
    ci = cmdb.ci("secret")
    assert client.get(f"/api/v1/cis/{ci.id}", headers=headers_for("manager")).status_code == 200
    assert client.get(f"/api/v1/cis/{ci.id}", headers=headers_for("requester")).status_code == 403
    manager_write = client.post(
        "/api/v1/cis",
        headers=headers_for("manager"),
        json={"name": "x", "ci_class": "application"},
    )
    assert manager_write.status_code == 403
    assert client.get(f"/api/v1/cis/{ci.id}").status_code == 401
    assert client.get("/api/v1/cis/999999", headers=headers_for("agent")).status_code == 404


def test_renaming_onto_an_existing_name_is_refused(cmdb, client, headers_for, session):
    cmdb.ci("alpha")
    beta = cmdb.ci("beta")
    response = client.patch(
        f"/api/v1/cis/{beta.id}",
        headers={**headers_for("agent"), "If-Match": '"1"'},
        json={"name": "alpha"},
    )
    assert response.status_code == 409
    session.refresh(beta)
    assert (beta.name, beta.version) == ("beta", 1)
