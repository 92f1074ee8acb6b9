"""The app served over HTTP for the browser tests (tests/test_explorer.py, test_owner_pages_browser.py,
test_owner_journey_browser.py): uvicorn on a free loopback port in a process of its own, on the
environment the test gives; headless Chromium found on the machine; screenshots at phone width.

The ``serve`` fixture (tests/conftest.py) starts one and stops it after the test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

if TYPE_CHECKING:  # conftest imports this module: Playwright loads only in the browser tests
    from playwright.async_api import Page, ViewportSize

PHONE: Final[ViewportSize] = {"width": 390, "height": 844}


def chromium() -> str:
    """Chromium's executable; a skip where it is not installed (a failure on CI, which installs it)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    if os.environ.get("CI"):
        pytest.fail("CI must have Chromium (.ci/setup installs it)")
    pytest.skip("Chromium is not installed (apt-get install chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served_app(env: Mapping[str, str], public_address: bool = False) -> Iterator[str]:
    """The app under uvicorn with ``env`` over the process's own environment; its base URL (also
    its ``FEESVC_PUBLIC_BASE_URL`` when ``public_address``: links the app makes point back to it)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    full = {**os.environ, **env, **({"FEESVC_PUBLIC_BASE_URL": base} if public_address else {})}
    command = [sys.executable, "-m", "uvicorn", "feesvc.app:create_app", "--factory", "--port", str(port)]
    server = subprocess.Popen(command, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the app did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def screenshot_dir(default: Path) -> Path:
    """Where screenshots go: ``FEESVC_SCREENSHOT_DIR`` when set (to look at), else ``default``."""
    target = Path(os.environ.get("FEESVC_SCREENSHOT_DIR") or default)
    target.mkdir(parents=True, exist_ok=True)
    return target


async def shot(page: Page, path: Path) -> None:
    """A full-page screenshot at phone width; the page must not scroll sideways."""
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{path} scrolls sideways"
    await page.screenshot(path=str(path), full_page=True)
