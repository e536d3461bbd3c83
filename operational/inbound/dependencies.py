"""Lookups that 404, and the raw body a webhook's signature is computed over."""

from typing import Annotated

from fastapi import Depends, Path, Request

from operational.auth.dependencies import DatabaseId
from operational.core.db import DbSession
from operational.inbound import service
from operational.inbound.models import InboundSource


def _target_source(source_id: DatabaseId, session: DbSession) -> InboundSource:
    return service.get_source(session=session, source_id=source_id)


def _active_source(
    source: Annotated[str, Path(max_length=64, description="The source's registered name")],
    session: DbSession,
) -> InboundSource:
    return service.active_source(session=session, name=source)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


TargetSource = Annotated[InboundSource, Depends(_target_source)]
ActiveSource = Annotated[InboundSource, Depends(_active_source)]
RawBody = Annotated[bytes, Depends(_raw_body)]
