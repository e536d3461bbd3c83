"""Lookups that 404 for the SLA admin routes."""

from typing import Annotated

from fastapi import Depends, Path

from operational.core.db import DbSession
from operational.sla import service
from operational.sla.models import SlaCalendar, SlaEscalationRule, SlaPolicy


def _current_calendar(session: DbSession, calendar_id: Annotated[int, Path(ge=1)]) -> SlaCalendar:
    return service.get_calendar(session=session, calendar_id=calendar_id)


def _current_policy(session: DbSession, policy_id: Annotated[int, Path(ge=1)]) -> SlaPolicy:
    return service.get_policy(session=session, policy_id=policy_id)


def _current_rule(session: DbSession, rule_id: Annotated[int, Path(ge=1)]) -> SlaEscalationRule:
    return service.get_rule(session=session, rule_id=rule_id)


CurrentCalendar = Annotated[SlaCalendar, Depends(_current_calendar)]
CurrentPolicy = Annotated[SlaPolicy, Depends(_current_policy)]
CurrentEscalationRule = Annotated[SlaEscalationRule, Depends(_current_rule)]
