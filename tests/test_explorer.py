"""The API explorer at /schema works with no network (issue 18 item 3): its Swagger UI ships in
the package, and headless Chromium, refused every host but this server, renders the operations."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feesvc.explorer import ASSETS, ASSETS_DIR, SWAGGER_UI_VERSION


async def test_the_explorer_page_loads_only_from_this_server(client: AsyncTestClient[Litestar]) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    head = page.text.split("<body>", 1)[0]
    references = re.findall(r"""(?:src|href)=["']([^"']+)["']""", head)
    assert sorted(references) == sorted(f"/schema/assets/{name}" for name in ASSETS)
    for name, media_type in ASSETS.items():
        asset = await client.get(f"/schema/assets/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(media_type)
        assert asset.content == (ASSETS_DIR / name).read_bytes()
    assert f"swagger-ui-dist@{SWAGGER_UI_VERSION}" in (ASSETS_DIR / "README.md").read_text()  # says its source
    # Only the listed files: nothing else in the package is reachable.
    for name in ("README.md", "LICENSE", "..%2F..%2Fapp.py", "x.js"):
        assert (await client.get(f"/schema/assets/{name}")).status_code == 404


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served_app(tmp_path: Path) -> Iterator[str]:
    """The app under uvicorn on a loopback port; its base URL."""
    port = _free_port()
    env = {**os.environ, "FEESVC_DATABASE_URL": f"sqlite:///{tmp_path / 'explorer.db'}"}
    command = [sys.executable, "-m", "uvicorn", "feesvc.app:create_app", "--factory", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_headless_chromium_renders_the_explorer_with_no_network(served_app: str, tmp_path: Path) -> None:
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium (.ci/setup installs it)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    command = [
        chromium,
        "--headless",
        "--no-sandbox",  # CI runs as root
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        # Every host name fails to resolve but this server: a CDN reference would leave the page blank.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=20000",  # let Swagger UI's scripts run before the DOM is read
        "--dump-dom",
        f"{served_app}/schema",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    # Rendered by Swagger UI, not just the page's empty container: its layout, the title and the
    # operations of the document.
    assert 'class="swagger-ui"' in dom, dom[:2000]
    assert "feesvc" in dom
    assert "/api/v1/estates/{estate_id}/units" in dom
    assert "/api/v1/owners/me/payments" in dom
