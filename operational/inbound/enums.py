from enum import StrEnum


class InboundChannel(StrEnum):
    mail = "mail"
    webhook = "webhook"


class Outcome(StrEnum):
    """What became of one inbound message or event (``inbound_messages.outcome``)."""

    created = "created"  # a new incident
    commented = "commented"  # a comment (mail reply) or work note (alert) on the incident
    reopened = "reopened"  # a reply reopened the resolved incident
    resolved = "resolved"  # a resolved alert resolved its incident
    ignored = "ignored"  # auto-reply, bounce, our own mail, the loop guard
    refused = "refused"  # unknown sender (setting: refuse), oversized, unreadable


class SourceKind(StrEnum):
    """The payload shape a webhook source sends (docs/inbound.md, "Inbound webhooks")."""

    generic = "generic"
    alertmanager = "alertmanager"
    jira = "jira"


class ResolvedAction(StrEnum):
    """What a resolved alert does to its incident."""

    note = "note"  # a work note only
    resolve = "resolve"  # resolve it (a work note when its state cannot be resolved yet)


class AlertStatus(StrEnum):
    firing = "firing"
    resolved = "resolved"
