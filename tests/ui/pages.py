"""What the UI's browser tests share: signing in, the accessibility check and screenshots."""

import os
from pathlib import Path

from playwright.sync_api import Page

from tests.ui.conftest import ACCOUNTS, AXE

REPOSITORY = Path(__file__).resolve().parents[2]
# The screenshots of docs/ui.md are refreshed on request (ITSM_UI_SCREENSHOTS=docs); an ordinary
# run writes them under test-artifacts/, so the tests leave the work tree clean.
SCREENSHOTS = (
    REPOSITORY / "docs" / "ui"
    if os.environ.get("ITSM_UI_SCREENSHOTS") == "docs"
    else REPOSITORY / "test-artifacts" / "ui"
)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def sign_in(page: Page, base_url: str, who: str, *, next_path: str = "") -> None:
    account = ACCOUNTS[who]
    page.goto(f"{base_url}/ui/login{next_path}")
    page.get_by_label("Email").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    if account.totp_secret:
        page.get_by_label("Authenticator code").fill(account.totp())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now (WCAG 2.1 A and AA).
    axe runs through the DevTools protocol, not a <script> tag, so the page's CSP (which
    refuses inline scripts) stays as it is."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate("() => {\n" + AXE.read_text() + "\n}")
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', "
        "'wcag21aa', 'best-practice']})"
    )
    assert result["passes"], "axe-core checked nothing"
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + "; ".join(node["target"][0] for node in violation["nodes"][:3])
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def check_screen(page: Page, name: str | None = None) -> None:
    """No serious or critical accessibility finding, at desktop and at phone width; a
    screenshot of each screen for docs/ui.md."""
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        assert serious_violations(page) == [], (page.url, viewport)
    page.set_viewport_size(DESKTOP)
    if name:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
