"""Imports every domain's models so that ``Base.metadata`` is complete (Alembic, tests)."""

from operational.audit import models as audit_models
from operational.auth import models as auth_models
from operational.automation import models as automation_models
from operational.bulk import models as bulk_models
from operational.changes import models as changes_models
from operational.cmdb import models as cmdb_models
from operational.core.db import Base
from operational.customfields import models as customfields_models
from operational.events import models as events_models
from operational.exports import models as exports_models
from operational.imports import models as imports_models
from operational.inbound import models as inbound_models
from operational.incidents import models as incidents_models
from operational.knowledge import models as knowledge_models
from operational.notifications import models as notifications_models
from operational.problems import models as problems_models
from operational.requests import models as requests_models
from operational.sla import models as sla_models
from operational.ui import models as ui_models

__all__ = [
    "Base",
    "audit_models",
    "auth_models",
    "automation_models",
    "bulk_models",
    "changes_models",
    "cmdb_models",
    "customfields_models",
    "events_models",
    "exports_models",
    "imports_models",
    "inbound_models",
    "incidents_models",
    "knowledge_models",
    "notifications_models",
    "problems_models",
    "requests_models",
    "sla_models",
    "ui_models",
]
