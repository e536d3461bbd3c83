"""The catalog's ``orderable`` filter: what the caller may order (found by the API fuzz run,
where it answered 500: the array columns lacked PostgreSQL's overlap operator)."""


def test_orderable_lists_what_the_caller_may_order(client, kit):
    everyone = kit.item(name="Mouse")
    agents_only = kit.item(name="Dock", orderable_roles=["agent"])
    managers_only = kit.item(name="Monitor", orderable_roles=["manager"])
    headers = kit.factory.auth_headers(kit.agent)
    response = client.get(
        "/api/v1/catalog/items", params={"orderable": "true", "size": 100}, headers=headers
    )
    assert response.status_code == 200, response.text
    names = {item["name"] for item in response.json()["items"]}
    assert {everyone.name, agents_only.name} <= names
    assert managers_only.name not in names
