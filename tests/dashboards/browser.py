"""Headless Chromium for the dashboards' browser test and benchmark.

Debian's ``chromium`` package at /usr/bin/chromium, driven by Playwright through
``executable_path``: Playwright never downloads a browser of its own.
"""

import io
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser, Locator, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Tall enough that a page's whole content is in the screenshot (Streamlit scrolls inside).
VIEWPORT = {"width": 1440, "height": 3000}
# Errors a reader would see: an exception box, or an error alert.
ERROR_SELECTOR = '[data-testid="stException"], [data-testid="stAlertContentError"]'


@dataclass(frozen=True)
class DashboardPage:
    path: str  # URL path Streamlit gives the page
    title: str  # the page's heading


PAGES = [
    DashboardPage("overview", "Overview"),
    DashboardPage("sla", "SLA"),
    DashboardPage("response_resolution", "Response and resolution"),
    DashboardPage("fcr_csat", "FCR and CSAT"),
    DashboardPage("backlog", "Backlog and aging"),
    DashboardPage("teams", "Team performance"),
    DashboardPage("changes", "Changes"),
    DashboardPage("compliance", "Compliance"),
]


class ChromiumMissing(RuntimeError):
    pass


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise ChromiumMissing(
            f"{CHROMIUM} is missing: install Debian's chromium "
            "(apt-get update && apt-get install -y chromium)"
        )
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def wait_until_rendered(page: Page, title: str, *, timeout_ms: float = 60_000) -> None:
    """Until the page shows its heading, Streamlit has finished running the script, nothing is
    still loading, and every chart has been drawn."""
    page.wait_for_function(
        """(title) => {
            const heading = [...document.querySelectorAll('h1')]
                .some((element) => element.innerText.trim() === title);
            const app = document.querySelector('[data-testid="stApp"]');
            const running = app && app.getAttribute('data-test-script-state') === 'running';
            const status = document.querySelector('[data-testid="stStatusWidget"]');
            const skeleton = document.querySelector('[data-testid="stSkeleton"]');
            const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
            const drawn = charts.every((chart) => chart.querySelector('canvas, svg'));
            return heading && !running && !status && !skeleton && drawn;
        }""",
        arg=title,
        timeout=timeout_ms,
    )


def sign_in(page: Page, base_url: str, *, email: str, password: str, query: str = "") -> None:
    page.goto(f"{base_url}/{query}")
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    wait_until_rendered(page, PAGES[0].title)


def open_page(page: Page, target: DashboardPage) -> float:
    """Click the page in the sidebar; the seconds until it has fully rendered."""
    link = page.locator(f'[data-testid="stSidebarNav"] a[href*="/{target.path}"]')
    if target.path == PAGES[0].path:
        link = page.locator('[data-testid="stSidebarNav"] a').first
    started = time.perf_counter()
    link.click()
    wait_until_rendered(page, target.title)
    return time.perf_counter() - started


def click_colour(element: Locator, colour: str, *, tolerance: int = 12) -> None:
    """Click the first pixel of ``colour`` (#rrggbb) in an element: a chart's mark, found the way
    a person finds it, by its colour (the charts draw on a canvas)."""
    wanted = tuple(int(colour[index : index + 2], 16) for index in (1, 3, 5))
    image = Image.open(io.BytesIO(element.screenshot())).convert("RGB")
    for x in range(image.width):
        for y in range(image.height):
            pixel = image.getpixel((x, y))
            if all(abs(a - b) <= tolerance for a, b in zip(pixel, wanted, strict=True)):
                # A few pixels inside the mark, not on its antialiased edge.
                element.click(position={"x": x + 3, "y": y + 3})
                return
    raise AssertionError(f"no mark of colour {colour} in the element")
