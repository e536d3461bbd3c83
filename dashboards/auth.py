"""Sign-in for the dashboards, checked by the operational API over HTTP.

Streamlit has no user store. The dashboards call the platform's own ``POST /api/v1/auth/login``
(email, password, TOTP code) and ``GET /api/v1/auth/me`` at ``Settings.api_base_url``: the API
owns password checks, MFA, lock-outs, throttling and the login audit, so the dashboards add no
second path around them. The browser's address is forwarded (``X-Forwarded-For``) so that the
API's per-client throttling sees people, not the dashboard server (uvicorn trusts the header from
loopback by default).

Who gets in: managers, auditors and admins (issue 7), and only while they hold ``marts:read``.
Analysts also hold ``marts:read`` but are refused: they read the marts with SQL through the
read-only role (``itsm db analyst-url``). Refused sign-ins have their refresh token revoked.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import streamlit as st

from dashboards.plain import plain
from operational.auth.permissions import Role
from operational.core.config import get_settings

ADMITTED_ROLES = frozenset({Role.manager, Role.auditor, Role.admin})
REQUIRED_PERMISSION = "marts:read"
MFA_ENROLMENT_SCOPE = "mfa_enrolment"
_SESSION_KEY = "signed_in"
_TIMEOUT = httpx.Timeout(10.0)
# Refresh the access token this long before it expires.
_EXPIRY_MARGIN = timedelta(seconds=30)


class SignInRefused(Exception):
    """A sign-in or a session the dashboards do not accept; the message is for the person."""

    def __init__(self, message: str, *, needs_code: bool = False, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.needs_code = needs_code
        self.status = status  # the API's answer, when it gave one


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    email: str
    display_name: str
    roles: tuple[str, ...]
    permissions: frozenset[str]
    access_token: str
    refresh_token: str | None
    expires_at: datetime

    def can(self, permission: str) -> bool:
        return permission in self.permissions


class ApiClient:
    """The few API calls the dashboards make, with the caller's token."""

    def __init__(self, base_url: str | None = None, *, client_address: str | None = None):
        self.base_url = (base_url or get_settings().api_base_url).rstrip("/")
        self._headers = {"X-Forwarded-For": client_address} if client_address else {}

    def _request(self, method: str, path: str, *, token: str | None = None, **kwargs: Any):
        headers = dict(self._headers)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return httpx.request(
                method, self.base_url + path, headers=headers, timeout=_TIMEOUT, **kwargs
            )
        except httpx.HTTPError as exc:
            raise SignInRefused(
                f"The ITSM API at {self.base_url} does not answer ({exc.__class__.__name__}); "
                "try again in a moment."
            ) from exc

    def login(self, *, email: str, password: str, totp_code: str | None) -> dict[str, Any]:
        body = {"email": email, "password": password}
        if totp_code:
            body["totp_code"] = totp_code
        return self._json(self._request("POST", "/api/v1/auth/login", json=body))

    def refresh(self, *, refresh_token: str) -> dict[str, Any]:
        response = self._request(
            "POST", "/api/v1/auth/refresh", json={"refresh_token": refresh_token}
        )
        return self._json(response)

    def me(self, *, token: str) -> dict[str, Any]:
        return self._json(self._request("GET", "/api/v1/auth/me", token=token))

    def logout(self, *, token: str, refresh_token: str | None) -> None:
        if not refresh_token:
            return
        # The access token expires on its own; signing out locally is what matters.
        with contextlib.suppress(SignInRefused):
            self._request(
                "POST", "/api/v1/auth/logout", token=token, json={"refresh_token": refresh_token}
            )

    def exports(self, *, token: str, size: int = 50) -> list[dict[str, Any]]:
        response = self._request("GET", "/api/v1/exports", token=token, params={"size": size})
        return self._json(response)["items"]

    def export_file(self, *, token: str, export_id: int, name: str) -> bytes:
        response = self._request("GET", f"/api/v1/exports/{export_id}/files/{name}", token=token)
        if response.status_code != 200:
            self._json(response)
        return response.content

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        if response.is_success:
            return response.json()
        try:
            problem = response.json()
        except ValueError:
            problem = {}
        detail = problem.get("detail") if isinstance(problem, dict) else None
        if response.status_code == 401 and problem.get("mfa_required"):
            raise SignInRefused(
                "Enter the 6-digit code from your authenticator app.", needs_code=True
            )
        if response.status_code == 422:
            raise SignInRefused("Enter your email and password.")
        raise SignInRefused(
            detail or f"The API refused the request ({response.status_code}).",
            status=response.status_code,
        )


def admitted(roles: list[str] | tuple[str, ...], permissions: set[str] | frozenset[str]) -> bool:
    return bool(ADMITTED_ROLES.intersection(roles)) and REQUIRED_PERMISSION in permissions


