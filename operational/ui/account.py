"""Signing in and out, the forced change of a one-time password, and MFA enrolment."""

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from operational.ui.api import ApiError, problem_of
from operational.ui.sessions import COOKIE, BrowserSession
from operational.ui.web import (
    SignedIn,
    api_for,
    browser_session,
    check_csrf,
    redirect,
    remember,
    render,
    store,
)

router = APIRouter(dependencies=[Depends(check_csrf)])


def _set_cookie(request: Request, response: Response, session: BrowserSession) -> Response:
    response.set_cookie(
        COOKIE,
        session.id,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/ui",
    )
    return response


def _safe_next(target: str | None) -> str:
    """Only our own pages: an open redirect would let a link send people elsewhere."""
    if not target:
        return "/ui/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui/"):
        return "/ui/"
    return target


def home_for(session: BrowserSession) -> str:
    permissions = session.permissions
    if "incident:write" in permissions:
        return "/ui/queue"
    if "change:approve" in permissions:
        return "/ui/changes/pending"
    return "/ui/portal"


@router.get("/")
async def home(request: Request) -> Response:
    session = browser_session(request)
    if session is None or not session.signed_in:
        return redirect("/ui/login")
    return redirect(home_for(session))


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    session = browser_session(request) or remember(request, store(request).new())
    if session.signed_in:
        return redirect(_safe_next(next) if next else home_for(session))
    response = render(
        request, "login.html", {"next": _safe_next(next), "form": {}}, session=session
    )
    return _set_cookie(request, response, session)


@router.post("/login")
async def login(request: Request) -> Response:
    session = browser_session(request)
    assert session is not None  # check_csrf refused a request without one
    form = await request.form()
    email = str(form.get("email", "")).strip()
    body: dict[str, Any] = {"email": email, "password": str(form.get("password", ""))}
    code = str(form.get("code", "")).replace(" ", "")
    if code:
        body["recovery_code" if len(code) > 8 else "totp_code"] = code
    target = _safe_next(str(form.get("next") or ""))
    async with api_for(request, None) as api:
        response = await api.send("POST", "/auth/login", json=body)
        if not response.is_success:
            return _login_refused(request, session, problem_of(response), email, target)
        tokens = response.json()
        session = store(request).rotate(session)
        session.access_token = tokens["access_token"]
        session.refresh_token = tokens.get("refresh_token")
        if tokens.get("scope") == "mfa_enrolment":
            session.pending = "mfa_enrolment"
            session.flash.append("Your role requires MFA: enrol an authenticator app to go on.")
            return _set_cookie(request, redirect("/ui/mfa"), session)
        if tokens.get("must_change_password"):
            session.pending = "password"
            return _set_cookie(request, redirect("/ui/password"), session)
        session.me = await api.get("/auth/me", token=session.access_token)
    return _set_cookie(
        request, redirect(target if target != "/ui/" else home_for(session)), session
    )


def _login_refused(
    request: Request, session: BrowserSession, problem: Any, email: str, target: str
) -> Response:
    if problem.status == 423:
        message = "This account is locked for now after too many failed sign-ins. " + problem.detail
    elif problem.status == 429:
        message = "Too many sign-in attempts from here. " + problem.detail
    elif problem.body.get("mfa_required"):
        message = "This account uses MFA: enter the 6-digit code from your authenticator app."
    elif problem.status == 422:
        message = "Enter your email and password."
    else:
        message = "The email, password or code is wrong."
    return render(
        request,
        "login.html",
        {
            "next": target,
            "form": {"email": email},
            "error": message,
            "mfa_required": bool(problem.body.get("mfa_required")),
        },
        session=session,
        status_code=problem.status,
    )


@router.post("/logout")
async def logout(request: Request, session: SignedIn) -> Response:
    async with api_for(request, session) as api:
        # Revokes the login's refresh tokens and every access token (docs/auth.md).
        await api.send("POST", "/auth/logout", json={"refresh_token": session.refresh_token})
    store(request).end(session)
    response = redirect("/ui/login", request)
    response.delete_cookie(COOKIE, path="/ui")
    return response


