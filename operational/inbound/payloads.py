"""Webhook payloads → alert events: one generic shape, and mappings for Prometheus Alertmanager
and Jira issue webhooks (docs/inbound.md, "Inbound webhooks"). Pure functions."""

import hashlib
import json
from dataclasses import dataclass

from pydantic import ValidationError

from operational.core.errors import UnprocessableEntity
from operational.inbound.enums import AlertStatus, SourceKind
from operational.inbound.schemas import AlertmanagerPayload, GenericEvent, JiraPayload

# Alertmanager's severity label → (impact, urgency); others are 2, 2.
SEVERITY_LEVELS = {"critical": (1, 1), "error": (2, 1), "warning": (2, 2), "info": (3, 3)}
# The request header Jira sends with an id unique to each delivery.
JIRA_DELIVERY_HEADER = "x-atlassian-webhook-identifier"


@dataclass(frozen=True)
class AlertEvent:
    event_id: str
    alert_key: str
    status: AlertStatus
    title: str
    description: str | None = None
    impact: int = 2
    urgency: int = 2
    service: str | None = None
    configuration_item: str | None = None


def _clip(text: str | None, length: int) -> str | None:
    if text is None:
        return None
    text = text.replace("\x00", "")
    return text if len(text) <= length else text[: length - 1] + "…"


def _generic(document: object, headers: dict[str, str]) -> list[AlertEvent]:
    items = document if isinstance(document, list) else [document]
    events = []
    for item in items[:1000]:
        event = GenericEvent.model_validate(item)
        events.append(
            AlertEvent(
                event_id=event.event_id,
                alert_key=event.alert_key,
                status=event.status,
                title=_clip(event.title, 300) or "Alert",
                description=_clip(event.description, 50_000),
                impact=event.impact,
                urgency=event.urgency,
                service=_clip(event.service, 200),
                configuration_item=_clip(event.configuration_item, 200),
            )
        )
    return events


def _alertmanager(document: object, headers: dict[str, str]) -> list[AlertEvent]:
    payload = AlertmanagerPayload.model_validate(document)
    events = []
    for alert in payload.alerts:
        key = (
            alert.fingerprint
            or hashlib.sha256(json.dumps(alert.labels, sort_keys=True).encode()).hexdigest()[:16]
        )
        name = alert.labels.get("alertname", "Alert")
        where = alert.labels.get("instance") or alert.labels.get("job")
        title = alert.annotations.get("summary") or (f"{name} on {where}" if where else name)
        lines = [alert.annotations.get("description", "")]
        lines += [f"{label}: {value}" for label, value in sorted(alert.labels.items())]
        if alert.generatorURL:
            lines.append(f"source: {alert.generatorURL}")
        impact, urgency = SEVERITY_LEVELS.get(alert.labels.get("severity", "").lower(), (2, 2))
        # Alertmanager repeats a firing alert every repeat_interval with the same startsAt: the
        # same event id, so a repeat is recognised and ignored.
        ends = alert.endsAt if alert.status == AlertStatus.resolved else ""
        events.append(
            AlertEvent(
                event_id=f"{key}:{alert.status.value}:{alert.startsAt}:{ends}",
                alert_key=key,
                status=alert.status,
                title=_clip(f"[{name}] {title}" if name not in title else title, 300) or name,
                description=_clip("\n".join(line for line in lines if line), 50_000),
                impact=impact,
                urgency=urgency,
                service=_clip(alert.labels.get("service") or alert.labels.get("job"), 200),
                configuration_item=_clip(alert.labels.get("instance"), 200),
            )
        )
    return events


def _adf_text(node: object) -> str:
    """The text of an Atlassian document (Jira Cloud's rich text), paragraphs on lines."""
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        text = node.get("text", "") if isinstance(node.get("text"), str) else ""
        inner = "".join(_adf_text(child) for child in node.get("content", []) or [])
        return text + inner + ("\n" if node.get("type") == "paragraph" else "")
    if isinstance(node, list):
        return "".join(_adf_text(child) for child in node)
    return ""


def _jira(document: object, headers: dict[str, str]) -> list[AlertEvent]:
    payload = JiraPayload.model_validate(document)
    issue = payload.issue
    status = issue.fields.status
    done = bool(status and status.statusCategory and status.statusCategory.key == "done")
    resolved = done or payload.webhookEvent == "jira:issue_deleted"
    delivery = headers.get(JIRA_DELIVERY_HEADER)
    event_id = delivery or f"{issue.key}:{payload.webhookEvent}:{payload.timestamp}"
    description = _adf_text(issue.fields.description).strip() or None
    return [
        AlertEvent(
            event_id=event_id,
            alert_key=issue.key,
            status=AlertStatus.resolved if resolved else AlertStatus.firing,
            title=_clip(f"{issue.key}: {issue.fields.summary or 'Jira issue'}", 300) or issue.key,
            description=_clip(description, 50_000),
        )
    ]


MAPPINGS = {
    SourceKind.generic: _generic,
    SourceKind.alertmanager: _alertmanager,
    SourceKind.jira: _jira,
}


def events_from(kind: SourceKind | str, body: bytes, headers: dict[str, str]) -> list[AlertEvent]:
    """The alert events in a webhook's body; UnprocessableEntity (422) when it is not JSON of
    the source's shape."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise UnprocessableEntity(f"The body is not JSON: {exc}"[:300]) from None
    try:
        return MAPPINGS[SourceKind(kind)](document, headers)
    except ValidationError as exc:
        errors = [
            {
                "location": [str(part) for part in error.get("loc", ())],
                "message": error.get("msg", ""),
                "type": error.get("type", ""),
            }
            for error in exc.errors()[:20]
        ]
        raise UnprocessableEntity(
            f"The body is not a {SourceKind(kind).value} payload; see errors", errors=errors
        ) from None
