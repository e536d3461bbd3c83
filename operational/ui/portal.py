"""The self-service portal: my tickets, raising one, the CSAT survey, the catalog and the
knowledge base."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from operational.ui.api import ApiError, problem_of
from operational.ui.web import SignedIn, api_for, check_csrf, redirect, refusal, render

router = APIRouter(dependencies=[Depends(check_csrf)])
SUGGESTIONS = 5


@router.get("/portal")
async def my_tickets(request: Request, session: SignedIn) -> Response:
    page = request.query_params.get("page", "1")
    page_number = int(page) if page.isdigit() and int(page) > 0 else 1
    async with api_for(request, session) as api:
        try:
            incidents = await api.get(
                "/incidents",
                params={
                    "requester_id": session.user_id,
                    "sort": "-opened_at",
                    "page": page_number,
                    "size": 25,
                },
            )
            requests = None
            if "request:read" in session.permissions:
                requests = await api.get(
                    "/requests",
                    params={"requester_id": session.user_id, "sort": "-opened_at", "size": 25},
                )
        except ApiError as refused:
            return refusal(request, refused.problem, session)
    return render(
        request,
        "portal.html",
        {"incidents": incidents, "requests": requests, "page": page_number},
        session=session,
    )


@router.get("/portal/new")
async def report_form(request: Request, session: SignedIn) -> Response:
    return render(request, "portal_new.html", {"form": {}, "errors": {}}, session=session)


@router.post("/portal/incidents")
async def report(request: Request, session: SignedIn) -> Response:
    form = await request.form()
    data: dict[str, Any] = {
        "title": str(form.get("title", "")),
        "description": str(form.get("description", "")) or None,
    }
    if str(form.get("urgency", "")).isdigit():
        data["urgency"] = int(str(form["urgency"]))
    async with api_for(request, session) as api:
        response = await api.send("POST", "/incidents", json=data)
    if not response.is_success:
        problem = problem_of(response)
        if problem.status != 422:
            return refusal(request, problem, session)
        return render(
            request,
            "portal_new.html",
            {"form": dict(form), "errors": problem.field_errors, "error": problem.detail},
            session=session,
            status_code=422,
        )
    created = response.json()
    session.flash.append(f"Thank you: {created['number']} is raised. We will keep you posted here.")
    return redirect(f"/ui/incidents/{created['number']}", request)


@router.get("/knowledge/suggest")
async def suggest(request: Request, session: SignedIn, title: str = "") -> Response:
    """Articles matching what is being typed (htmx swaps this fragment in under the title)."""
    results: list[dict[str, Any]] = []
    if len(title.strip()) >= 3 and "knowledge:read" in session.permissions:
        async with api_for(request, session) as api:
            try:
                # Any of the words, best match first: a half-typed title rarely has them all.
                words = " or ".join(title.replace('"', " ").split())[:500]
                found = await api.get("/knowledge/search", params={"q": words, "size": SUGGESTIONS})
                results = found["items"]
            except ApiError:
                results = []
    return render(request, "_suggestions.html", {"results": results}, session=session)


@router.post("/incidents/{ref}/csat")
async def answer_survey(request: Request, ref: str, session: SignedIn) -> Response:
    form = await request.form()
    rating = str(form.get("rating", ""))
    body: dict[str, Any] = {"rating": int(rating) if rating.isdigit() else rating}
    if str(form.get("comment", "")).strip():
        body["comment"] = str(form["comment"])
    async with api_for(request, session) as api:
        response = await api.send("POST", f"/incidents/{ref}/csat", json=body)
    if response.is_success:
        session.flash.append("Thank you for your answer.")
    else:
        problem = problem_of(response)
        if problem.status not in (409, 410, 422):
            return refusal(request, problem, session)
        session.flash.append("Your answer was not recorded: " + problem.detail)
    return redirect(f"/ui/incidents/{ref}#survey", request)


@router.get("/knowledge")
async def knowledge(request: Request, session: SignedIn, q: str = "", page: int = 1) -> Response:
    async with api_for(request, session) as api:
        try:
            found = await api.get(
                "/knowledge/search", params={"q": q[:500], "page": max(page, 1), "size": 20}
            )
        except ApiError as refused:
            return refusal(request, refused.problem, session)
    return render(
        request, "knowledge.html", {"found": found, "q": q, "page": max(page, 1)}, session=session
    )


@router.get("/knowledge/articles/{article_id}")
async def article(request: Request, article_id: int, session: SignedIn) -> Response:
    async with api_for(request, session) as api:
        try:
            found = await api.get(f"/knowledge/articles/{article_id}")
        except ApiError as refused:
            return refusal(request, refused.problem, session)
    return render(request, "article.html", {"article": found}, session=session)


@router.get("/catalog")
async def catalog(request: Request, session: SignedIn, q: str = "", page: int = 1) -> Response:
    params: dict[str, Any] = {"page": max(page, 1), "size": 24}
    if q:
        params["q"] = q
    async with api_for(request, session) as api:
        try:
            items = await api.get("/catalog/items", params=params)
        except ApiError as refused:
            if refused.problem.status == 422 and q:
                items = await api.get("/catalog/items", params={"size": 24})
            else:
                return refusal(request, refused.problem, session)
    return render(
        request, "catalog.html", {"items": items, "q": q, "page": max(page, 1)}, session=session
    )


def form_fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The order form's controls, read from the item's JSON Schema (the API validates the
    answers against that same schema)."""
    required = set(schema.get("required", ()))
    fields = []
    for name, spec in (schema.get("properties") or {}).items():
        kind = spec.get("type", "string")
        control = "text"
        if "enum" in spec:
            control = "select"
        elif kind == "boolean":
            control = "checkbox"
        elif kind in ("integer", "number"):
            control = "number"
        elif spec.get("format") == "date":
            control = "date"
        elif spec.get("maxLength", 0) > 200:
            control = "textarea"
        fields.append(
            {
                "name": name,
                "label": spec.get("title") or name.replace("_", " ").capitalize(),
                "help": spec.get("description"),
                "control": control,
                "type": kind,
                "options": spec.get("enum", []),
                "required": name in required,
            }
        )
    return fields