def _pending_session(request: Request, kind: str) -> BrowserSession | None:
    session = browser_session(request)
    if session is None or session.access_token is None:
        return None
    if session.pending not in (None, kind):
        return None
    return session


@router.get("/password")
async def password_form(request: Request) -> Response:
    session = _pending_session(request, "password")
    if session is None:
        return redirect("/ui/login")
    return render(request, "password.html", {"errors": {}}, session=session)


@router.post("/password")
async def change_password(request: Request) -> Response:
    session = _pending_session(request, "password")
    if session is None:
        return redirect("/ui/login")
    form = await request.form()
    new = str(form.get("new_password", ""))
    if new != str(form.get("confirm_password", "")):
        return render(
            request,
            "password.html",
            {"errors": {"confirm_password": "The two new passwords differ."}},
            session=session,
            status_code=422,
        )
    async with api_for(request, session) as api:
        response = await api.send(
            "POST",
            "/auth/password",
            json={"current_password": str(form.get("current_password", "")), "new_password": new},
        )
    if not response.is_success:
        problem = problem_of(response)
        errors = problem.field_errors or {"current_password": problem.detail}
        return render(
            request,
            "password.html",
            {"errors": errors, "error": problem.detail},
            session=session,
            status_code=problem.status,
        )
    # The API ended every session of the user: sign in again with the new password.
    store(request).end(session)
    fresh = remember(request, store(request).new())
    fresh.flash.append("Password changed. Sign in with your new password.")
    return _set_cookie(request, redirect("/ui/login"), fresh)


@router.get("/mfa")
async def mfa_form(request: Request) -> Response:
    session = _pending_session(request, "mfa_enrolment")
    if session is None:
        return redirect("/ui/login")
    return render(request, "mfa.html", {"step": "password"}, session=session)


@router.post("/mfa/start")
async def mfa_start(request: Request) -> Response:
    session = _pending_session(request, "mfa_enrolment")
    if session is None:
        return redirect("/ui/login")
    form = await request.form()
    async with api_for(request, session) as api:
        try:
            enrolment = await api.post(
                "/auth/mfa/enroll", json={"password": str(form.get("password", ""))}
            )
        except ApiError as refused:
            return render(
                request,
                "mfa.html",
                {"step": "password", "error": refused.problem.detail},
                session=session,
                status_code=refused.problem.status,
            )
    session.mfa_enrolment = enrolment
    return render(request, "mfa.html", {"step": "scan", "enrolment": enrolment}, session=session)


@router.post("/mfa/verify")
async def mfa_verify(request: Request) -> Response:
    session = _pending_session(request, "mfa_enrolment")
    if session is None:
        return redirect("/ui/login")
    form = await request.form()
    async with api_for(request, session) as api:
        try:
            codes = await api.post(
                "/auth/mfa/verify",
                json={
                    "code": str(form.get("code", "")).replace(" ", ""),
                    "password": str(form.get("password", "")),
                },
            )
        except ApiError as refused:
            return render(
                request,
                "mfa.html",
                {
                    "step": "scan",
                    "enrolment": session.mfa_enrolment,
                    "error": refused.problem.detail,
                },
                session=session,
                status_code=refused.problem.status,
            )
    session.mfa_enrolment = None
    if session.pending == "mfa_enrolment":
        # That token opened only enrolment: the next sign-in, with a code, opens the rest.
        store(request).end(session)
        session = remember(request, store(request).new())
    elif session.me is not None:
        session.me["mfa_enabled"] = True
    response = render(
        request, "mfa.html", {"step": "done", "codes": codes["recovery_codes"]}, session=session
    )
    return _set_cookie(request, response, session)


@router.get("/account")
async def account(request: Request, session: SignedIn) -> Response:
    async with api_for(request, session) as api:
        session.me = await api.get("/auth/me")
    return render(request, "account.html", {}, session=session)
