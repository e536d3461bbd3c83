"""Domain exceptions and the one handler that turns every error into RFC 9457 problem+json.

Services raise the exceptions below; they never raise ``HTTPException``. Anything unexpected is
logged with its traceback and answered as a plain 500 problem without internals.
"""

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("operational.errors")

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """Base of every expected error. ``extra`` becomes problem+json extension members."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class BadRequest(DomainError):
    pass


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str = "Missing or invalid credentials", **extra: Any):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extra)


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class InvalidTransition(Conflict):
    slug, title = "invalid-transition", "Transition not allowed"

    def __init__(self, current: str, requested: str, allowed: list[str], **extra: Any):
        names = ", ".join(allowed) or "none"
        super().__init__(
            f"Cannot move from {current!r} to {requested!r}; allowed: {names}",
            current=current,
            requested=requested,
            allowed=allowed,
            **extra,
        )


class PreconditionFailed(DomainError):
    status, slug, title = 412, "stale-version", "Precondition failed"


class PreconditionRequired(DomainError):
    status, slug, title = 428, "version-required", "Precondition required"


class Locked(DomainError):
    status, slug, title = 423, "locked", "Locked"


class UnprocessableEntity(DomainError):
    status, slug, title = 422, "validation-error", "Validation error"


class TooManyRequests(DomainError):
    status, slug, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, *, retry_after_seconds: int, **extra: Any):
        super().__init__(
            detail,
            headers={"Retry-After": str(retry_after_seconds)},
            retry_after=retry_after_seconds,
            **extra,
        )


def problem(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    slug: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
    return problem(
        exc.status,
        title=exc.title,
        detail=exc.detail,
        slug=exc.slug,
        instance=request.url.path,
        headers=exc.headers,
        **exc.extra,
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return problem(
        exc.status_code,
        detail=str(exc.detail) if exc.detail else None,
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {
            "location": [str(part) for part in error.get("loc", ())],
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
    return problem(
        422,
        title="Validation error",
        slug="validation-error",
        detail="The request is not valid; see errors.",
        instance=request.url.path,
        errors=errors,
    )


async def _database_data_error(request: Request, exc: DataError) -> JSONResponse:
    # Input PostgreSQL cannot store (a NUL character, an out-of-range number) that slipped past
    # validation: the client's fault, so a 422 without database internals.
    logger.info("database refused a value on %s: %s", request.url.path, exc.orig)
    return problem(
        422,
        title="Validation error",
        slug="validation-error",
        detail="A value in the request cannot be stored (for example a NUL character).",
        instance=request.url.path,
    )


async def _database_integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
    # A uniqueness or reference rule the service did not check first, e.g. a concurrent duplicate.
    logger.info("integrity error on %s: %s", request.url.path, exc.orig)
    return problem(
        409,
        title="Conflict",
        slug="conflict",
        detail="The request conflicts with existing data (a duplicate or a missing reference).",
        instance=request.url.path,
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(
        500,
        title="Internal server error",
        detail="An unexpected error occurred. It has been logged.",
        instance=request.url.path,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DataError, _database_data_error)
    app.add_exception_handler(IntegrityError, _database_integrity_error)
    app.add_exception_handler(Exception, _unexpected_error)
