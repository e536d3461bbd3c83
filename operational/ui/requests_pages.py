"""A service request's page: its items with their approvals, delivery clocks and fulfilment
tasks, the timeline for those who may read it, and the requester's reply and cancel."""

import contextlib
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from operational.ui.api import Api, ApiError, problem_of
from operational.ui.sessions import BrowserSession
from operational.ui.web import SignedIn, api_for, check_csrf, redirect, refusal, render

router = APIRouter(dependencies=[Depends(check_csrf)])
TASKS_PER_ITEM = 100


async def _request_context(api: Api, session: BrowserSession, ref: str) -> dict[str, Any]:
    order = await api.get(f"/requests/{ref}")
    tasks: dict[int, list[dict[str, Any]]] = {}
    timeline: list[dict[str, Any]] | None = None
    # Tasks and the event log are the API's to refuse (request:fulfil, request:read_all); the
    # page asks only when the person's permissions say the API would answer.
    if "request:fulfil" in session.permissions:
        for item in order["items"]:
            with contextlib.suppress(ApiError):
                found = await api.get(
                    "/request-tasks",
                    params={"request_item_id": item["id"], "size": TASKS_PER_ITEM},
                )
                tasks[item["id"]] = found["items"]
    if "request:read_all" in session.permissions:
        with contextlib.suppress(ApiError):
            timeline = [
                {**event, "about": order["number"]}
                for event in await api.get(f"/requests/{order['id']}/timeline")
            ]
            for item in order["items"]:
                timeline += [
                    {**event, "about": item["number"]}
                    for event in await api.get(f"/request-items/{item['id']}/timeline")
                ]
            timeline.sort(key=lambda event: (event["occurred_at"], event["seq"]), reverse=True)
    return {
        "order": order,
        "tasks": tasks,
        "timeline": timeline,
        "mine": order["requester"]["id"] == session.user_id,
    }


@router.get("/requests/{ref}")
async def request_page(request: Request, ref: str, session: SignedIn) -> Response:
    async with api_for(request, session) as api:
        try:
            context = await _request_context(api, session, ref)
        except ApiError as refused:
            return refusal(request, refused.problem, session)
    return render(request, "request.html", context, session=session)


async def _after_write(
    request: Request, session: BrowserSession, ref: str, response: Any, form: Any, done: str
) -> Response:
    if response.is_success:
        session.flash.append(done)
        return redirect(f"/ui/requests/{ref}", request)
    problem = problem_of(response)
    if problem.status not in (400, 409, 412, 422):
        return refusal(request, problem, session)
    async with api_for(request, session) as api:
        try:
            context = await _request_context(api, session, ref)
        except ApiError as refused:
            return refusal(request, refused.problem, session)
    context.update(api_problem=problem, errors=problem.field_errors, typed=dict(form))
    return render(request, "request.html", context, session=session, status_code=problem.status)


@router.post("/requests/{ref}/cancel")
async def cancel(request: Request, ref: str, session: SignedIn) -> Response:
    form = await request.form()
    body = {"reason": str(form.get("reason", "")).strip()}
    async with api_for(request, session) as api:
        response = await api.send(
            "POST",
            f"/requests/{ref}/cancel",
            json=body,
            headers={"If-Match": f'"{form.get("version", "")}"'},
        )
    return await _after_write(request, session, ref, response, form, "The request is cancelled.")


@router.post("/requests/{ref}/items/{item_id}/reply")
async def reply(request: Request, ref: str, item_id: int, session: SignedIn) -> Response:
    form = await request.form()
    body = {"comment": str(form.get("comment", "")).strip()}
    async with api_for(request, session) as api:
        response = await api.send("POST", f"/request-items/{item_id}/reply", json=body)
    typed = {**dict(form), "item_id": str(item_id)}
    return await _after_write(request, session, ref, response, typed, "Your message is sent.")
