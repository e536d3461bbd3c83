from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from operational.auth.dependencies import authenticated, require
from operational.auth.models import User
from operational.bulk import flows, service
from operational.bulk.dependencies import OwnBulkJob
from operational.bulk.enums import Outcome
from operational.bulk.models import BulkJob
from operational.bulk.schemas import (
    BulkJobPage,
    BulkJobRead,
    BulkPreview,
    BulkResultPage,
    BulkResultRead,
    ChangeBulkRequest,
    IncidentBulkRequest,
)
from operational.core.db import DbSession
from operational.core.openapi import problems
from operational.core.pagination import PageParams, PageQuery

router = APIRouter(tags=["bulk"])

_SUBMIT_DESCRIPTION = (
    "Select records by `ids` or by `filter` (the list's filters), and apply one update to each, "
    "record by record, as its single update would: permissions, workflow (409), validation "
    "(422) and versions (412) are checked per record, and one record's failure undoes only "
    "that record. Up to ITSM_BULK_MAX_RECORDS records per call (422 `too-many-records`); "
    "`dry_run` counts and lists them without changing anything. Up to "
    "ITSM_BULK_BACKGROUND_THRESHOLD records run now (200, with the results); more run in the "
    "worker (202, the job to poll at its `url`). See docs/bulk.md."
)


def _answer(
    outcome: flows.Preview | BulkJob, session: DbSession, response: Response
) -> BulkJobRead | BulkPreview:
    if isinstance(outcome, flows.Preview):
        return BulkPreview(
            record_type=outcome.record_type,
            matched=outcome.matched,
            max_records=outcome.max_records,
            within_limit=outcome.within_limit,
            background=outcome.background,
            ids=outcome.ids,
            not_found=outcome.not_found,
        )
    read = _job_read(outcome, session, PageParams(size=500))
    response.headers["Location"] = read.url
    if outcome.background:
        response.status_code = status.HTTP_202_ACCEPTED
    return read


def _job_read(
    job: BulkJob, session: DbSession, page: PageParams, outcome: Outcome | None = None
) -> BulkJobRead:
    read = BulkJobRead.model_validate(job)
    found = service.results(session=session, job=job, params=page, outcome=outcome)
    read.results = BulkResultPage(
        items=[BulkResultRead.model_validate(item) for item in found.items],
        total=found.total,
        page=found.page,
        size=found.size,
    )
    return read


@router.post(
    "/incidents/bulk",
    summary="Update many incidents at once (ids or a filter; dry run; background above a size)",
    description=_SUBMIT_DESCRIPTION,
    responses={202: {"description": "Queued as a background job"}, **problems(422)},
)
def bulk_update_incidents(
    user: Annotated[User, require("incident:write")],
    data: IncidentBulkRequest,
    session: DbSession,
    response: Response,
) -> BulkJobRead | BulkPreview:
    return _answer(
        flows.submit_incidents(session=session, actor=user, request=data), session, response
    )


@router.post(
    "/changes/bulk",
    summary="Update or move many changes at once (ids or a filter; dry run; background)",
    description=_SUBMIT_DESCRIPTION,
    responses={202: {"description": "Queued as a background job"}, **problems(422)},
)
def bulk_update_changes(
    user: Annotated[User, require("change:write")],
    data: ChangeBulkRequest,
    session: DbSession,
    response: Response,
) -> BulkJobRead | BulkPreview:
    return _answer(
        flows.submit_changes(session=session, actor=user, request=data), session, response
    )


@router.get("/bulk-jobs", summary="Your bulk jobs, newest first")
def list_bulk_jobs(
    user: Annotated[User, authenticated], session: DbSession, page: PageQuery
) -> BulkJobPage:
    return service.list_jobs(session=session, viewer=user, params=page).map(
        BulkJobRead.model_validate
    )


@router.get(
    "/bulk-jobs/{job_id}",
    summary="A bulk job: status, progress, and its results a page at a time",
    dependencies=[authenticated],
)
def get_bulk_job(
    job: OwnBulkJob,
    session: DbSession,
    page: PageQuery,
    outcome: Annotated[Outcome | None, Query(description="Only results with this outcome")] = None,
) -> BulkJobRead:
    return _job_read(job, session, page, outcome)
