"""Lookups that 404: a bulk job is seen only by the one who started it."""

from typing import Annotated

from fastapi import Depends, Path

from operational.auth.dependencies import CurrentUser
from operational.bulk import service
from operational.bulk.models import BulkJob
from operational.core.db import DbSession


def _own_job(
    job_id: Annotated[int, Path(ge=1, le=2**63 - 1)], session: DbSession, user: CurrentUser
) -> BulkJob:
    return service.visible_job(session=session, job_id=job_id, viewer=user)


OwnBulkJob = Annotated[BulkJob, Depends(_own_job)]
