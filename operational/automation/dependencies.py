"""Lookups that 404, and the permissions of the automation routes."""

from typing import Annotated

from fastapi import Depends

from operational.automation import service
from operational.automation.models import AutomationRule
from operational.core.db import DbSession


def _rule(rule_id: int, session: DbSession) -> AutomationRule:
    return service.get(session=session, rule_id=rule_id)


CurrentRule = Annotated[AutomationRule, Depends(_rule)]
