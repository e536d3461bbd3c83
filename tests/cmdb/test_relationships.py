"""Relationships: typed and directed; cycles refused where the type forbids them; logged."""

import pytest

from operational.cmdb.exceptions import DuplicateRelationship, RelationshipCycle
from operational.events import service as events


def test_a_dependency_cycle_is_refused_with_the_loop(cmdb, client, headers_for):
    web, app, db = cmdb.ci("web"), cmdb.ci("app"), cmdb.ci("db")
    cmdb.relate(web, "depends_on", app)
    cmdb.relate(app, "depends_on", db)

    response = client.post(
        "/api/v1/ci-relationships",
        headers=headers_for("agent"),
        json={"source_ci_id": db.id, "type": "depends_on", "target_ci_id": web.id},
    )
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "/problems/relationship-cycle"
    # db depends_on web closes db -> web -> app -> db.
    assert problem["cycle"] == [db.id, web.id, app.id, db.id]
    assert problem["detail"].endswith("db depends_on web depends_on app depends_on db")


@pytest.mark.parametrize("kind", ["depends_on", "runs_on", "hosted_on", "part_of"])
def test_every_acyclic_type_refuses_a_two_step_loop(cmdb, kind):
    first, second = cmdb.ci(), cmdb.ci()
    cmdb.relate(first, kind, second)
    with pytest.raises(RelationshipCycle):
        cmdb.relate(second, kind, first)


def test_network_links_may_loop(cmdb):
    a, b, c = (cmdb.ci(ci_class="network_device") for _ in range(3))
    cmdb.relate(a, "connects_to", b)
    cmdb.relate(b, "connects_to", c)
    assert cmdb.relate(c, "connects_to", a).id


def test_loops_are_judged_per_type(cmdb):
    module, host = cmdb.ci("plugin"), cmdb.ci("host-app")
    cmdb.relate(module, "part_of", host)
    # The host relying on its own module is a different relationship type: allowed.
    assert cmdb.relate(host, "depends_on", module).id


def test_self_and_duplicate_relationships_are_refused(cmdb, client, headers_for):
    a, b = cmdb.ci(), cmdb.ci()
    cmdb.relate(a, "depends_on", b)
    with pytest.raises(DuplicateRelationship):
        cmdb.relate(a, "depends_on", b)
    response = client.post(
        "/api/v1/ci-relationships",
        headers=headers_for("agent"),
        json={"source_ci_id": a.id, "type": "connects_to", "target_ci_id": a.id},
    )
    assert response.status_code == 409
    unknown = client.post(
        "/api/v1/ci-relationships",
        headers=headers_for("agent"),
        json={"source_ci_id": a.id, "type": "loves", "target_ci_id": b.id},
    )
    assert unknown.status_code == 422
    missing = client.post(
        "/api/v1/ci-relationships",
        headers=headers_for("agent"),
        json={"source_ci_id": a.id, "type": "depends_on", "target_ci_id": 987654321},
    )
    assert missing.status_code == 404


def test_adding_and_removing_is_in_both_cis_history(cmdb, client, headers_for, session):
    app, db = cmdb.ci("crm-app"), cmdb.ci("crm-db", ci_class="database")
    headers = headers_for("agent")
    created = client.post(
        "/api/v1/ci-relationships",
        headers=headers,
        json={"source_ci_id": app.id, "type": "depends_on", "target_ci_id": db.id},
    )
    assert created.status_code == 201
    relationship = created.json()
    assert (relationship["source_name"], relationship["target_name"]) == ("crm-app", "crm-db")

    listed = client.get("/api/v1/ci-relationships", headers=headers, params={"ci_id": db.id})
    assert [item["id"] for item in listed.json()["items"]] == [relationship["id"]]

    deleted = client.delete(f"/api/v1/ci-relationships/{relationship['id']}", headers=headers)
    assert deleted.status_code == 204
    for ci, role in ((app, "source"), (db, "target")):
        kinds = [
            (event.kind, event.new_value or event.old_value, event.data["role"])
            for event in events.list_for(session=session, entity_type="ci", entity_id=ci.id)
            if event.kind != "created"
        ]
        assert kinds == [
            ("relationship_added", "crm-app depends_on crm-db", role),
            ("relationship_removed", "crm-app depends_on crm-db", role),
        ]
    gone = client.get(f"/api/v1/ci-relationships/{relationship['id']}", headers=headers)
    assert gone.status_code == 404


def test_relationship_types_say_which_forbid_cycles(client, headers_for):
    types = client.get("/api/v1/ci-relationships/types", headers=headers_for("agent")).json()
    assert {item["type"]: item["acyclic"] for item in types} == {
        "depends_on": True,
        "runs_on": True,
        "hosted_on": True,
        "connects_to": False,
        "part_of": True,
    }
