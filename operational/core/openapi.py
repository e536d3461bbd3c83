"""Every route's error responses in the OpenAPI document, as RFC 9457 problems.

Errors are answered by one handler (``operational.core.errors``) as ``application/problem+json``.
The document says so for every operation, with one shared ``Problem`` schema, and lists the
status codes each route can give. They are derived from what the route is made of, so that a new
route is documented without anyone listing its codes by hand:

- every route: 422 (the request does not validate; an unknown query parameter is refused
  everywhere, operational/core/limits.py);
- a request body: 413 (larger than ``ITSM_MAX_REQUEST_BYTES``) and 422;
- a path parameter: 404 (nothing there, or nothing the caller may see);
- an authorization dependency (auth's markers ``required_permission``, ``authenticated_only``):
  401 (no valid token) and 403 (not allowed);
- a write method (POST, PUT, PATCH, DELETE): 400 (a request the domain refuses as malformed) and
  409 (it conflicts with the data: a duplicate, a state that forbids it);
- a dependency marked with ``problem_statuses``: those codes (If-Match: 400, 412, 428; a list's
  ``PageQuery``: 400 for an unknown sort field);
- ``responses=problems(410, ...)`` on the route: the codes only its domain knows.

A dependency declares its own codes with ``declare_problems(function, 412, 428)``; a route adds
the ones only its domain knows with ``responses=problems(410)``. The schemathesis test
(tests/test_fuzz.py) fails on any status code a route gives that its document does not list.
"""

from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field

from operational.core.errors import PROBLEM_JSON

PROBLEM_SCHEMA = "Problem"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Markers that auth's dependencies carry (operational/auth/dependencies.py): read by name, so
# that core needs no domain.
AUTH_MARKERS = ("required_permission", "authenticated_only")
STATUS_ATTRIBUTE = "problem_statuses"


class Problem(BaseModel):
    """An RFC 9457 problem. Extension members (``errors``, ``allowed``, ``current_version``, ...)
    add detail for the cases that have it."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="/problems/<slug>, or about:blank")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="The path of the request")


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route decorator: problems only this route's domain can give."""
    return {status: {"description": HTTPStatus(status).phrase} for status in statuses}


def declare_problems(function: Callable[..., Any], *statuses: int) -> Callable[..., Any]:
    """Mark a dependency with the problem status codes it raises; returns it."""
    function.problem_statuses = statuses  # type: ignore[attr-defined]
    return function


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def route_problems(route: Any, method: str) -> set[int]:
    """The problem status codes ``route`` (an APIRoute, or FastAPI's RouteContext of one) can
    answer ``method`` with."""
    dependant = route.dependant
    statuses = {int(code) for code in route.responses if str(code).isdigit() and int(code) >= 400}
    has_path = bool(dependant.path_params) or any(
        sub.path_params for sub in _sub_dependants(dependant)
    )
    statuses.add(422)
    if route.body_field is not None:
        statuses |= {413, 422}
    if has_path:
        statuses.add(404)
    if method in WRITE_METHODS:
        statuses |= {400, 409}
    for call in _calls(dependant):
        if any(hasattr(call, marker) for marker in AUTH_MARKERS):
            statuses |= {401, 403}
        statuses |= set(getattr(call, STATUS_ATTRIBUTE, ()))
    return statuses


def _sub_dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _sub_dependants(sub)


def _has_parameters(dependant: Dependant) -> bool:
    own = dependant.query_params or dependant.header_params or dependant.cookie_params
    return bool(own) or any(_has_parameters(sub) for sub in dependant.dependencies)


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}}},
    }


def document_problems(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document list every route's problems (see the module's table)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components[PROBLEM_SCHEMA] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            for method in route.methods:
                operation = document["paths"][route.path_format].get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status in sorted(route_problems(route, method)):
                    declared = responses.get(str(status), {})
                    phrase = HTTPStatus(status).phrase
                    if status == 422:
                        phrase = "The request does not validate (see errors)"
                    responses[str(status)] = _problem_response(
                        declared.get("description") or phrase
                    )
        # FastAPI's own validation-error schemas are replaced by the problem.
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
