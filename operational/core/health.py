from fastapi import APIRouter
from sqlalchemy import text

from operational.core.access import public
from operational.core.db import DbSession
from operational.core.errors import problem

router = APIRouter(tags=["health"], dependencies=[public])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the database answers", response_model=None)
def readyz(session: DbSession):
    try:
        session.execute(text("select 1"))
    except Exception:
        return problem(503, detail="The database does not answer")
    return {"status": "ready", "database": "ok"}
