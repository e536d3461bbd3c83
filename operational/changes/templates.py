"""Standard change templates: change models the CAB approved once. A standard change is raised
from one and takes its plans and risk answers (see service.create).

Templates and blackout windows are both reference data that changes are checked against, but
they share no code and sit at different levels (service.py builds on this module, blackouts.py
on collisions.py), so each has its own module. Not to be confused with ``templates/``, the
wording of stakeholder notices (messages.py).
"""

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.changes import records
from operational.changes.exceptions import DuplicateTemplate, TemplateNotFound
from operational.changes.models import ChangeTemplate
from operational.changes.schemas import TemplateCreate, TemplateUpdate
from operational.core.pagination import Page, PageParams, paginate
from operational.events.enums import EntityType


def get_template(*, session: Session, template_id: int) -> ChangeTemplate:
    template = session.get(ChangeTemplate, template_id)
    if template is None:
        raise TemplateNotFound(f"There is no change template {template_id}")
    return template


def list_templates(
    *, session: Session, params: PageParams, active: bool | None = None
) -> Page[Any]:
    statement = select(ChangeTemplate)
    if active is not None:
        statement = statement.where(ChangeTemplate.is_active == active)
    return paginate(
        session,
        statement,
        params,
        sortable={"name": ChangeTemplate.name, "created_at": ChangeTemplate.created_at},
        default_sort=[ChangeTemplate.name, ChangeTemplate.id],
    )


def create_template(*, session: Session, data: TemplateCreate, actor: User) -> ChangeTemplate:
    if session.scalar(select(ChangeTemplate.id).where(ChangeTemplate.name == data.name)):
        raise DuplicateTemplate(f"A template named {data.name!r} exists")
    template = ChangeTemplate(
        **data.model_dump(exclude={"risk_answers"}),
        risk_answers=data.risk_answers.model_dump(),
        created_by_id=actor.id,
    )
    session.add(template)
    session.flush()
    session.refresh(template)
    _record(session, template, actor, None)
    return template


def _record(
    session: Session, template: ChangeTemplate, actor: User | None, before: dict[str, Any] | None
) -> None:
    records.record_config(
        session=session,
        entity_type=EntityType.change_template,
        entity_id=template.id,
        label=template.name,
        actor=actor,
        before=before,
        after=records.snapshot(template),
    )


def update_template(
    *,
    session: Session,
    template: ChangeTemplate,
    data: TemplateUpdate,
    actor: User | None = None,
) -> ChangeTemplate:
    before = records.snapshot(template)
    for field, value in data.model_dump(exclude_unset=True).items():
        if value is None and field not in ("description", "justification"):
            continue
        setattr(template, field, value)
    template.updated_at = records.now()
    session.flush()
    _record(session, template, actor, before)
    return template
