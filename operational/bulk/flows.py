"""Bulk updates: one update applied to many incidents or changes, record by record.

Each record goes through its domain's own flows (``incidents.flows.update``/``add_comment``,
``changes.flows.update``/``transition``), exactly as a single update would, so that the workflow,
validation, versions, notifications and whatever hooks into those flows apply to each record.
Each record runs in its own savepoint: a failure undoes that record only, and becomes its
problem+json in the results. Every event written meanwhile names the job
(``data.bulk_job_id``, through ``events.service.attributed``).

    router ──> submit_incidents / submit_changes ──> run_inline (small jobs, in the request)
    worker ──> next_job, work_on (larger jobs, a chunk per transaction) ──┘
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from operational.auth import service as auth_service
from operational.auth.models import User
from operational.auth.permissions import has_permission
from operational.bulk import service
from operational.bulk.enums import Outcome, RecordType
from operational.bulk.exceptions import TooManyRecords
from operational.bulk.models import BulkJob, BulkJobItem
from operational.bulk.schemas import (
    ChangeBulkRequest,
    ChangeTarget,
    IncidentBulkRequest,
    IncidentTarget,
)
from operational.changes import flows as change_flows
from operational.changes import records as change_records
from operational.changes import service as changes_service
from operational.changes.enums import ChangeState
from operational.core.concurrency import check_version
from operational.core.config import get_settings
from operational.core.errors import DomainError, Forbidden, NotFound
from operational.events import service as events
from operational.incidents import flows as incident_flows
from operational.incidents import service as incidents_service
from operational.incidents.models import Incident

logger = logging.getLogger("operational.bulk")

INCIDENT_WRITE = "incident:write"
INCIDENT_OVERRIDE_PRIORITY = "incident:override_priority"
CHANGE_WRITE = "change:write"
API = "/api/v1"
# An incident already in the state asked for is skipped when nothing but the move (and what goes
# with it: a reason, hold reason, resolution) was asked.
STATE_FIELDS = frozenset({"state", "reason", "hold_reason", "resolution_code", "resolution_notes"})


@dataclass(frozen=True)
class Preview:
    """A dry run's answer: what the call selects; nothing changed."""

    record_type: RecordType
    matched: int
    max_records: int
    background: bool
    ids: list[int]
    not_found: list[str]

    @property
    def within_limit(self) -> bool:
        return self.matched <= self.max_records


@dataclass(frozen=True)
class Step:
    """One chunk of a background job: how many records it processed, and whether it is done."""

    processed: int
    finished: bool


# ------------------------------------------------------------------------------ submitting


def _targets(ids: list[Any]) -> list[service.Target]:
    """The records named, each once (the first mention wins), in the order given."""
    seen: dict[str, service.Target] = {}
    for given in ids:
        if isinstance(given, IncidentTarget | ChangeTarget):
            target = service.Target(str(given.id).strip().upper(), given.version)
        else:
            target = service.Target(str(given).strip().upper())
        seen.setdefault(target.reference, target)
    return list(seen.values())


def _too_many(record_type: RecordType, matched: int, maximum: int) -> TooManyRecords:
    return TooManyRecords(
        f"This bulk update selects {matched} {record_type.value}s; one call may update at most "
        f"{maximum} (ITSM_BULK_MAX_RECORDS). Narrow the filter or split the ids.",
        matched=matched,
        max_records=maximum,
    )


def _request_record(request: BaseModel) -> dict[str, Any]:
    """The request as the job keeps it: only what was sent, so that a background job applies
    the same fields (an explicit null stays an explicit null)."""
    return request.model_dump(mode="json", exclude_unset=True)


def _submit(
    *,
    session: Session,
    record_type: RecordType,
    actor: User,
    request: IncidentBulkRequest | ChangeBulkRequest,
    targets: list[service.Target] | None,
    match: Callable[[int], tuple[int, list[int]]],
    visible: Callable[[str], int],
) -> Preview | BulkJob:
    settings = get_settings()
    maximum = settings.bulk_max_records
    not_found: list[str] = []
    if targets is None:
        matched, ids = match(maximum)
        targets = [service.Target(str(record_id)) for record_id in ids]
    else:
        matched = len(targets)
        ids = []
        if request.dry_run:
            for target in targets[:maximum]:
                try:
                    ids.append(visible(target.reference))
                except NotFound:
                    not_found.append(target.reference)
            matched -= len(not_found)
    background = request.background or matched > settings.bulk_background_threshold
    if request.dry_run:
        return Preview(record_type, matched, maximum, background, ids, not_found)
    if matched > maximum:
        raise _too_many(record_type, matched, maximum)
    job = service.create_job(
        session=session,
        record_type=record_type,
        actor=actor,
        request=_request_record(request),
        targets=targets,
        background=background,
    )
    if not background:
        run_inline(session=session, job=job, actor=actor)
    return job


