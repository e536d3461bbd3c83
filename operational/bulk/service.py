"""Bulk jobs: the only writer of ``bulk_jobs`` and ``bulk_job_items``.

A job is created with its records (``items``), in the order named; each item gets its outcome
once processed, and the job's counters follow. Records are updated by ``operational.bulk.flows``
through each domain's own flows; this module only keeps the books.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from operational.auth.models import User
from operational.bulk.enums import JobStatus, Outcome, RecordType
from operational.bulk.models import BulkJob, BulkJobItem
from operational.core.db import insert_rows
from operational.core.errors import NotFound
from operational.core.pagination import Page, PageParams, paginate

JOB_SORTABLE = {"id": BulkJob.id, "created_at": BulkJob.created_at, "status": BulkJob.status}
RESULT_SORTABLE = {"position": BulkJobItem.position, "processed_at": BulkJobItem.processed_at}


@dataclass(frozen=True)
class Target:
    """A record a job names: as the caller named it, with the version they read (if given)."""

    reference: str
    version: int | None = None


@dataclass(frozen=True)
class Result:
    """What happened to one record."""

    outcome: Outcome
    record_id: int | None = None
    number: str | None = None
    version: int | None = None
    reason: str | None = None
    problem: dict[str, Any] | None = None


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def create_job(
    *,
    session: Session,
    record_type: RecordType,
    actor: User,
    request: dict[str, Any],
    targets: Sequence[Target],
    background: bool,
    now: datetime | None = None,
) -> BulkJob:
    """A job over ``targets``: queued for the worker (``background``), or running now."""
    now = _now(now)
    job = BulkJob(
        record_type=record_type.value,
        status=(JobStatus.queued if background else JobStatus.running).value,
        actor_id=actor.id,
        background=background,
        request=request,
        total=len(targets),
        processed=0,
        updated=0,
        skipped=0,
        failed=0,
        created_at=now,
        started_at=None if background else now,
    )
    session.add(job)
    session.flush()
    if targets:
        insert_rows(
            session,
            BulkJobItem.__table__,
            [
                {
                    "job_id": job.id,
                    "position": position,
                    "reference": target.reference,
                    "expected_version": target.version,
                }
                for position, target in enumerate(targets)
            ],
        )
    return job


def get_job(*, session: Session, job_id: int) -> BulkJob:
    job = session.get(BulkJob, job_id)
    if job is None:
        raise NotFound(f"There is no bulk job {job_id}")
    return job


def visible_job(*, session: Session, job_id: int, viewer: User) -> BulkJob:
    """The job, for the one who started it; anyone else's is a 404, like a missing one."""
    job = session.get(BulkJob, job_id)
    if job is None or job.actor_id != viewer.id:
        raise NotFound(f"There is no bulk job {job_id}")
    return job


def list_jobs(*, session: Session, viewer: User, params: PageParams) -> Page[Any]:
    """The viewer's own jobs, newest first."""
    return paginate(
        session,
        select(BulkJob).where(BulkJob.actor_id == viewer.id),
        params,
        sortable=JOB_SORTABLE,
        default_sort=[BulkJob.id.desc()],
    )


def results(
    *, session: Session, job: BulkJob, params: PageParams, outcome: Outcome | None = None
) -> Page[Any]:
    """The records processed so far, in the order they were named."""
    statement = select(BulkJobItem).where(
        BulkJobItem.job_id == job.id, BulkJobItem.outcome.is_not(None)
    )
    if outcome is not None:
        statement = statement.where(BulkJobItem.outcome == outcome.value)
    return paginate(
        session,
        statement,
        params,
        sortable=RESULT_SORTABLE,
        default_sort=[BulkJobItem.position],
    )


def pending_items(*, session: Session, job: BulkJob, limit: int | None = None) -> list[BulkJobItem]:
    """The job's records not processed yet, in order."""
    statement = (
        select(BulkJobItem)
        .where(BulkJobItem.job_id == job.id, BulkJobItem.outcome.is_(None))
        .order_by(BulkJobItem.position)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return list(session.scalars(statement).all())


def has_pending(*, session: Session, job: BulkJob) -> bool:
    return bool(
        session.scalar(
            select(exists().where(BulkJobItem.job_id == job.id, BulkJobItem.outcome.is_(None)))
        )
    )


def processed_earlier(*, session: Session, item: BulkJobItem, record_id: int) -> bool:
    """Whether the job already processed the record under another name (an id and a number)."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    BulkJobItem.job_id == item.job_id,
                    BulkJobItem.record_id == record_id,
                    BulkJobItem.position < item.position,
                    BulkJobItem.outcome.is_not(None),
                )
            )
        )
    )


def record_result(
    *,
    session: Session,
    job: BulkJob,
    item: BulkJobItem,
    result: Result,
    now: datetime | None = None,
) -> None:
    item.outcome = result.outcome.value
    item.record_id = result.record_id
    item.number = result.number
    item.version = result.version
    item.reason = result.reason
    item.problem = result.problem
    item.processed_at = _now(now)
    job.processed += 1
    if result.outcome == Outcome.updated:
        job.updated += 1
    elif result.outcome == Outcome.skipped:
        job.skipped += 1
    else:
        job.failed += 1
    session.flush()


def next_unfinished(*, session: Session, after_id: int = 0) -> int | None:
    """The oldest queued or running job after ``after_id`` that no worker holds now."""
    return session.scalar(
        select(BulkJob.id)
        .where(
            BulkJob.status.in_([JobStatus.queued.value, JobStatus.running.value]),
            BulkJob.id > after_id,
        )
        .order_by(BulkJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def lock_unfinished(*, session: Session, job_id: int) -> BulkJob | None:
    """The job, locked for one chunk of work; None when it is finished or another worker holds
    it (that one carries on)."""
    locked = session.scalar(
        select(BulkJob.id)
        .where(
            BulkJob.id == job_id,
            BulkJob.status.in_([JobStatus.queued.value, JobStatus.running.value]),
        )
        .with_for_update(skip_locked=True)
    )
    if locked is None:
        return None
    return session.get(BulkJob, job_id, populate_existing=True)


def start(*, session: Session, job: BulkJob, now: datetime | None = None) -> None:
    now = _now(now)
    if job.status == JobStatus.queued:
        job.status = JobStatus.running.value
        job.started_at = now
    job.heartbeat_at = now
    session.flush()


def finish(*, session: Session, job: BulkJob, now: datetime | None = None) -> None:
    job.status = JobStatus.done.value
    job.finished_at = _now(now)
    session.flush()


def fail(*, session: Session, job_id: int, error: str, now: datetime | None = None) -> None:
    """The job itself stopped (not one record): its remaining records stay unprocessed."""
    job = session.get(BulkJob, job_id)
    if job is None or job.status not in (JobStatus.queued, JobStatus.running):
        return
    job.status = JobStatus.failed.value
    job.error = error
    job.finished_at = _now(now)
    session.flush()
