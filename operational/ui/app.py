"""The UI's ASGI app, mounted by operational/main.py at ``/ui``."""

from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from operational.ui import (
    account,
    changes_pages,
    live,
    portal,
    problems_pages,
    requests_pages,
    workspace,
)
from operational.ui.sessions import COOKIE, SessionStore
from operational.ui.web import (
    HERE,
    CsrfRefused,
    NotSignedIn,
    redirect,
    render,
    sessions_to_settle,
    sign_in_url,
)

# No inline script or style anywhere: htmx is configured from a <meta> tag and our own code is a
# static file. data: images are the MFA QR code the API returns.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_ui(api: Any) -> FastAPI:
    ui = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    ui.state.api = api
    ui.state.sessions = SessionStore()
    ui.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (
        account,
        workspace,
        portal,
        requests_pages,
        problems_pages,
        changes_pages,
        live,
    ):
        ui.include_router(module.router)

    @ui.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        sessions: SessionStore = request.app.state.sessions
        if not request.url.path.startswith("/ui/static/"):
            # Read here, off the event loop, so that no handler touches the database on it.
            request.state.ui_session = await anyio.to_thread.run_sync(
                sessions.get, request.cookies.get(COOKIE)
            )
        response = await call_next(request)
        if settled := sessions_to_settle(request):
            # The sessions as the page left them (tokens refreshed, messages shown, steps done).
            await anyio.to_thread.run_sync(sessions.settle, settled)
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith("/ui/static/"):
            # Pages hold personal data: never kept in a shared cache or the back-forward cache.
            response.headers["Cache-Control"] = "no-store"
        return response

    @ui.exception_handler(NotSignedIn)
    async def go_sign_in(request: Request, _: NotSignedIn) -> Response:
        return redirect(sign_in_url(request), request)

    @ui.exception_handler(CsrfRefused)
    async def refuse_forgery(request: Request, _: CsrfRefused) -> Response:
        return render(
            request,
            "error.html",
            {
                "problem": {
                    "status": 403,
                    "title": "Form expired",
                    "detail": "This form was not sent from a page of this session. "
                    "Reload the page and try again.",
                }
            },
            status_code=403,
        )

    return ui
