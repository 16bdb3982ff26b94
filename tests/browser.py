"""Chromium driven by Playwright: a tab that fails the test on any script error, signing
in as a person does, and the axe-core accessibility audit."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import (
    BrowserContext,
    ConsoleMessage,
    Page,
)

from classroom.demo import DEMO_PASSWORD
from tests.conftest import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Chromium with a fake camera and microphone, peers on loopback, and autoplaying video.
MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]


class Visit:
    """A browser tab that fails the test on any script error or failed request."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context = context
        self.page = page
        self.problems: list[str] = []
        self.expected_statuses: set[int] = set()
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chromium logs every 4xx reply as an error; a refusal the test expects is no problem.
        if any(f"status of {status}" in message.text for status in self.expected_statuses):
            return
        # Only a context a test has set offline fails requests this way, on purpose.
        if "net::ERR_INTERNET_DISCONNECTED" in message.text:
            return
        self.problems.append(f"console: {message.text}")


async def sign_in(
    page: Page, server: LiveServer, username: str, password: str = DEMO_PASSWORD
) -> None:
    await page.goto(f"{server.url}/")
    await page.get_by_label("Логин").fill(username)
    await page.get_by_label("Пароль").fill(password)
    await page.get_by_role("button", name="Войти").click()


AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"


async def accessibility_violations(page: Page) -> list[str]:
    """What axe-core finds against WCAG 2.1 A and AA on the page as it is now."""
    await page.add_script_tag(path=str(AXE))
    found = await page.evaluate(
        """async () => {
            const result = await axe.run(document, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            });
            return result.violations.map(
                v => `${v.id}: ${v.help} at ${v.nodes.map(n => n.target.join(" ")).join(", ")}`
            );
        }"""
    )
    return list(found)
