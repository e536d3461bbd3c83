"""The agent workspace: queues, the incident page, and the create and edit forms."""

import contextlib
from typing import Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from operational.ui.api import Api, ApiError, Problem, problem_of
from operational.ui.sessions import BrowserSession
from operational.ui.web import SignedIn, api_for, check_csrf, redirect, refusal, render, store

router = APIRouter(dependencies=[Depends(check_csrf)])

OPEN_STATES = ["new", "assigned", "in_progress", "on_hold"]
QUEUE_FILTERS = ("scope", "team", "state", "priority", "q", "sort", "page", "size")
PAGE_SIZES = (25, 50, 100)
# Fields of the edit form, sent to PATCH as typed (the API validates them).
EDITABLE = (
    "title",
    "description",
    "category",
    "subcategory",
    "service",
    "configuration_item",
    "location",
    "impact",
    "urgency",
    "problem_ref",
    "change_ref",
)
NUMERIC = {"impact", "urgency", "priority", "assignment_group_id", "assignee_id"}
_choices_cache: dict[str, list[str]] = {}


def needs(session: BrowserSession, permission: str) -> Problem | None:
    """A screen whose every action needs ``permission`` is not shown without it (the API would
    refuse the actions anyway; this only spares the person a page of refusals)."""
    if permission in session.permissions:
        return None
    return Problem(403, "Not for your role", f"This page needs the {permission!r} permission.")


async def choices(api: Api, schema: str) -> list[str]:
    """An enum's values as the API documents them (its OpenAPI schema), not a copy of ours."""
    if not _choices_cache:
        response = await api._http.get("http://ui.internal/openapi.json")
        for name, body in response.json().get("components", {}).get("schemas", {}).items():
            if "enum" in body:
                _choices_cache[name] = [str(value) for value in body["enum"]]
    return _choices_cache.get(schema, [])