def _visible_incident(session: Session, actor: User, reference: str) -> Incident:
    """The incident as its own routes find it: someone else's is a 404 to a requester."""
    incident = incidents_service.get_by_reference(session=session, reference=reference)
    if not incidents_service.is_visible_to(incident, actor):
        raise NotFound(f"Incident {reference} does not exist")
    return incident


def submit_incidents(
    *, session: Session, actor: User, request: IncidentBulkRequest
) -> Preview | BulkJob:
    """Preview (dry run), run now (few records) or queue for the worker (many) one bulk update
    of incidents. More than ``ITSM_BULK_MAX_RECORDS`` records: 422 ``too-many-records``."""
    return _submit(
        session=session,
        record_type=RecordType.incident,
        actor=actor,
        request=request,
        targets=_targets(request.ids) if request.ids is not None else None,
        match=lambda limit: incidents_service.matching_ids(
            session=session,
            viewer=actor,
            filters=request.filter,
            limit=limit,
            custom=request.filter.custom,
        ),
        visible=lambda reference: _visible_incident(session, actor, reference).id,
    )


def _change(session: Session, reference: str) -> Any:
    if not reference.isdigit():
        raise NotFound(f"There is no change {reference}; name changes by id")
    return change_records.get(session=session, change_id=int(reference))


def submit_changes(
    *, session: Session, actor: User, request: ChangeBulkRequest
) -> Preview | BulkJob:
    """As ``submit_incidents``, for changes."""
    return _submit(
        session=session,
        record_type=RecordType.change,
        actor=actor,
        request=request,
        targets=_targets(request.ids) if request.ids is not None else None,
        match=lambda limit: changes_service.matching_ids(
            session=session, filters=request.filter, limit=limit, custom=request.filter.custom
        ),
        visible=lambda reference: _change(session, reference).id,
    )


# ------------------------------------------------------------------------------ one record


def _problem(exc: DomainError, instance: str | None) -> dict[str, Any]:
    """The problem+json a single request would have answered with (core.errors' handler)."""
    body: dict[str, Any] = {
        "type": f"/problems/{exc.slug}",
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
    }
    if instance:
        body["instance"] = instance
    body.update(exc.extra)
    return json.loads(json.dumps(body, default=str))


def _database_problem(exc: Exception, instance: str | None) -> dict[str, Any]:
    if isinstance(exc, DataError):
        status, slug, title = 422, "validation-error", "Validation error"
        detail = "A value cannot be stored (for example a NUL character)."
    else:
        status, slug, title = 409, "conflict", "Conflict"
        detail = "The update conflicts with existing data (a duplicate or a missing reference)."
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail}
    return {**body, **({"instance": instance} if instance else {})}


def _may(actor: User, permission: str) -> None:
    """The job's caller, checked again for every record: a background job stops acting for
    someone who lost the permission or the account since."""
    if not actor.is_active:
        raise Forbidden("The account that started this bulk job is no longer active")
    if not has_permission(actor, permission):
        raise Forbidden(f"This needs the {permission!r} permission", permission=permission)


@dataclass
class _Found:
    """The record being processed, once found (for the result, also when it then fails)."""

    record_id: int | None = None
    number: str | None = None
    instance: str | None = None


def _incident(
    session: Session, actor: User, item: BulkJobItem, request: IncidentBulkRequest, found: _Found
) -> service.Result:
    _may(actor, INCIDENT_WRITE)
    incident = _visible_incident(session, actor, item.reference)
    found.record_id, found.number = incident.id, incident.number
    found.instance = f"{API}/incidents/{incident.id}"
    if service.processed_earlier(session=session, item=item, record_id=incident.id):
        return service.Result(Outcome.skipped, reason="listed twice")
    update, comment = request.update, request.comment
    fields = set(update.model_fields_set)
    if "priority" in fields:
        _may(actor, INCIDENT_OVERRIDE_PRIORITY)
    if item.expected_version is not None:
        check_version(
            current=incident.version, expected=item.expected_version, what=incident.number
        )
    before = incident.version
    already = update.state is not None and incident.state == update.state.value
    if already and not fields - STATE_FIELDS:
        # A closed or cancelled incident refuses every update (409): a move it already made
        # is not a failure but nothing to do.
        return service.Result(Outcome.skipped, reason=f"already {incident.state}", version=before)
    if fields:
        incident_flows.update(
            session=session,
            incident=incident,
            data=update,
            actor=actor,
            expected_version=item.expected_version or incident.version,
        )
        if incident.version == before:
            reason = f"already {incident.state}" if already else "nothing to change"
            return service.Result(Outcome.skipped, reason=reason, version=incident.version)
    if comment is not None:
        incident_flows.add_comment(
            session=session,
            incident=incident,
            actor=actor,
            body=comment.body,
            is_public=comment.is_public,
        )
    return service.Result(Outcome.updated, version=incident.version)


