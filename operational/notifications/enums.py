"""The vocabulary of notifications: what is sent, how, and where a message stands."""

from enum import StrEnum


class EventType(StrEnum):
    """What a message is about. Each has a mail template under ``templates/`` (admins may
    override it) and may be subscribed to by webhooks (all but the CSAT invitation)."""

    incident_assigned = "incident.assigned"  # to the new assignee, or the new team's members
    incident_commented = "incident.commented"  # a comment the requester may see
    incident_resolved = "incident.resolved"  # to the requester
    incident_waiting = "incident.waiting"  # on hold, waiting for the requester
    sla_warning = "sla.warning"  # a timer crossed a warning threshold
    sla_breached = "sla.breached"  # a timer passed its target
    sla_escalation = "sla.escalation"  # an escalation rule's notify action
    csat_invitation = "csat.invitation"  # the one-time survey link, to the requester only
    change_notice = "change.notice"  # advance notice to a change's stakeholders
    approval_requested = "approval.requested"  # an approver has a decision waiting
    approval_reminder = "approval.reminder"  # ... still waiting
    automation_notice = "automation.notice"  # an automation rule's notify or webhook action
    digest = "digest"  # the daily digest of held messages (never held itself)


# Event types whose messages carry a secret for their recipient alone: never sent to webhooks.
PRIVATE_EVENT_TYPES = frozenset({EventType.csat_invitation, EventType.digest})


class ChannelKind(StrEnum):
    mail = "mail"
    webhook = "webhook"


class MessageState(StrEnum):
    pending = "pending"  # waiting for the dispatcher (next_attempt_at says when)
    held = "held"  # kept for the recipient's daily digest
    digested = "digested"  # went out inside a digest (digest_id names it)
    delivered = "delivered"
    dead = "dead"  # failed max_attempts times, or for a reason no retry mends


class Delivery(StrEnum):
    """A user's choice per event type."""

    mail = "mail"
    none = "none"
    digest = "digest"


class WebhookFormat(StrEnum):
    generic = "generic"  # our JSON envelope, signed (ITSM-Signature)
    slack = "slack"  # Slack incoming webhook: {"text": ..., "blocks": [...]}
    teams = "teams"  # Microsoft Teams incoming webhook / workflow: an Adaptive Card
