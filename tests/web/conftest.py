"""Fixtures of the web tests: one Chromium per test, a tab watched for errors, and a
webhook receiver on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from playwright.async_api import Browser, async_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS, MEDIA_ARGS, Visit
from tests.conftest import free_port
from tests.gateway import Gateway


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM.exists(), "Debian's chromium is required (./dev test installs it)"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
async def media_browser() -> AsyncIterator[Browser]:
    """Chromium with a fake camera and microphone, for lessons with video."""
    assert CHROMIUM.exists(), "Debian's chromium is required (./dev test installs it)"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS + MEDIA_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
async def visit(browser: Browser) -> AsyncIterator[Visit]:
    context = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800})
    made = Visit(context, await context.new_page())
    yield made
    await context.close()
    assert made.problems == [], made.problems


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[Gateway, str]]:
    receiver = Gateway()
    app = web.Application()
    app.router.add_post("/notices", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield receiver, f"http://127.0.0.1:{port}/notices"
    await runner.cleanup()
