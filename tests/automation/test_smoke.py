from operational.automation import service


def test_a_p1_on_network_goes_to_the_on_call_team_and_pages_them(auto):
    on_call, (first, second) = auto.team(members=2, name="Network on-call")
    rule = auto.rule(
        name="P1 network to on-call",
        trigger="created",
        conditions={
            "all": [
                {"field": "priority", "value": 1},
                {"field": "category", "op": "in", "value": ["Network", "VPN"]},
            ]
        },
        actions=[
            {"type": "assign", "team_id": on_call.id},
            {"type": "notify", "to_team": True, "template": "P1 {{ number }}: {{ title }}"},
        ],
    )
    incident = auto.incident(impact=1, urgency=1, category="network")
    assert incident.assignment_group_id == on_call.id
    assert incident.assignee_id in (first.id, second.id)
    assigned = auto.events(incident, kind="assigned")
    assert assigned and all(
        event.actor_label == "rule: P1 network to on-call" for event in assigned
    )
    assert all(event.data["rule_id"] == rule.id for event in assigned)
    paged = auto.outbox()
    assert {message.recipient_user_id for message in paged} == {first.id, second.id}
    assert f"P1 {incident.number}" in paged[0].body_text
    counted = service.counters(session=auto.session, rule_ids=[rule.id])[rule.id]
    assert counted.times_fired == 1 and counted.failures == 0