def _typed(form: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The form's fields as the API takes them: empty is null, numbers are numbers."""
    data: dict[str, Any] = {}
    for name in names:
        if name not in form:
            continue
        value = str(form.get(name, "")).strip()
        if value == "":
            data[name] = None
        elif name in NUMERIC and value.lstrip("-").isdigit():
            data[name] = int(value)
        else:
            data[name] = value
    return data


def queue_query(params: dict[str, Any], **changes: Any) -> str:
    merged = {**params, **changes}
    return urlencode(
        [(key, value) for key, value in merged.items() if value not in (None, "", [])], doseq=True
    )


@router.get("/queue")
async def queue(request: Request, session: SignedIn) -> Response:
    refused = needs(session, "incident:write")
    if refused:
        return refusal(request, refused, session)
    query = request.query_params
    scope = query.get("scope", "mine")
    states = query.getlist("state") or ([] if query.get("all") else OPEN_STATES)
    size = int(query.get("size", "25")) if query.get("size", "25").isdigit() else 25
    page = int(query.get("page", "1")) if query.get("page", "1").isdigit() else 1
    sort = query.get("sort") or "-priority,opened_at"
    teams = (session.me or {}).get("teams", [])
    team = query.get("team") or (str(teams[0]["team_id"]) if teams else "")
    api_params: list[tuple[str, Any]] = [("page", page), ("size", size), ("sort", sort)]
    api_params += [("state", state) for state in states]
    api_params += [("priority", p) for p in query.getlist("priority")]
    if query.get("q"):
        api_params.append(("q", query["q"]))
    if scope == "team":
        if team:
            api_params.append(("assignment_group_id", team))
    else:
        api_params.append(("assignee_id", session.user_id))
    params = {
        "scope": scope,
        "team": team if scope == "team" else "",
        "state": states,
        "priority": query.getlist("priority"),
        "q": query.get("q", ""),
        "sort": sort,
        "size": size,
        "all": "1" if query.get("all") else "",
    }
    async with api_for(request, session) as api:
        try:
            result = await api.get("/incidents", params=api_params)
        except ApiError as refused_error:
            if refused_error.problem.status in (400, 422):
                result = {"items": [], "total": 0, "page": 1, "size": size}
                error = refused_error.problem.detail
            else:
                return refusal(request, refused_error.problem, session)
        else:
            error = None
    context = {
        "result": result,
        "params": params,
        "page": page,
        "teams": teams,
        "error": error,
        "query": lambda **changes: queue_query(params, **changes),
        "saved": await anyio.to_thread.run_sync(store(request).saved_filters, session.user_id or 0),
        "current_query": request.url.query,
        "all_states": [
            "new",
            "assigned",
            "in_progress",
            "on_hold",
            "resolved",
            "closed",
            "cancelled",
        ],
    }
    return render(request, "queue.html", context, session=session)


@router.post("/queue/filters")
async def save_filter(request: Request, session: SignedIn) -> Response:
    form = await request.form()
    name = str(form.get("name", "")).strip()[:60]
    query = str(form.get("query", ""))
    if name:
        await anyio.to_thread.run_sync(
            store(request).save_filter, session.user_id or 0, name, query
        )
        session.flash.append(f"Saved the filter “{name}”.")
    return redirect(f"/ui/queue?{query}" if query else "/ui/queue", request)


@router.post("/queue/filters/delete")
async def delete_filter(request: Request, session: SignedIn) -> Response:
    form = await request.form()
    await anyio.to_thread.run_sync(
        store(request).delete_filter, session.user_id or 0, str(form.get("name", ""))
    )
    return redirect("/ui/queue", request)


async def _team_options(api: Api) -> list[dict[str, Any]]:
    try:
        return (await api.get("/teams", params={"size": 100}))["items"]
    except ApiError:
        return []


async def _incident_context(api: Api, session: BrowserSession, ref: str) -> dict[str, Any]:
    incident = await api.get(f"/incidents/{ref}")
    number = incident["id"]
    comments = await api.get(f"/incidents/{number}/comments")
    context: dict[str, Any] = {"incident": incident, "comments": comments}
    agent = "incident:write" in session.permissions
    context["agent"] = agent
    if agent:
        context["timeline"] = await api.get(f"/incidents/{number}/timeline")
        context["teams"] = await _team_options(api)
        group = incident.get("assignment_group_id")
        context["members"] = []
        if group:
            with contextlib.suppress(ApiError):
                context["members"] = (await api.get(f"/teams/{group}"))["members"]
        context["resolution_codes"] = await choices(api, "ResolutionCode")
        context["hold_reasons"] = await choices(api, "NativeHoldReason")
    else:
        try:
            context["survey"] = await api.get(f"/incidents/{number}/csat")
        except ApiError:
            context["survey"] = None
    return context


@router.get("/incidents/new")
async def new_incident(request: Request, session: SignedIn) -> Response:
    refused = needs(session, "incident:write")
    if refused:
        return refusal(request, refused, session)
    async with api_for(request, session) as api:
        teams = await _team_options(api)
        channels = await choices(api, "Channel")
    return render(
        request,
        "incident_new.html",
        {
            "form": {"impact": "3", "urgency": "3", "channel": "phone"},
            "errors": {},
            "teams": teams,
            "channels": channels,
        },
        session=session,
    )


CREATE_FIELDS = (
    "title",
    "description",
    "channel",
    "category",
    "service",
    "configuration_item",
    "impact",
    "urgency",
    "assignment_group_id",
)


@router.post("/incidents")
async def create_incident(request: Request, session: SignedIn) -> Response:
    form = await request.form()
    data = {key: value for key, value in _typed(form, CREATE_FIELDS).items() if value is not None}
    async with api_for(request, session) as api:
        try:
            created = await api.post("/incidents", json=data)
        except ApiError as refused:
            if refused.problem.status != 422:
                return refusal(request, refused.problem, session)
            return render(
                request,
                "incident_new.html",
                {
                    "form": dict(form),
                    "errors": refused.problem.field_errors,
                    "error": refused.problem.detail,
                    "teams": await _team_options(api),
                    "channels": await choices(api, "Channel"),
                },
                session=session,
                status_code=422,
            )
    session.flash.append(f"Raised {created['number']}.")
    return redirect(f"/ui/incidents/{created['number']}", request)


@router.get("/incidents/{ref}")
async def incident_page(request: Request, ref: str, session: SignedIn) -> Response:
    async with api_for(request, session) as api:
        try:
            context = await _incident_context(api, session, ref)
        except ApiError as refused:
            return refusal(request, refused.problem, session)
    template = "incident.html" if context["agent"] else "portal_ticket.html"
    return render(request, template, context, session=session)


async def _patch(
    request: Request, session: BrowserSession, ref: str, data: dict[str, Any], form: Any
) -> Response:
    """PATCH with the version the page was read at; a refusal re-renders the page with it."""
    version = str(form.get("version", ""))
    async with api_for(request, session) as api:
        response = await api.send(
            "PATCH", f"/incidents/{ref}", json=data, headers={"If-Match": f'"{version}"'}
        )
        if response.is_success:
            return redirect(f"/ui/incidents/{response.json()['number']}", request)
        problem = problem_of(response)
        if problem.status not in (400, 409, 412, 422):
            return refusal(request, problem, session)
        try:
            context = await _incident_context(api, session, ref)
        except ApiError as refused:
            return refusal(request, refused.problem, session)
    context.update(
        problem=problem,
        errors=problem.field_errors,
        typed=dict(form),
        stale=problem.status == 412,
        editing=form.get("action") == "edit",
    )
    return render(request, "incident.html", context, session=session, status_code=problem.status)


@router.post("/incidents/{ref}/move")
async def move(request: Request, ref: str, session: SignedIn) -> Response:
    form = await request.form()
    data: dict[str, Any] = {"state": str(form.get("state", ""))}
    for name in ("resolution_code", "resolution_notes", "hold_reason", "reason"):
        if str(form.get(name, "")).strip():
            data[name] = str(form[name]).strip()
    return await _patch(request, session, ref, data, form)


@router.post("/incidents/{ref}/assign")
async def assign(request: Request, ref: str, session: SignedIn) -> Response:
    form = await request.form()
    if form.get("to_me"):
        data: dict[str, Any] = {"assignee_id": session.user_id}
    else:
        data = _typed(form, ("assignment_group_id", "assignee_id"))
    return await _patch(request, session, ref, data, form)


def _plain(value: Any) -> str:
    # Browsers send a textarea's line breaks as CRLF.
    return str(value).replace("\r\n", "\n").strip()


@router.post("/incidents/{ref}/edit")
async def edit(request: Request, ref: str, session: SignedIn) -> Response:
    """Sends only the fields the person changed from what the page showed them, so saving
    again after a 412 keeps the other person's changes to the fields they left alone."""
    form = await request.form()
    changed = tuple(
        name
        for name in EDITABLE
        if name in form and _plain(form[name]) != _plain(form.get(f"original_{name}", ""))
    )
    kept = {key: value for key, value in form.items() if key in changed or key in ("version",)}
    kept["action"] = "edit"
    return await _patch(request, session, ref, _typed(form, changed), kept)


@router.post("/incidents/{ref}/comments")
async def comment(request: Request, ref: str, session: SignedIn) -> Response:
    form = await request.form()
    body = {"body": str(form.get("body", "")), "is_public": form.get("work_note") is None}
    async with api_for(request, session) as api:
        response = await api.send("POST", f"/incidents/{ref}/comments", json=body)
    if not response.is_success:
        problem = problem_of(response)
        if problem.status != 422:
            return refusal(request, problem, session)
        session.flash.append("The comment was not added: " + problem.detail)
    return redirect(f"/ui/incidents/{ref}#comments", request)


@router.get("/shortcuts")
async def shortcuts(request: Request, session: SignedIn) -> Response:
    return render(request, "shortcuts.html", {}, session=session)
