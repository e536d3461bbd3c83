"""Admins override an event type's mail; HTML stays escaped, a broken template is refused."""

from operational.notifications import service
from tests.conftest import assert_problem

URL = "/api/v1/notifications/templates"


def test_an_override_is_used_escaped_and_can_be_dropped(client, factory, session):
    admin = factory.auth_headers(factory.user(roles=("admin",)))
    user = factory.user()
    templates = client.get(URL, headers=admin).json()
    assert {t["event_type"] for t in templates} >= {"incident.assigned", "csat.invitation"}
    assert not any(t["overridden"] for t in templates)

    override = {
        "subject": "Heads up: {{ ticket_title }}",
        "body_text": "Plain {{ comment_body }}",
        "body_html": "<p>{{ comment_body }}</p>",
    }
    saved = client.put(f"{URL}/incident.commented", headers=admin, json=override)
    assert saved.status_code == 200, saved.text
    assert saved.json()["overridden"] is True

    (message,) = service.enqueue(
        session=session,
        event_type="incident.commented",
        recipients=[user],
        context={
            "ticket_number": "INC0000005",
            "ticket_title": "Mail\r\nBcc: victim@example.org",
            "comment_body": "<img src=x onerror=alert(1)>",
        },
    )
    # The ticket number is put in front when the template leaves it out; headers stay one line.
    assert message.subject == "[INC0000005] Heads up: Mail Bcc: victim@example.org"
    assert message.body_text == "Plain <img src=x onerror=alert(1)>"
    assert message.body_html == "<p>&lt;img src=x onerror=alert(1)&gt;</p>"

    reset = client.delete(f"{URL}/incident.commented", headers=admin)
    assert reset.json()["overridden"] is False


def test_a_template_that_does_not_parse_is_refused(client, factory):
    admin = factory.auth_headers(factory.user(roles=("admin",)))
    broken = {"subject": "{{ ticket_number ", "body_text": "x", "body_html": "x"}
    assert_problem(client.put(f"{URL}/incident.resolved", headers=admin, json=broken), 422)
    agent = factory.auth_headers(factory.user(roles=("agent",)))
    assert_problem(client.get(URL, headers=agent), 403)


def test_the_sandbox_refuses_reaching_into_python(client, factory, session):
    admin = factory.auth_headers(factory.user(roles=("admin",)))
    sneaky = {
        "subject": "{{ ticket_number }}",
        "body_text": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "body_html": "x",
    }
    assert client.put(f"{URL}/incident.resolved", headers=admin, json=sneaky).status_code == 200
    user = factory.user()
    (message,) = service.enqueue(
        session=session,
        event_type="incident.resolved",
        recipients=[user],
        context={"ticket_number": "INC0000006", "ticket_title": "x"},
    )
    # The sandbox refuses; the built-in template is used instead.
    assert "__subclasses__" not in message.body_text
    assert "INC0000006 (x) was resolved." in message.body_text
