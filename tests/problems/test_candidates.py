from datetime import UTC, datetime, timedelta

from tests.problems.conftest import URL

CANDIDATES = f"{URL}/candidates"


def _candidates(client, headers, **params):
    response = client.get(CANDIDATES, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_rule_groups_recent_unlinked_incidents_sharing_a_ci_service_or_category(
    client, problems, incidents
):
    now = datetime.now(UTC)
    recent = [
        incidents.incident(
            title=f"Mail slow {n}",
            configuration_item="mail-01",
            service="Email",
            now=now - timedelta(days=n),
        )
        for n in (1, 2, 3)
    ]
    # Different spelling of the same CI counts; an old one (outside the window) does not.
    recent.append(
        incidents.incident(
            title="Mail slow 4", configuration_item=" MAIL-01 ", now=now - timedelta(days=4)
        )
    )
    incidents.incident(title="Old", configuration_item="mail-01", now=now - timedelta(days=40))
    # Two on a printer: below the minimum of three.
    for _ in range(2):
        incidents.incident(title="Printer", configuration_item="prn-07")

    groups = _candidates(client, problems.headers, dimension="ci")
    assert [
        (group["dimension"], group["key"].strip().lower(), group["count"]) for group in groups
    ] == [("ci", "mail-01", 4)]
    [group] = groups
    assert [item["id"] for item in group["incidents"]] == [incident.id for incident in recent]
    assert group["proposal"]["incident_ids"] == [incident.id for incident in recent]

    by_service = _candidates(client, problems.headers, dimension="service")
    assert [(group["key"], group["count"]) for group in by_service] == [("Email", 3)]
    # A wider window finds the old one too; a higher minimum drops the group.
    assert _candidates(client, problems.headers, dimension="ci", days=60)[0]["count"] == 5
    assert _candidates(client, problems.headers, dimension="ci", min_incidents=5) == []


def test_linked_and_cancelled_incidents_leave_the_candidates(client, problems, incidents, agent):
    from operational.incidents import flows

    made = [incidents.incident(category="VPN") for _ in range(4)]
    assert _candidates(client, problems.headers, dimension="category")[0]["count"] == 4
    problems.link(problems.create(), made[0].id)
    flows.transition(session=incidents.session, incident=made[1], actor=agent, state="cancelled")
    assert _candidates(client, problems.headers, dimension="category") == []


def test_a_problem_opens_from_a_group_in_one_call(client, problems, incidents):
    for _ in range(3):
        incidents.incident(service="Payroll")
    [group] = _candidates(client, problems.headers, dimension="service")
    created = client.post(URL, json=group["proposal"], headers=problems.headers)
    assert created.status_code == 201, created.text
    problem = created.json()
    assert problem["service"] == "Payroll"
    assert problem["linked_incidents"] == 3
    assert _candidates(client, problems.headers, dimension="service") == []
