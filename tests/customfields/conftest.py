"""Fixtures for custom fields: definitions made through the service, and the record factories
of the domains that carry values."""

from typing import Any

import pytest
from sqlalchemy.orm import Session

from operational.customfields import service
from operational.customfields.models import CustomFieldDefinition
from operational.customfields.schemas import DefinitionCreate
from tests.changes.conftest import ChangeFactory, changes  # noqa: F401 (fixtures)
from tests.cmdb.conftest import cmdb  # noqa: F401 (fixtures)
from tests.incidents.conftest import incidents  # noqa: F401 (fixtures)

# One field of each type, the allowed values of the choices fixed.
CHOICES = ["Rotterdam", "Delft", "Utrecht"]


class FieldFactory:
    def __init__(self, session: Session, factory: Any):
        self.session = session
        self.admin = factory.user(roles=("admin",))

    def define(
        self, name: str, type: str = "text", *, record_type: str = "incident", **fields: Any
    ) -> CustomFieldDefinition:
        if type in ("choice", "multi_choice"):
            fields.setdefault("allowed_values", CHOICES)
        data = DefinitionCreate(
            record_type=record_type,
            name=name,
            label=name.replace("_", " ").title(),
            type=type,
            **fields,
        )
        return service.create_definition(session=self.session, data=data, actor=self.admin)


@pytest.fixture
def fields(session: Session, factory) -> FieldFactory:
    return FieldFactory(session, factory)


@pytest.fixture
def agent(incidents):  # noqa: F811
    return incidents.agent()


@pytest.fixture
def agent_headers(factory, agent):
    return factory.auth_headers(agent)
