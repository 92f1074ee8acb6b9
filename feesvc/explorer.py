"""The API explorer at ``/schema``: Swagger UI served from the package, so it works with no network.

Litestar's render plugins load their scripts from a CDN by default; this one points Swagger UI at
copies shipped in ``feesvc/static/swagger-ui`` (see the README there for where they come from and
their licence) and serves them itself, under ``/schema/assets/``. The OpenAPI document is inlined
in the page, so the explorer makes no request but to this server.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.router import Router

SWAGGER_UI_VERSION: Final = "5.18.2"
ASSETS_DIR: Final = Path(__file__).parent / "static" / "swagger-ui"
# Served by name from this list only: nothing else in the package is reachable through the route.
ASSETS: Final = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


@cache
def _asset(name: str) -> bytes:
    return (ASSETS_DIR / name).read_bytes()


@get("/assets/{name:str}", sync_to_thread=False, include_in_schema=False)
def explorer_asset(name: str) -> Response[bytes]:
    if name not in ASSETS:
        raise NotFoundException(f"no explorer asset {name!r}")
    # The files change only with the package: a day in the browser's cache is safe.
    return Response(_asset(name), media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})


class LocalSwaggerRenderPlugin(SwaggerRenderPlugin):
    """Swagger UI with its scripts, stylesheet and icon from this server, under ``{schema_path}/assets``."""

    def __init__(self, schema_path: str, path: str | list[str]) -> None:
        assets = f"{schema_path.rstrip('/')}/assets"
        super().__init__(
            js_url=f"{assets}/swagger-ui-bundle.js",
            css_url=f"{assets}/swagger-ui.css",
            standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>",
            path=path,
        )

    def receive_router(self, router: Router) -> None:
        super().receive_router(router)
        router.register(explorer_asset)


def explorer_plugins(schema_path: str) -> list[SwaggerRenderPlugin]:
    """The render plugins for ``OpenAPIConfig``: Swagger UI at the schema path and at ``/swagger``."""
    return [LocalSwaggerRenderPlugin(schema_path, path=["/", "/swagger"])]
