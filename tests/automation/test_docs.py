"""The worked examples of docs/automation.md are rules the API accepts, and the first one does
what the page says."""

import json
import re
from pathlib import Path

from sqlalchemy import select

from operational.notifications import service as notifications_service
from operational.notifications.enums import EventType, WebhookFormat
from operational.notifications.models import OutboxMessage

DOC = Path(__file__).resolve().parents[2] / "docs" / "automation.md"
RULE_BODY = re.compile(r"POST \$API/automation/rules -H .*?-d '(\{.*?\})'", re.DOTALL)


def documented_rules() -> list[dict]:
    return [json.loads(body) for body in RULE_BODY.findall(DOC.read_text())]


def _with_ids(value, ids: dict[tuple[str, int], int]):
    if isinstance(value, dict):
        return {
            key: ids.get((key, item), item)
            if isinstance(item, int)
            else [ids.get((key[:-1], one), one) for one in item]  # team_ids: [7]
            if key.endswith("_ids") and isinstance(item, list)
            else _with_ids(item, ids)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_with_ids(item, ids) for item in value]
    return value


def test_the_documented_rules_are_accepted_and_the_p1_rule_pages_on_call(
    client, headers_for, factory, sla, session, settings_env
):
    settings_env(webhooks_allow_private="true")
    admin_user = factory.user(roles=("admin",))
    admin = factory.auth_headers(admin_user)
    on_call = factory.team(name="Network on-call")
    member = factory.user(roles=("agent",), teams=(on_call,))
    dc_team = factory.team(name="DC operations")
    calendar = sla.calendar(timezone="Europe/Amsterdam", holiday_country="NL")
    pager, _ = notifications_service.create_webhook(
        session=session,
        name="pager",
        url="http://127.0.0.1:9/pager",
        format=WebhookFormat.generic,
        event_types=[EventType.sla_breached],
        actor=admin_user,
    )
    ids = {
        ("team_id", 4): on_call.id,
        ("team_id", 7): dc_team.id,
        ("webhook_id", 2): pager.id,
        ("calendar_id", 1): calendar.id,
    }
    rules = documented_rules()
    assert [rule["name"] for rule in rules] == [
        "P1 network to on-call",
        "Resolve tickets the caller left waiting",
        "Data centre incidents to DC operations",
        "Unknown site on a network incident",
        "Data centre orders to DC operations",
        "Late deliveries: tell the requester",
        "Requests to a team (refused)",
        "Major problems to problem management",
        "Root cause analysis taking too long",
    ]
    for rule in rules:
        created = client.post("/api/v1/automation/rules", json=_with_ids(rule, ids), headers=admin)
        if rule["name"].endswith("(refused)"):  # the page's example of an inapplicable action
            assert created.status_code == 422, created.text
            assert (created.json()["action"], created.json()["record_type"]) == (
                "assign",
                "request",
            )
            continue
        assert created.status_code == 201, created.text

    incident = client.post(
        "/api/v1/incidents",
        json={"title": "Core switch down", "impact": 1, "urgency": 1, "category": "Network"},
        headers=headers_for("agent"),
    ).json()
    assert incident["assignment_group"]["id"] == on_call.id
    assert incident["assignee"]["id"] == member.id
    paged = session.scalars(
        select(OutboxMessage).where(OutboxMessage.event_type == "automation.notice")
    ).all()
    assert {(message.channel, message.webhook_id) for message in paged} == {
        ("mail", None),
        ("webhook", pager.id),
    }
