"""SLA administration (calendars, policies, escalation rules) and the timers they produce."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from operational.auth.dependencies import require
from operational.auth.models import User
from operational.core.db import DbSession
from operational.core.pagination import PageQuery
from operational.sla import escalation, service, timers, versions
from operational.sla.dependencies import CurrentCalendar, CurrentEscalationRule, CurrentPolicy
from operational.sla.enums import RecordType, TimerState, TimerTarget
from operational.sla.schemas import (
    CalendarCreate,
    CalendarPage,
    CalendarRead,
    CalendarUpdate,
    CalendarVersionPage,
    EscalationPage,
    EscalationRuleCreate,
    EscalationRulePage,
    EscalationRuleRead,
    EscalationRuleUpdate,
    NotificationPage,
    PolicyCreate,
    PolicyPage,
    PolicyRead,
    PolicyUpdate,
    PolicyVersionPage,
    SlaTimerPage,
)

router = APIRouter(prefix="/sla", tags=["sla"])

SlaAdmin = Annotated[User, require("sla:admin")]
read_access = [require("sla:read")]


# --- calendars ---------------------------------------------------------------------------------


@router.get("/calendars", dependencies=read_access, summary="Business-hours calendars")
def list_calendars(session: DbSession, params: PageQuery) -> CalendarPage:
    page = service.list_calendars(session=session, params=params)
    return CalendarPage.model_validate(page, from_attributes=True)


@router.post(
    "/calendars", status_code=status.HTTP_201_CREATED, summary="Add a business-hours calendar"
)
def create_calendar(user: SlaAdmin, data: CalendarCreate, session: DbSession) -> CalendarRead:
    return CalendarRead.model_validate(
        service.create_calendar(session=session, data=data, actor=user)
    )


@router.get("/calendars/{calendar_id}", dependencies=read_access, summary="One calendar")
def get_calendar(calendar: CurrentCalendar) -> CalendarRead:
    return CalendarRead.model_validate(calendar)


@router.get(
    "/calendars/{calendar_id}/versions",
    dependencies=read_access,
    summary="A calendar's versions, each with its period of validity",
)
def list_calendar_versions(
    calendar: CurrentCalendar, session: DbSession, params: PageQuery
) -> CalendarVersionPage:
    page = versions.list_calendar_versions(session=session, calendar_id=calendar.id, params=params)
    return CalendarVersionPage.model_validate(page, from_attributes=True)


@router.patch("/calendars/{calendar_id}", summary="Change a calendar")
def update_calendar(
    user: SlaAdmin, calendar: CurrentCalendar, data: CalendarUpdate, session: DbSession
) -> CalendarRead:
    updated = service.update_calendar(session=session, calendar=calendar, data=data, actor=user)
    return CalendarRead.model_validate(updated)


@router.delete(
    "/calendars/{calendar_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a calendar no policy uses",
)
def delete_calendar(user: SlaAdmin, calendar: CurrentCalendar, session: DbSession) -> Response:
    service.delete_calendar(session=session, calendar=calendar, actor=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- policies ----------------------------------------------------------------------------------


@router.get("/policies", dependencies=read_access, summary="SLA policies")
def list_policies(
    session: DbSession,
    params: PageQuery,
    is_active: Annotated[bool | None, Query(description="Only active or inactive ones")] = None,
) -> PolicyPage:
    page = service.list_policies(session=session, params=params, is_active=is_active)
    return PolicyPage.model_validate(page, from_attributes=True)


@router.post("/policies", status_code=status.HTTP_201_CREATED, summary="Add an SLA policy")
def create_policy(user: SlaAdmin, data: PolicyCreate, session: DbSession) -> PolicyRead:
    return PolicyRead.model_validate(service.create_policy(session=session, data=data, actor=user))


@router.get("/policies/{policy_id}", dependencies=read_access, summary="One SLA policy")
def get_policy(policy: CurrentPolicy) -> PolicyRead:
    return PolicyRead.model_validate(policy)


@router.get(
    "/policies/{policy_id}/versions",
    dependencies=read_access,
    summary="A policy's versions, each with its period of validity",
)
def list_policy_versions(
    policy: CurrentPolicy, session: DbSession, params: PageQuery
) -> PolicyVersionPage:
    page = versions.list_policy_versions(session=session, policy_id=policy.id, params=params)
    return PolicyVersionPage.model_validate(page, from_attributes=True)


@router.patch(
    "/policies/{policy_id}",
    summary="Change a policy; open incidents follow it from their next recompute",
)
def update_policy(
    user: SlaAdmin, policy: CurrentPolicy, data: PolicyUpdate, session: DbSession
) -> PolicyRead:
    updated = service.update_policy(session=session, policy=policy, data=data, actor=user)
    return PolicyRead.model_validate(updated)


@router.delete(
    "/policies/{policy_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a policy no timer uses (deactivate it otherwise)",
)
def delete_policy(user: SlaAdmin, policy: CurrentPolicy, session: DbSession) -> Response:
    service.delete_policy(session=session, policy=policy, actor=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- escalation rules --------------------------------------------------------------------------


@router.get("/escalation-rules", dependencies=read_access, summary="Escalation rules")
def list_rules(
    session: DbSession,
    params: PageQuery,
    is_active: Annotated[bool | None, Query(description="Only active or inactive ones")] = None,
    record_type: Annotated[
        RecordType | None, Query(description="Only rules for incidents or request approvals")
    ] = None,
) -> EscalationRulePage:
    page = service.list_rules(
        session=session, params=params, is_active=is_active, record_type=record_type
    )
    return EscalationRulePage.model_validate(page, from_attributes=True)


@router.post(
    "/escalation-rules", status_code=status.HTTP_201_CREATED, summary="Add an escalation rule"
)
def create_rule(
    user: SlaAdmin, data: EscalationRuleCreate, session: DbSession
) -> EscalationRuleRead:
    return EscalationRuleRead.model_validate(
        service.create_rule(session=session, data=data, actor=user)
    )


@router.get("/escalation-rules/{rule_id}", dependencies=read_access, summary="One escalation rule")
def get_rule(rule: CurrentEscalationRule) -> EscalationRuleRead:
    return EscalationRuleRead.model_validate(rule)


@router.patch("/escalation-rules/{rule_id}", summary="Change an escalation rule")
def update_rule(
    user: SlaAdmin, rule: CurrentEscalationRule, data: EscalationRuleUpdate, session: DbSession
) -> EscalationRuleRead:
    updated = service.update_rule(session=session, rule=rule, data=data, actor=user)
    return EscalationRuleRead.model_validate(updated)


@router.delete(
    "/escalation-rules/{rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a rule that never fired (deactivate it otherwise)",
)
def delete_rule(user: SlaAdmin, rule: CurrentEscalationRule, session: DbSession) -> Response:
    service.delete_rule(session=session, rule=rule, actor=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- what the engine produced ------------------------------------------------------------------


@router.get("/timers", dependencies=read_access, summary="SLA timers of all incidents")
def list_timers(
    session: DbSession,
    params: PageQuery,
    incident_id: Annotated[int | None, Query(ge=1)] = None,
    state: TimerState | None = None,
    target: TimerTarget | None = None,
) -> SlaTimerPage:
    page = timers.list_timers(
        session=session, params=params, incident_id=incident_id, state=state, target=target
    )
    return SlaTimerPage.model_validate(page, from_attributes=True)


@router.get("/escalations", dependencies=read_access, summary="Escalations that fired")
def list_escalations(
    session: DbSession,
    params: PageQuery,
    incident_id: Annotated[int | None, Query(ge=1)] = None,
    record_type: RecordType | None = None,
    record_id: Annotated[int | None, Query(ge=1)] = None,
) -> EscalationPage:
    page = escalation.list_escalations(
        session=session,
        params=params,
        incident_id=incident_id,
        record_type=record_type,
        record_id=record_id,
    )
    return EscalationPage.model_validate(page, from_attributes=True)


@router.get(
    "/notifications",
    dependencies=read_access,
    summary="Notifications escalations asked for (handed to the notifications outbox)",
)
def list_notifications(
    session: DbSession,
    params: PageQuery,
    incident_id: Annotated[int | None, Query(ge=1)] = None,
    record_type: RecordType | None = None,
    record_id: Annotated[int | None, Query(ge=1)] = None,
) -> NotificationPage:
    page = escalation.list_notifications(
        session=session,
        params=params,
        incident_id=incident_id,
        record_type=record_type,
        record_id=record_id,
    )
    return NotificationPage.model_validate(page, from_attributes=True)
