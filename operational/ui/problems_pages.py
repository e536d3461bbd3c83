"""Problems: the list (filters, sort and page in the URL), a problem with its linked incidents,
known error and timeline, its allowed moves, and the create and edit forms."""

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from operational.ui.api import Api, ApiError, problem_of
from operational.ui.sessions import BrowserSession
from operational.ui.web import SignedIn, api_for, check_csrf, redirect, refusal, render
from operational.ui.workspace import choices, needs

router = APIRouter(dependencies=[Depends(check_csrf)])

PAGE_SIZES = (25, 50, 100)
SORTABLE = ("number", "title", "priority", "state", "updated_at")
# The fields of the create and edit forms, sent to the API as typed (it validates them).
TEXT_FIELDS = ("title", "description", "service", "category", "symptom")
RCA_FIELDS = ("root_cause", "root_cause_category", "fix_notes", "workaround")
LEVELS = ("impact", "urgency")
HISTORY_SIZE = 100


def _number(value: str, default: int, allowed: tuple[int, ...] = ()) -> int:
    number = int(value) if value.isdigit() and int(value) > 0 else default
    return number if not allowed or number in allowed else default


def _form_data(form: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The form's fields as the API takes them: empty is null, levels are numbers."""
    data: dict[str, Any] = {}
    for name in names:
        if name not in form:
            continue
        value = str(form.get(name, "")).replace("\r\n", "\n").strip()
        if value == "":
            data[name] = None
        elif name in LEVELS and value.isdigit():
            data[name] = int(value)
        else:
            data[name] = value
    return data


@router.get("/problems")
async def problem_list(request: Request, session: SignedIn) -> Response:
    refused = needs(session, "problem:read")
    if refused:
        return refusal(request, refused, session)
    query = request.query_params
    size = _number(query.get("size", "25"), 25, PAGE_SIZES)
    page = _number(query.get("page", "1"), 1)
    sort = query.get("sort") or "-updated_at"
    if sort.lstrip("-") not in SORTABLE:
        sort = "-updated_at"
    params: dict[str, Any] = {
        "state": query.getlist("state"),
        "priority": query.getlist("priority"),
        "known_error": query.get("known_error", ""),
        "q": query.get("q", ""),
        "sort": sort,
        "size": size,
    }
    api_params = [
        (key, value)
        for key, value in {**params, "page": page}.items()
        for value in (value if isinstance(value, list) else [value])
        if value not in (None, "")
    ]
    async with api_for(request, session) as api:
        error = None
        try:
            result = await api.get("/problems", params=api_params)
        except ApiError as refused_error:
            if refused_error.problem.status not in (400, 422):
                return refusal(request, refused_error.problem, session)
            result = {"items": [], "total": 0, "page": 1, "size": size}
            error = refused_error.problem.detail
        states = await choices(api, "ProblemState")

    def link(**changes: Any) -> str:
        merged = {**params, "page": page, **changes}
        return urlencode([(k, v) for k, v in merged.items() if v not in (None, "", [])], doseq=True)

    return render(
        request,
        "problems.html",
        {
            "result": result,
            "params": params,
            "page": page,
            "error": error,
            "query": link,
            "all_states": states,
            "current_query": request.url.query,
        },
        session=session,
    )


async def _problem_context(api: Api, ref: str) -> dict[str, Any]:
    problem = await api.get(f"/problems/{ref}")
    number = problem["id"]
    linked = await api.get(f"/problems/{number}/incidents", params={"size": 100})
    history = await api.get(
        f"/problems/{number}/history", params={"size": HISTORY_SIZE, "sort": "-seq"}
    )
    return {
        "problem": problem,
        "linked": linked,
        "history": history,
        "root_cause_categories": await choices(api, "RootCauseCategory"),
    }


@router.get("/problems/new")
async def new_problem(request: Request, session: SignedIn) -> Response:
    refused = needs(session, "problem:write")
    if refused:
        return refusal(request, refused, session)
    return render(
        request,
        "problem_new.html",
        {"form": {"impact": "3", "urgency": "3"}, "errors": {}},
        session=session,
    )


@router.post("/problems")
async def create_problem(request: Request, session: SignedIn) -> Response:
    form = await request.form()
    data = {
        key: value
        for key, value in _form_data(form, (*TEXT_FIELDS, *LEVELS)).items()
        if value is not None
    }
    async with api_for(request, session) as api:
        response = await api.send("POST", "/problems", json=data)
    if response.is_success:
        created = response.json()
        session.flash.append(f"Opened {created['number']}.")
        return redirect(f"/ui/problems/{created['number']}", request)
    problem = problem_of(response)
    if problem.status != 422:
        return refusal(request, problem, session)
    return render(
        request,
        "problem_new.html",
        {"form": dict(form), "errors": problem.field_errors, "error": problem.detail},
        session=session,
        status_code=422,
    )


@router.get("/problems/{ref}")
async def problem_page(request: Request, ref: str, session: SignedIn) -> Response:
    refused = needs(session, "problem:read")
    if refused:
        return refusal(request, refused, session)
    async with api_for(request, session) as api:
        try:
            context = await _problem_context(api, ref)
        except ApiError as refused_error:
            return refusal(request, refused_error.problem, session)
    return render(request, "problem.html", context, session=session)


async def _write(
    request: Request,
    session: BrowserSession,
    ref: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    form: Any,
) -> Response:
    """A write with the version the page was read at; a refusal re-renders the page with the
    API's message (and its 422s beside the fields they name)."""
    async with api_for(request, session) as api:
        response = await api.send(
            method, path, json=body, headers={"If-Match": f'"{form.get("version", "")}"'}
        )
        if response.is_success:
            return redirect(f"/ui/problems/{response.json()['number']}", request)
        problem = problem_of(response)
        if problem.status not in (400, 409, 412, 422):
            return refusal(request, problem, session)
        try:
            context = await _problem_context(api, ref)
        except ApiError as refused_error:
            return refusal(request, refused_error.problem, session)
    errors = problem.field_errors
    for name in problem.body.get("missing") or []:
        # A move the problem lacks fields for: the API names them (ProblemIncomplete).
        errors.setdefault(str(name), "is needed for this move")
    context.update(
        api_problem=problem,
        errors=errors,
        typed=dict(form),
        stale=problem.status == 412,
        editing=form.get("action") == "edit",
    )
    return render(request, "problem.html", context, session=session, status_code=problem.status)


@router.post("/problems/{ref}/move")
async def move(request: Request, ref: str, session: SignedIn) -> Response:
    form = await request.form()
    body: dict[str, Any] = {"to": str(form.get("to", ""))}
    if str(form.get("reason", "")).strip():
        body["reason"] = str(form["reason"]).strip()
    return await _write(request, session, ref, "POST", f"/problems/{ref}/transition", body, form)


@router.post("/problems/{ref}/edit")
async def edit(request: Request, ref: str, session: SignedIn) -> Response:
    """Sends only the fields the person changed from what the page showed them."""
    form = await request.form()
    names = (*TEXT_FIELDS, *RCA_FIELDS, *LEVELS)
    changed = tuple(
        name
        for name in names
        if name in form
        and str(form[name]).replace("\r\n", "\n").strip()
        != str(form.get(f"original_{name}", "")).replace("\r\n", "\n").strip()
    )
    kept = {key: value for key, value in form.items() if key in changed or key == "version"}
    kept["action"] = "edit"
    return await _write(
        request, session, ref, "PATCH", f"/problems/{ref}", _form_data(form, changed), kept
    )


@router.post("/problems/{ref}/known-error")
async def known_error(request: Request, ref: str, session: SignedIn) -> Response:
    form = await request.form()
    if form.get("retract"):
        return await _write(
            request, session, ref, "DELETE", f"/problems/{ref}/known-error", None, form
        )
    body = {"workaround": str(form.get("workaround", "")).strip() or None}
    return await _write(request, session, ref, "PUT", f"/problems/{ref}/known-error", body, form)
