"""Role → permission data. Code checks permissions, never role names.

Each route declares the permission it needs with ``require("...")``; the RBAC matrix test walks
every route against every role using this table.
"""

from enum import StrEnum
from typing import Any


class Role(StrEnum):
    admin = "admin"
    agent = "agent"
    manager = "manager"
    requester = "requester"
    auditor = "auditor"
    analyst = "analyst"


PERMISSIONS: dict[str, str] = {
    "incident:create": "Raise incidents",
    "incident:read": "See incidents (requesters see only their own)",
    "incident:read_all": "See every incident, not only one's own",
    "incident:write": "Update, assign and move incidents through their workflow",
    "incident:comment": "Comment on incidents (requesters: public comments on their own)",
    "incident:override_priority": "Override the matrix priority, with a reason",
    "assignment:admin": "Manage auto-assignment rules",
    "sla:read": "See SLA calendars, policies and timers",
    "sla:admin": "Manage SLA calendars, policies and escalation rules",
    "automation:read": "See automation rules, their runs, and dry-run them",
    "automation:admin": "Manage automation rules",
    "ci:read": "See configuration items and their relationships",
    "ci:write": "Create and change configuration items and relationships",
    "change:read": "See changes and the change calendar",
    "change:write": "Raise and work changes",
    "change:approve": "Decide on changes as a CAB member",
    "change:override_conflict": "Schedule a change over a conflict, with a reason",
    "blackout:admin": "Manage blackout windows",
    "problem:read": "See problems, known errors and the incidents linked to them",
    "problem:write": "Raise and work problems, link incidents, publish known errors",
    "knowledge:read": "Read and search knowledge articles (requesters: those for everyone)",
    "knowledge:write": "Write knowledge articles, submit them for review, record their use",
    "knowledge:approve": "Review knowledge articles: publish or send back, retire",
    "team:read": "See teams and their members",
    "team:admin": "Manage teams and memberships",
    "user:read": "See user accounts",
    "user:admin": "Manage user accounts and roles",
    "audit:read": "Read the audit trail and compliance data",
    "export:read": "List and download compliance exports",
    "marts:read": "Read the analytics marts and dashboards",
    "catalog:read": "See the service catalog and order forms",
    "catalog:admin": "Manage the service catalog: categories, items, forms, approvals, plans",
    "request:create": "Order catalog items; cancel and answer on one's own requests",
    "request:read": "See requests (requesters see only their own)",
    "request:read_all": "See every request, not only one's own",
    "request:fulfil": "Work request items and their fulfilment tasks",
    "approval:decide": "See and decide the approvals that wait for one, and delegate them",
    "inbound:admin": "Register inbound webhook sources and read the inbound message log",
    "notification:admin": "Manage the outbox, dead letters, mail templates, webhooks and defaults",
    "customfield:read": "See the custom fields requesters may see (their definitions)",
    "customfield:read_all": "See every custom field definition and every value of a record",
    "customfield:admin": "Define, change and retire custom fields",
}

# Everyone who works here may order from the catalog and approve what waits for them.
_REQUESTING = {
    "catalog:read",
    "request:create",
    "request:read",
    "approval:decide",
    "customfield:read",
}

_AGENT = {
    "incident:create",
    "incident:read",
    "incident:read_all",
    "incident:write",
    "incident:comment",
    "incident:override_priority",
    "sla:read",
    "ci:read",
    "ci:write",
    "change:read",
    "change:write",
    "team:read",
    *_REQUESTING,
    "request:read_all",
    "request:fulfil",
    "problem:read",
    "problem:write",
    "knowledge:read",
    "knowledge:write",
    "customfield:read_all",
}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.admin: frozenset(PERMISSIONS),
    Role.agent: frozenset(_AGENT),
    Role.manager: frozenset(
        {
            "incident:read",
            "incident:read_all",
            "sla:read",
            "automation:read",
            "ci:read",
            "change:read",
            "change:approve",
            "change:override_conflict",
            "team:read",
            "user:read",
            "marts:read",
            *_REQUESTING,
            "request:read_all",
            "problem:read",
            "knowledge:read",
            "knowledge:approve",
            "customfield:read_all",
        }
    ),
    Role.requester: frozenset(
        {"incident:create", "incident:read", "incident:comment", "knowledge:read", *_REQUESTING}
    ),
    Role.auditor: frozenset(
        {
            "audit:read",
            "export:read",
            "marts:read",
            "change:read",
            "user:read",
            "sla:read",
            "catalog:read",
            "request:read",
            "request:read_all",
        }
    ),
    Role.analyst: frozenset({"marts:read"}),
}


def permissions_for(roles: list[str] | set[str] | frozenset[str]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(Role(role), frozenset())
    return frozenset(granted)


def has_permission(user: Any, permission: str) -> bool:
    """Whether ``user`` (anything with ``roles``) holds ``permission`` through one of its roles."""
    return permission in permissions_for(user.roles)
