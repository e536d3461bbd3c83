"""Factories for CMDB tests: CIs and relationships made through the service."""

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.cmdb import service
from operational.cmdb.models import CIRelationship, ConfigurationItem
from operational.cmdb.schemas import CICreate, RelationshipCreate
from operational.incidents.models import Incident

_numbers = itertools.count(1)

# Attributes that satisfy each seeded class's schema.
VALID_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "application": {"version": "1.0"},
    "service": {},
    "server": {"hostname": "srv.example.com"},
    "database": {"engine": "postgresql"},
    "network_device": {"device_type": "switch"},
    "business_service": {},
}


class CmdbFactory:
    def __init__(self, session: Session):
        self.session = session

    def ci(
        self,
        name: str | None = None,
        *,
        ci_class: str = "application",
        actor: User | None = None,
        **fields: Any,
    ) -> ConfigurationItem:
        fields.setdefault("attributes", dict(VALID_ATTRIBUTES.get(ci_class, {})))
        data = CICreate(name=name or f"ci-{next(_numbers)}", ci_class=ci_class, **fields)
        return service.create(session=self.session, data=data, actor=actor)

    def relate(
        self,
        source: ConfigurationItem,
        relationship_type: str,
        target: ConfigurationItem,
        *,
        actor: User | None = None,
    ) -> CIRelationship:
        data = RelationshipCreate(
            source_ci_id=source.id, type=relationship_type, target_ci_id=target.id
        )
        return service.create_relationship(session=self.session, data=data, actor=actor)

    def incident(self, ci: ConfigurationItem, *, state: str = "new", **fields: Any) -> Incident:
        """A bare incident row on ``ci`` (the incident workflow is not under test here)."""
        number = next(_numbers)
        incident = Incident(
            number=f"INCT{number:07d}",
            title=fields.pop("title", f"Incident {number} on {ci.name}"),
            impact=2,
            urgency=2,
            priority=3,
            state=state,
            opened_at=datetime.now(UTC),
            ci_id=ci.id,
            **fields,
        )
        self.session.add(incident)
        self.session.flush()
        return incident


@pytest.fixture
def cmdb(session: Session) -> CmdbFactory:
    return CmdbFactory(session)