def _answers(form: Any, fields: list[dict[str, Any]]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for spec in fields:
        name = spec["name"]
        if spec["control"] == "checkbox":
            answers[name] = name in form
            continue
        value = str(form.get(f"answer_{name}", "")).strip()
        if value == "":
            continue
        if spec["type"] == "integer" and value.lstrip("-").isdigit():
            answers[name] = int(value)
        elif spec["type"] == "number":
            try:
                answers[name] = float(value)
            except ValueError:
                answers[name] = value
        else:
            answers[name] = value
    return answers


@router.get("/catalog/{item_id}")
async def catalog_item(request: Request, item_id: int, session: SignedIn) -> Response:
    async with api_for(request, session) as api:
        try:
            item = await api.get(f"/catalog/items/{item_id}")
        except ApiError as refused:
            return refusal(request, refused.problem, session)
    fields = form_fields(item.get("form_schema") or {})
    return render(
        request,
        "catalog_item.html",
        {"item": item, "fields": fields, "form": {}, "errors": {}},
        session=session,
    )


@router.post("/catalog/{item_id}/order")
async def order(request: Request, item_id: int, session: SignedIn) -> Response:
    form = await request.form()
    async with api_for(request, session) as api:
        try:
            item = await api.get(f"/catalog/items/{item_id}")
        except ApiError as refused:
            return refusal(request, refused.problem, session)
        fields = form_fields(item.get("form_schema") or {})
        quantity = str(form.get("quantity", "1"))
        body: dict[str, Any] = {
            "items": [
                {
                    "catalog_item_id": item_id,
                    "quantity": int(quantity) if quantity.isdigit() else quantity,
                    "answers": _answers(form, fields),
                }
            ]
        }
        if str(form.get("justification", "")).strip():
            body["justification"] = str(form["justification"])
        response = await api.send("POST", "/requests", json=body)
    if response.is_success:
        created = response.json()
        session.flash.append(f"Ordered: {created['number']}.")
        return redirect(f"/ui/requests/{created['id']}", request)
    problem = problem_of(response)
    if problem.status not in (400, 409, 422):
        return refusal(request, problem, session)
    errors = _answer_errors(problem)
    return render(
        request,
        "catalog_item.html",
        {
            "item": item,
            "fields": fields,
            "form": dict(form),
            "errors": errors,
            "error": problem.detail,
        },
        session=session,
        status_code=problem.status,
    )


def _answer_errors(problem: Any) -> dict[str, str]:
    """A wrong answer, by the form field it belongs to: the order form's refusal names it
    (``field``); a 422 names it by its path (items → 0 → answers → field)."""
    errors: dict[str, str] = {}
    for error in problem.body.get("errors") or []:
        if "field" in error:
            errors.setdefault(f"answer_{error['field']}", str(error.get("message", "")))
            continue
        location = [str(part) for part in error.get("location", ())]
        name = location[-1] if location else "form"
        key = f"answer_{name}" if "answers" in location else name
        errors.setdefault(key, error.get("message") or "is not valid")
    return errors
