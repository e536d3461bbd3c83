"""Versions of SLA policies and calendars, each with its period of validity (docs/sla.md).

The policy and calendar rows hold the configuration in force now; the live engine reads them.
Every create and every change of their content also records a version here: the previous one's
period ends (``valid_to``) where the new one's begins (``valid_from``). Replays of a past instant
(an incident as it was, ``operational.incidents.history``) read the versions in force then,
through ``operational.sla.service.policy_rules_at``.

Only ``operational.sla.service`` calls the writers, right after it has flushed the row (whose
row lock then orders concurrent edits of the same policy or calendar).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from operational.core.pagination import Page, PageParams, paginate
from operational.sla.models import SlaCalendar, SlaCalendarVersion, SlaPolicy, SlaPolicyVersion

CALENDAR_FIELDS = (
    "name",
    "timezone",
    "weekly_hours",
    "holiday_country",
    "holiday_subdivision",
    "added_holidays",
    "removed_holidays",
)
POLICY_FIELDS = (
    "name",
    "is_active",
    "priority",
    "service",
    "category",
    "calendar_id",
    "response_minutes",
    "resolution_minutes",
    "pause_on",
    "warning_thresholds",
)


def _content(row: Any, fields: Sequence[str]) -> dict[str, Any]:
    content = {}
    for name in fields:
        value = getattr(row, name)
        content[name] = sorted(value) if name.endswith("_holidays") else value
    if "warning_thresholds" in content:
        content["warning_thresholds"] = list(content["warning_thresholds"])
    return content


def _record(
    session: Session,
    model: type[SlaCalendarVersion] | type[SlaPolicyVersion],
    key: str,
    owner_id: int,
    content: dict[str, Any],
    at: datetime,
) -> SlaCalendarVersion | SlaPolicyVersion | None:
    """Close the version in force and open one with ``content`` from ``at``; None (nothing
    recorded) when the content is that of the version in force."""
    owner = getattr(model, key)
    current = session.scalar(select(model).where(owner == owner_id, model.valid_to.is_(None)))
    fields = tuple(content)
    if current is not None and _content(current, fields) == content:
        return None
    number = 1
    if current is not None:
        number = current.version + 1
        # Never before the period began: an edit stamped earlier than the last one counts at it.
        if current.valid_from is not None and at < current.valid_from:
            at = current.valid_from
        session.execute(update(model).where(model.id == current.id).values(valid_to=at))
        session.expire(current)
    version = model(**{key: owner_id}, version=number, valid_from=at, valid_to=None, **content)
    session.add(version)
    session.flush()
    return version


def record_calendar(*, session: Session, calendar: SlaCalendar, at: datetime) -> None:
    """Record the calendar's content as its version from ``at`` (when it changed)."""
    _record(
        session,
        SlaCalendarVersion,
        "calendar_id",
        calendar.id,
        _content(calendar, CALENDAR_FIELDS),
        at,
    )


def record_policy(*, session: Session, policy: SlaPolicy, at: datetime) -> None:
    """Record the policy's content as its version from ``at`` (when it changed)."""
    _record(session, SlaPolicyVersion, "policy_id", policy.id, _content(policy, POLICY_FIELDS), at)


def _in_force(model: type[SlaCalendarVersion] | type[SlaPolicyVersion], at: datetime) -> Any:
    return and_(
        or_(model.valid_from.is_(None), model.valid_from <= at),
        or_(model.valid_to.is_(None), model.valid_to > at),
    )


def policies_in_force(*, session: Session, at: datetime) -> list[SlaPolicyVersion]:
    """The active policy versions in force at ``at``, in policy id order."""
    return list(
        session.scalars(
            select(SlaPolicyVersion)
            .where(_in_force(SlaPolicyVersion, at), SlaPolicyVersion.is_active)
            .order_by(SlaPolicyVersion.policy_id)
        )
    )


def calendars_in_force(
    *, session: Session, calendar_ids: Sequence[int], at: datetime
) -> dict[int, SlaCalendarVersion]:
    """The versions of these calendars in force at ``at``, by calendar id (a calendar missing
    from the answer had no version then, or was deleted since)."""
    if not calendar_ids:
        return {}
    rows = session.scalars(
        select(SlaCalendarVersion).where(
            SlaCalendarVersion.calendar_id.in_(list(calendar_ids)),
            _in_force(SlaCalendarVersion, at),
        )
    )
    return {row.calendar_id: row for row in rows}


def list_policy_versions(*, session: Session, policy_id: int, params: PageParams) -> Page[Any]:
    """A page of a policy's versions (default: oldest first)."""
    return paginate(
        session,
        select(SlaPolicyVersion).where(SlaPolicyVersion.policy_id == policy_id),
        params,
        sortable={"version": SlaPolicyVersion.version, "valid_from": SlaPolicyVersion.valid_from},
        default_sort=[SlaPolicyVersion.version],
    )


def list_calendar_versions(*, session: Session, calendar_id: int, params: PageParams) -> Page[Any]:
    """A page of a calendar's versions (default: oldest first)."""
    return paginate(
        session,
        select(SlaCalendarVersion).where(SlaCalendarVersion.calendar_id == calendar_id),
        params,
        sortable={
            "version": SlaCalendarVersion.version,
            "valid_from": SlaCalendarVersion.valid_from,
        },
        default_sort=[SlaCalendarVersion.version],
    )


def policy_history(*, session: Session, policy_id: int) -> list[SlaPolicyVersion]:
    """Every version of a policy, oldest first."""
    return list(
        session.scalars(
            select(SlaPolicyVersion)
            .where(SlaPolicyVersion.policy_id == policy_id)
            .order_by(SlaPolicyVersion.version)
        )
    )


def calendar_history(*, session: Session, calendar_id: int) -> list[SlaCalendarVersion]:
    """Every version of a calendar, oldest first."""
    return list(
        session.scalars(
            select(SlaCalendarVersion)
            .where(SlaCalendarVersion.calendar_id == calendar_id)
            .order_by(SlaCalendarVersion.version)
        )
    )
