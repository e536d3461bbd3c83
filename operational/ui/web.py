"""What every page shares: the browser session, CSRF, the API client and the templates."""

import hmac
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from operational.ui import formatting
from operational.ui.api import Api, ApiError, Problem
from operational.ui.sessions import COOKIE, BrowserSession, SessionStore

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
formatting.install(templates.env)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


class NotSignedIn(Exception):
    """Raised by pages that need a signed-in user: they go to the sign-in page."""


class CsrfRefused(Exception):
    pass


def store(request: Request) -> SessionStore:
    return request.app.state.sessions


def browser_session(request: Request) -> BrowserSession | None:
    """The request's session (the app reads it off the event loop before the page and settles
    it after the response; read here only where that did not run)."""
    if not hasattr(request.state, "ui_session"):
        request.state.ui_session = store(request).get(request.cookies.get(COOKIE))
    return request.state.ui_session


def remember(request: Request, session: BrowserSession) -> BrowserSession:
    """Makes a new session the request's own (saved back after the response); the one it
    replaces is settled too (ended: its row goes)."""
    previous = getattr(request.state, "ui_session", None)
    if previous is not None and previous is not session:
        request.state.ui_replaced = [*getattr(request.state, "ui_replaced", []), previous]
    request.state.ui_session = session
    return session


def sessions_to_settle(request: Request) -> list[BrowserSession]:
    """The sessions this request read, made or ended: what the app stores after it."""
    found = [*getattr(request.state, "ui_replaced", [])]
    if getattr(request.state, "ui_session", None) is not None:
        found.append(request.state.ui_session)
    return found


async def check_csrf(request: Request) -> None:
    """Every state-changing request carries the session's token, in the htmx header or in the
    form; SameSite cookies are the first fence, this is the second."""
    if request.method in SAFE_METHODS:
        return
    session = browser_session(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get(CSRF_FIELD)
    if (
        session is None
        or not isinstance(sent, str)
        or not hmac.compare_digest(sent.encode(), session.csrf_token.encode())
    ):
        raise CsrfRefused()


async def signed_in_session(request: Request) -> BrowserSession:
    session = browser_session(request)
    if session is None or not session.signed_in:
        raise NotSignedIn()
    return session


SignedIn = Annotated[BrowserSession, Depends(signed_in_session)]
MaybeSession = Annotated[BrowserSession | None, Depends(browser_session)]


def api_for(request: Request, session: BrowserSession | None) -> Api:
    host = request.client.host if request.client else "unknown"
    return Api(request.app.state.api, session=session, client_host=host, store=store(request))


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    session: BrowserSession | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    session = session if session is not None else browser_session(request)
    flash: list[str] = []
    if session is not None and session.flash:
        flash, session.flash = session.flash, []
    return templates.TemplateResponse(
        request,
        template,
        {
            "ui_session": session,
            "me": session.me if session else None,
            "permissions": session.permissions if session else set(),
            "csrf_token": session.csrf_token if session else "",
            "flash": flash,
            **(context or {}),
        },
        status_code=status_code,
    )


def redirect(url: str, request: Request | None = None) -> Response:
    """A redirect that also works for htmx requests (which would otherwise swap the target)."""
    if request is not None and is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/ui/login?next={quote(target, safe='')}"


def refusal(request: Request, problem: Problem, session: BrowserSession | None) -> Response:
    """An API refusal the page cannot recover from, shown with the API's own status."""
    if problem.status == 401:
        if session is not None:
            store(request).end(session)
        return redirect(sign_in_url(request), request)
    return render(
        request,
        "error.html",
        {"problem": problem},
        session=session,
        status_code=problem.status if problem.status >= 400 else 500,
    )


__all__ = ["ApiError", "Problem"]
