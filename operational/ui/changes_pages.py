"""Changes and the CMDB: the change calendar with its blackouts, a change with its approvals and
conflicts, the CAB member's pending decisions; CI search, a CI and its impact."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from operational.ui.api import ApiError, Problem, problem_of
from operational.ui.web import SignedIn, api_for, check_csrf, redirect, refusal, render

router = APIRouter(dependencies=[Depends(check_csrf)])
CALENDAR_DAYS = 28
IMPACT_DEPTH_MAX = 20


def _day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


@router.get("/changes")
async def calendar(
    request: Request, session: SignedIn, start: str | None = None, q: str = ""
) -> Response:
    """Four weeks of scheduled changes and blackout windows, day by day, and a change search."""
    first = _day(start, datetime.now(UTC).date())
    begins = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    ends = begins + timedelta(days=CALENDAR_DAYS)
    async with api_for(request, session) as api:
        try:
            found = await api.get(
                "/changes/calendar", params={"from": begins.isoformat(), "to": ends.isoformat()}
            )
            params: dict[str, Any] = {"sort": "-planned_start", "size": 25}
            if q:
                params["q"] = q
            listed = await api.get("/changes", params=params)
        except ApiError as refused:
            return refusal(request, refused.problem, session)
    days = []
    for offset in range(CALENDAR_DAYS):
        day = first + timedelta(days=offset)
        days.append(
            {
                "day": day,
                "changes": [c for c in found["changes"] if _covers(c, day)],
                "blackouts": [b for b in found["blackouts"] if _covers(b, day)],
            }
        )
    return render(
        request,
        "changes.html",
        {
            "days": [d for d in days if d["changes"] or d["blackouts"]],
            "first": first,
            "previous": first - timedelta(days=CALENDAR_DAYS),
            "next": first + timedelta(days=CALENDAR_DAYS),
            "listed": listed,
            "q": q,
        },
        session=session,
    )


def _covers(item: dict[str, Any], day: date) -> bool:
    start = item.get("planned_start") or item.get("starts_at")
    end = item.get("planned_end") or item.get("ends_at")
    if not start or not end:
        return False
    begins = datetime.fromisoformat(start).astimezone(UTC).date()
    ends = datetime.fromisoformat(end).astimezone(UTC).date()
    return begins <= day <= ends


@router.get("/changes/pending")
async def pending(request: Request, session: SignedIn) -> Response:
    """Changes waiting for the CAB in which this member has not decided in the current round."""
    if "change:approve" not in session.permissions:
        return refusal(
            request,
            problem_of_forbidden("This page is for CAB members (change:approve)."),
            session,
        )
    async with api_for(request, session) as api:
        try:
            # The API says which changes wait for this member (GET /changes?awaiting_my_decision).
            waiting = await api.get(
                "/changes",
                params={"awaiting_my_decision": "true", "sort": "planned_start", "size": 100},
            )
            changes = [await api.get(f"/changes/{summary['id']}") for summary in waiting["items"]]
        except ApiError as refused:
            return refusal(request, refused.problem, session)
    return render(request, "changes_pending.html", {"changes": changes}, session=session)


def problem_of_forbidden(detail: str) -> Problem:
    return Problem(403, "Not for your role", detail)


@router.get("/changes/{ref}")
async def change_page(request: Request, ref: str, session: SignedIn) -> Response:
    async with api_for(request, session) as api:
        try:
            if not ref.isdigit():
                # A number (an incident's change_ref): find it, then show it by id.
                found = await api.get("/changes", params={"q": ref, "size": 5})
                exact = [c for c in found["items"] if c["number"] == ref]
                if not exact:
                    return refusal(request, Problem(404, "Not found", f"No change {ref}"), session)
                return redirect(f"/ui/changes/{exact[0]['id']}")
            change = await api.get(f"/changes/{ref}")
            conflicts = await api.get(f"/changes/{change['id']}/conflicts")
        except ApiError as refused:
            return refusal(request, refused.problem, session)
    return render(
        request, "change.html", {"change": change, "conflicts": conflicts}, session=session
    )


@router.post("/changes/{ref}/decide")
async def decide(request: Request, ref: str, session: SignedIn) -> Response:
    form = await request.form()
    body = {"decision": str(form.get("decision", "")), "comment": str(form.get("comment", ""))}
    async with api_for(request, session) as api:
        response = await api.send("POST", f"/changes/{ref}/approvals", json=body)
        if not response.is_success:
            problem = problem_of(response)
            if problem.status not in (409, 422):
                return refusal(request, problem, session)
            try:
                change = await api.get(f"/changes/{ref}")
                conflicts = await api.get(f"/changes/{change['id']}/conflicts")
            except ApiError as refused:
                return refusal(request, refused.problem, session)
            return render(
                request,
                "change.html",
                {
                    "change": change,
                    "conflicts": conflicts,
                    "problem": problem,
                    "errors": problem.field_errors,
                    "typed": dict(form),
                },
                session=session,
                status_code=problem.status,
            )
    session.flash.append(f"Your decision on {response.json()['number']} is recorded.")
    return redirect(f"/ui/changes/{ref}", request)


@router.post("/changes/{ref}/move")
async def move_change(request: Request, ref: str, session: SignedIn) -> Response:
    form = await request.form()
    body: dict[str, Any] = {"to": str(form.get("to", ""))}
    async with api_for(request, session) as api:
        response = await api.send(
            "POST",
            f"/changes/{ref}/transition",
            json=body,
            headers={"If-Match": f'"{form.get("version", "")}"'},
        )
    if not response.is_success:
        problem = problem_of(response)
        if problem.status not in (409, 412, 422):
            return refusal(request, problem, session)
        stale = " (it changed since you opened it: look again)" if problem.status == 412 else ""
        session.flash.append("Not moved: " + problem.detail + stale)
    return redirect(f"/ui/changes/{ref}", request)


@router.get("/cis")
async def ci_search(request: Request, session: SignedIn, q: str = "", page: int = 1) -> Response:
    params: dict[str, Any] = {"page": max(page, 1), "size": 25, "sort": "name"}
    if q:
        params["q"] = q
    async with api_for(request, session) as api:
        try:
            found = await api.get("/cis", params=params)
        except ApiError as refused:
            return refusal(request, refused.problem, session)
    return render(
        request, "cis.html", {"found": found, "q": q, "page": max(page, 1)}, session=session
    )


@router.get("/cis/{ci_id}")
async def ci_page(
    request: Request,
    ci_id: int,
    session: SignedIn,
    direction: str = "downstream",
    depth: int = 3,
) -> Response:
    direction = direction if direction in ("downstream", "upstream") else "downstream"
    depth = min(max(depth, 1), IMPACT_DEPTH_MAX)
    async with api_for(request, session) as api:
        try:
            ci = await api.get(f"/cis/{ci_id}")
            relationships = await api.get("/ci-relationships", params={"ci_id": ci_id, "size": 100})
            impact = await api.get(
                f"/cis/{ci_id}/impact", params={"direction": direction, "depth": depth, "size": 100}
            )
        except ApiError as refused:
            return refusal(request, refused.problem, session)
    return render(
        request,
        "ci.html",
        {
            "ci": ci,
            "relationships": relationships,
            "impact": impact,
            "direction": direction,
            "depth": depth,
        },
        session=session,
    )
