"""Stakeholder notices: who, what, when and impact, rendered as text."""

from .conftest import MONDAY


def test_the_scheduled_notice_tells_who_what_when_and_impact(changes, client, factory):
    team = factory.team(name="Web team")
    requester = changes.agent(display_name="Rita Requester")
    implementer = changes.agent(display_name="Ivan Implementer")
    api = changes.ci("shop-api")
    web = changes.ci("shop-web", criticality=4)
    shop = changes.ci("Online shop", ci_class="business_service", criticality=1)
    changes.cmdb.relate(web, "depends_on", api)
    changes.cmdb.relate(web, "part_of", shop)
    change = changes.change(
        actor=requester,
        cis=[api],
        start=MONDAY,
        assignment_group_id=team.id,
        implementer_id=implementer.id,
    )
    response = client.get(
        f"/api/v1/changes/{change.id}/notice",
        headers=factory.auth_headers(requester),
        params={"kind": "scheduled", "tz": "Europe/Berlin"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    # Risk: 50 (nothing answered) + 25 (Online shop is critical) + 5 (two relying CIs).
    assert response.text == (
        f"Subject: [{change.number}] Planned change: Patch the web servers\n"
        "\n"
        "Who:    Rita Requester requested this normal change. "
        "Ivan Implementer (Web team) implements it.\n"
        "What:   Patch the web servers\n"
        "        Apply the vendor's security patch\n"
        "When:   Mon 2030-03-04 11:00 Europe/Berlin (10:00 UTC) to "
        "Mon 2030-03-04 13:00 Europe/Berlin (12:00 UTC) (2 h)\n"
        "Impact: 1 CI(s) change; 2 more rely on them.\n"
        "  - shop-api (Application, production, medium)\n"
        "  Relying on them, most critical first:\n"
        "  - Online shop (Business service, production, critical)\n"
        "  - shop-web (Application, production, low)\n"
        "Risk:   very high (score 80)\n"
        "Backout: Reinstall the previous package\n"
        "\n"
        "Questions or concerns: contact Web team before the change starts.\n"
    )


def test_started_and_completed_notices_follow_the_change(changes, client, factory):
    headers = factory.auth_headers(changes.agent())
    change = changes.scheduled(changes.change(cis=[changes.ci("mail")]))
    url = f"/api/v1/changes/{change.id}/notice"
    assert client.get(url, headers=headers, params={"kind": "started"}).status_code == 409
    change = changes.move(change, "implement")
    started = client.get(url, headers=headers, params={"kind": "started"})
    assert started.text.startswith(f"Subject: [{change.number}] Change in progress:")
    assert client.get(url, headers=headers, params={"kind": "completed"}).status_code == 409
    changes.review(changes.move(change, "review"), outcome="backed_out")
    completed = client.get(url, headers=headers, params={"kind": "completed"}).text
    assert completed.startswith(f"Subject: [{change.number}] Change backed out:")
    assert "The change was backed out; the services run as before it." in completed


def test_an_unknown_time_zone_is_refused(changes, client, headers_for):
    change = changes.change()
    response = client.get(
        f"/api/v1/changes/{change.id}/notice",
        headers=headers_for("agent"),
        params={"tz": "Atlantis/Capital"},
    )
    assert response.status_code == 422
