"""Impact analysis: the recursive walk, its depth limit and the path to every CI it reaches."""

import pytest

from operational.cmdb import service
from operational.cmdb.enums import ImpactDirection
from operational.core.pagination import PageParams


@pytest.fixture
def shop(cmdb):
    """An online shop, from the switch up to the business service.

    shop-web depends_on shop-api; shop-api depends_on shop-db and runs_on srv-1;
    shop-db hosted_on srv-2; srv-1 and srv-2 connect_to sw-1; both apps are part_of the shop.
    """
    cis = {
        "shop": cmdb.ci("Online shop", ci_class="business_service", criticality=1),
        "web": cmdb.ci("shop-web"),
        "api": cmdb.ci("shop-api"),
        "db": cmdb.ci("shop-db", ci_class="database"),
        "srv1": cmdb.ci("srv-1", ci_class="server"),
        "srv2": cmdb.ci("srv-2", ci_class="server"),
        "sw": cmdb.ci("sw-1", ci_class="network_device"),
    }
    for source, kind, target in (
        ("web", "part_of", "shop"),
        ("api", "part_of", "shop"),
        ("web", "depends_on", "api"),
        ("api", "depends_on", "db"),
        ("api", "runs_on", "srv1"),
        ("db", "hosted_on", "srv2"),
        ("srv1", "connects_to", "sw"),
        ("srv2", "connects_to", "sw"),
    ):
        cmdb.relate(cis[source], kind, cis[target])
    return cis


def _walk(client, headers, ci, **params):
    response = client.get(f"/api/v1/cis/{ci.id}/impact", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_downstream_of_a_switch_reaches_the_business_service_with_paths(shop, client, headers_for):
    body = _walk(client, headers_for("agent"), shop["sw"], direction="downstream", depth=5)
    assert (body["total"], body["direction"], body["depth"]) == (6, "downstream", 5)
    reached = {item["ci"]["name"]: item["depth"] for item in body["items"]}
    assert reached == {
        "srv-1": 1,
        "srv-2": 1,
        "shop-api": 2,
        "shop-db": 2,
        "shop-web": 3,
        "Online shop": 3,
    }
    paths = {
        item["ci"]["name"]: [(step["name"], step["relationship_type"]) for step in item["path"]]
        for item in body["items"]
    }
    assert paths["shop-web"] == [
        ("sw-1", None),
        ("srv-1", "connects_to"),
        ("shop-api", "runs_on"),
        ("shop-web", "depends_on"),
    ]
    assert paths["Online shop"] == [
        ("sw-1", None),
        ("srv-1", "connects_to"),
        ("shop-api", "runs_on"),
        ("Online shop", "part_of"),
    ]
    # Nearest first, then by name.
    assert [item["ci"]["name"] for item in body["items"]][:2] == ["srv-1", "srv-2"]


def test_depth_limits_the_walk(shop, client, headers_for):
    body = _walk(client, headers_for("agent"), shop["sw"], depth=2)
    assert sorted(item["ci"]["name"] for item in body["items"]) == [
        "shop-api",
        "shop-db",
        "srv-1",
        "srv-2",
    ]
    one = _walk(client, headers_for("agent"), shop["sw"], depth=1)
    assert one["total"] == 2


def test_upstream_of_the_business_service_is_what_it_relies_on(shop, client, headers_for):
    body = _walk(client, headers_for("agent"), shop["shop"], direction="upstream", depth=10)
    reached = {item["ci"]["name"]: item["depth"] for item in body["items"]}
    assert reached == {
        "shop-web": 1,
        "shop-api": 1,
        "shop-db": 2,
        "srv-1": 2,
        "srv-2": 3,
        "sw-1": 3,
    }
    sw = next(item for item in body["items"] if item["ci"]["name"] == "sw-1")
    assert [step["name"] for step in sw["path"]] == ["Online shop", "shop-api", "srv-1", "sw-1"]


def test_a_ci_reached_twice_keeps_its_shortest_path(cmdb, session):
    root, left, right, top = cmdb.ci("root"), cmdb.ci("left"), cmdb.ci("right"), cmdb.ci("top")
    far = cmdb.ci("far")
    cmdb.relate(left, "depends_on", root)
    cmdb.relate(right, "depends_on", root)
    cmdb.relate(top, "depends_on", left)
    cmdb.relate(top, "depends_on", right)
    cmdb.relate(far, "depends_on", top)
    depths = service.impact_depths(
        session=session, ci_ids=[root.id], direction=ImpactDirection.downstream, depth=10
    )
    assert depths == {left.id: 1, right.id: 1, top.id: 2, far.id: 3}
    page, names, _ = service.impact(
        session=session,
        ci_id=root.id,
        direction=ImpactDirection.downstream,
        depth=10,
        params=PageParams(page=1, size=10),
    )
    # Of the two ways to "top", the path goes through the CI with the lower id: "left".
    assert {names[item.path[-1]]: [names[ci] for ci in item.path] for item in page.items} == {
        "left": ["root", "left"],
        "right": ["root", "right"],
        "top": ["root", "left", "top"],
        "far": ["root", "left", "top", "far"],
    }


def test_network_loops_do_not_walk_forever(cmdb, session):
    a, b, c = (cmdb.ci(ci_class="network_device") for _ in range(3))
    cmdb.relate(a, "connects_to", b)
    cmdb.relate(b, "connects_to", c)
    cmdb.relate(c, "connects_to", a)
    depths = service.impact_depths(
        session=session, ci_ids=[a.id], direction=ImpactDirection.downstream, depth=20
    )
    # a relies on b (a connects_to b): a's failure hits c, which hits b.
    assert depths == {c.id: 1, b.id: 2}


def test_impact_of_several_cis_excludes_them(shop, session):
    depths = service.impact_depths(
        session=session,
        ci_ids=[shop["srv1"].id, shop["api"].id],
        direction=ImpactDirection.downstream,
        depth=5,
    )
    assert depths == {shop["web"].id: 1, shop["shop"].id: 1}


def test_impact_pages_and_checks_its_parameters(shop, client, headers_for):
    headers = headers_for("agent")
    second = _walk(client, headers, shop["sw"], depth=5, size=4, page=2)
    assert second["total"] == 6
    assert [item["ci"]["name"] for item in second["items"]] == ["Online shop", "shop-web"]
    by_criticality = _walk(client, headers, shop["sw"], depth=5, sort="criticality", size=1)
    assert by_criticality["items"][0]["ci"]["name"] == "Online shop"
    for bad in ({"depth": 0}, {"depth": 21}, {"direction": "sideways"}):
        response = client.get(f"/api/v1/cis/{shop['sw'].id}/impact", headers=headers, params=bad)
        assert response.status_code == 422
    assert client.get("/api/v1/cis/424242/impact", headers=headers).status_code == 404