def _signed_in(client: ApiClient, tokens: dict[str, Any]) -> SignedIn:
    """Check the tokens' owner may use the dashboards; revoke the login when not."""
    if tokens.get("scope") == MFA_ENROLMENT_SCOPE:
        raise SignInRefused(
            "Your role requires multi-factor authentication. Enrol an authenticator app in the "
            "platform first, then sign in here with its code."
        )
    access_token = tokens["access_token"]
    refresh_token = tokens.get("refresh_token")
    try:
        if tokens.get("must_change_password"):
            raise SignInRefused("Change your one-time password in the platform, then sign in.")
        me = client.me(token=access_token)
        if not admitted(me["roles"], set(me["permissions"])):
            roles = ", ".join(me["roles"]) or "none"
            raise SignInRefused(
                "The dashboards are for managers, auditors and admins; "
                f"your account's roles are: {roles}."
            )
    except SignInRefused:
        client.logout(token=access_token, refresh_token=refresh_token)
        raise
    return SignedIn(
        user_id=me["id"],
        email=me["email"],
        display_name=me["display_name"],
        roles=tuple(me["roles"]),
        permissions=frozenset(me["permissions"]),
        access_token=access_token,
        refresh_token=refresh_token,
        expires_at=datetime.now(UTC) + timedelta(seconds=int(tokens["expires_in"])),
    )


def sign_in(
    client: ApiClient, *, email: str, password: str, totp_code: str | None = None
) -> SignedIn:
    """Raises SignInRefused with a message for the person."""
    if not email.strip() or not password:
        raise SignInRefused("Enter your email and password.")
    code = (totp_code or "").replace(" ", "") or None
    tokens = client.login(email=email.strip(), password=password, totp_code=code)
    return _signed_in(client, tokens)


def renew(client: ApiClient, user: SignedIn) -> SignedIn:
    """A fresh access token (rotating the refresh token); the roles are checked again."""
    if not user.refresh_token:
        raise SignInRefused("Your session has ended; sign in again.")
    tokens = client.refresh(refresh_token=user.refresh_token)
    return _signed_in(client, tokens)


def client() -> ApiClient:
    address = st.context.ip_address
    # None on loopback, and not a string outside a browser session (tests).
    return ApiClient(client_address=address if isinstance(address, str) else None)


def current_user() -> SignedIn | None:
    """The signed-in person of this browser session, renewed when the access token expires.

    Renewal runs the role check again, so a deactivated account or a lost role ends the session.
    """
    user: SignedIn | None = st.session_state.get(_SESSION_KEY)
    if user is None:
        return None
    if datetime.now(UTC) + _EXPIRY_MARGIN >= user.expires_at:
        return renew_now()
    return user


def renew_now() -> SignedIn | None:
    """Renew the signed-in person's access token at once, as when the API refused it before it
    expired (signing out on another device ends every access token of the account, and the
    other logins carry on by refreshing); None when the session has ended."""
    user: SignedIn | None = st.session_state.get(_SESSION_KEY)
    if user is None:
        return None
    try:
        user = renew(client(), user)
    except SignInRefused as refused:
        st.session_state.pop(_SESSION_KEY, None)
        st.session_state["sign_in_message"] = f"Your session has ended: {refused.message}"
        return None
    st.session_state[_SESSION_KEY] = user
    return user


def sign_out() -> None:
    user: SignedIn | None = st.session_state.pop(_SESSION_KEY, None)
    if user is not None:
        client().logout(token=user.access_token, refresh_token=user.refresh_token)
    st.session_state["sign_in_message"] = "You are signed out."


def login_page() -> None:
    """The only page a visitor who is not signed in can see."""
    st.title("ITSM dashboards")
    st.write(
        "Sign in with your ITSM platform account. Managers, auditors and admins may open the "
        "dashboards."
    )
    message = st.session_state.pop("sign_in_message", None)
    if message:
        st.info(message)
    with st.form("sign_in", border=True):
        email = st.text_input("Email", autocomplete="username", key="sign_in_email")
        password = st.text_input(
            "Password", type="password", autocomplete="current-password", key="sign_in_password"
        )
        totp_code = st.text_input(
            "Authenticator code",
            max_chars=8,
            autocomplete="one-time-code",
            key="sign_in_code",
            help="The 6-digit code from your authenticator app, if your account uses MFA.",
        )
        submitted = st.form_submit_button("Sign in", type="primary", key="sign_in_submit")
    if not submitted:
        return
    try:
        user = sign_in(client(), email=email, password=password, totp_code=totp_code)
    except SignInRefused as refused:
        st.error(plain(refused.message))
        return
    st.session_state[_SESSION_KEY] = user
    st.rerun()
