"""Who the stream is for: the bearer token (header), or the same token as ``access_token`` in
the query string (a browser's EventSource cannot send headers)."""

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials

from operational.auth.dependencies import authenticate, bearer
from operational.core.db import DbSession


def _stream_user(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    access_token: Annotated[
        str | None,
        Query(
            max_length=4096, description="The access token, for clients that cannot send headers"
        ),
    ] = None,
) -> int:
    """The signed-in user's id. The request's transaction ends here: a stream holds no database
    session for its hours (its own reads open short ones)."""
    token = credentials.credentials if credentials is not None else access_token
    user = authenticate(request, session, token)
    session.commit()
    return user.id


_stream_user.authenticated_only = True  # type: ignore[attr-defined]  # the RBAC marker

StreamUserId = Annotated[int, Depends(_stream_user)]
