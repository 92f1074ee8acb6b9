"""The API explorer at /schema works with no network (issue 18 item 3): its Swagger UI ships in
the package, and headless Chromium, refused every host but this server, renders the operations."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from feesvc.explorer import ASSETS, ASSETS_DIR, SWAGGER_UI_VERSION
from tests.browser_support import chromium


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


@pytest.fixture
def served_app(serve: Callable[..., str], tmp_path: Path) -> str:
    """The app over HTTP on a database of its own; its base URL."""
    return serve({"FEESVC_DATABASE_URL": f"sqlite:///{tmp_path / 'explorer.db'}"})


def test_headless_chromium_renders_the_explorer_with_no_network(served_app: str, tmp_path: Path) -> None:
    command = [
        chromium(),
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