def _change_record(
    session: Session, actor: User, item: BulkJobItem, request: ChangeBulkRequest, found: _Found
) -> service.Result:
    _may(actor, CHANGE_WRITE)
    change = _change(session, item.reference)
    found.record_id, found.number = change.id, change.number
    found.instance = f"{API}/changes/{change.id}"
    if service.processed_earlier(session=session, item=item, record_id=change.id):
        return service.Result(Outcome.skipped, reason="listed twice")
    if item.expected_version is not None:
        check_version(current=change.version, expected=item.expected_version, what=change.number)
    before = change.version
    if request.update.model_fields_set:
        change = change_flows.update(
            session=session,
            change=change,
            data=request.update,
            expected_version=item.expected_version or change.version,
            actor=actor,
        )
    move = request.transition
    already = move is not None and change.state == ChangeState(move.to).value
    if move is not None and not already:
        change = change_flows.transition(
            session=session,
            change=change,
            target=move.to,
            expected_version=change.version,
            actor=actor,
            reason=move.reason,
        )
    if change.version == before:
        reason = f"already {change.state}" if already else "nothing to change"
        return service.Result(Outcome.skipped, reason=reason, version=change.version)
    return service.Result(Outcome.updated, version=change.version)


_PROCESSORS: dict[RecordType, tuple[type[BaseModel], Callable[..., service.Result]]] = {
    RecordType.incident: (IncidentBulkRequest, _incident),
    RecordType.change: (ChangeBulkRequest, _change_record),
}


def _process(
    session: Session, job: BulkJob, item: BulkJobItem, actor: User, request: BaseModel
) -> None:
    """One record, in its own savepoint; its outcome goes into the job's results."""
    processor = _PROCESSORS[RecordType(job.record_type)][1]
    found = _Found()
    try:
        with session.begin_nested(), events.attributed(session, data={"bulk_job_id": job.id}):
            result = processor(session, actor, item, request, found)
    except DomainError as exc:
        result = service.Result(Outcome.failed, problem=_problem(exc, found.instance))
    except (DataError, IntegrityError) as exc:
        logger.info("bulk job %s: %s refused by the database: %s", job.id, item.reference, exc)
        result = service.Result(Outcome.failed, problem=_database_problem(exc, found.instance))
    result = service.Result(
        result.outcome,
        record_id=found.record_id,
        number=found.number,
        version=result.version,
        reason=result.reason,
        problem=result.problem,
    )
    service.record_result(session=session, job=job, item=item, result=result)


def _request_of(job: BulkJob) -> BaseModel:
    return _PROCESSORS[RecordType(job.record_type)][0].model_validate(job.request)


def run_inline(*, session: Session, job: BulkJob, actor: User) -> BulkJob:
    """Every record of a small job, now, in the caller's transaction."""
    request = _request_of(job)
    for item in service.pending_items(session=session, job=job):
        _process(session, job, item, actor, request)
    service.finish(session=session, job=job)
    return job


# ------------------------------------------------------------------------- the worker's part


def next_job(*, session: Session, after_id: int = 0) -> int | None:
    """The next job the worker should carry on with (queued, or running and not held)."""
    return service.next_unfinished(session=session, after_id=after_id)


def work_on(
    *, session: Session, job_id: int, limit: int, now: datetime | None = None
) -> Step | None:
    """Up to ``limit`` more records of a background job, as its caller (with their permissions
    now), in the caller's transaction; None when another worker holds the job or it is over."""
    job = service.lock_unfinished(session=session, job_id=job_id)
    if job is None:
        return None
    now = now or datetime.now(UTC)
    service.start(session=session, job=job, now=now)
    actor = auth_service.get_user(session=session, user_id=job.actor_id)
    request = _request_of(job)
    items = service.pending_items(session=session, job=job, limit=limit)
    for item in items:
        _process(session, job, item, actor, request)
    finished = not service.has_pending(session=session, job=job)
    if finished:
        service.finish(session=session, job=job)
    return Step(processed=len(items), finished=finished)


def fail_job(*, session: Session, job_id: int, error: str) -> None:
    service.fail(session=session, job_id=job_id, error=error)
