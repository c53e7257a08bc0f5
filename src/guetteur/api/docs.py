"""`/api/docs`: Swagger UI served from the installed package, never from a CDN.

FastAPI's default page loads Swagger UI's JavaScript and CSS from a CDN, so on a network
without internet access (many SOC networks) the page stays blank. Here the page is FastAPI's
own `get_swagger_ui_html`, pointed at the dist files of the pinned `swagger-ui-bundle-v2`
package, served under `/api/docs/assets/`. Only the files the page needs are served (the
bundle also holds a demo `index.html` that loads a remote example API), and the validator
badge, which would call an online validator, is switched off.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from swagger_ui_bundle import swagger_ui_path

DOCS_URL = "/api/docs"
ASSETS_URL = "/api/docs/assets"
OAUTH2_REDIRECT_URL = "/api/docs/oauth2-redirect"
SCRIPT = "swagger-ui-bundle.js"
STYLESHEET = "swagger-ui.css"
FAVICON = "favicon-32x32.png"


class SwaggerAssets(StaticFiles):
    """Swagger UI's dist folder, limited to the files the docs page loads."""

    served = frozenset({SCRIPT, STYLESHEET, FAVICON})

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in self.served:
            raise HTTPException(status.HTTP_404_NOT_FOUND)
        return await super().get_response(path, scope)


def mount_docs(app: FastAPI, openapi_url: str) -> None:
    """Serve Swagger UI at `DOCS_URL` for the schema at `openapi_url` (create the app with
    `docs_url=None` so FastAPI's CDN page is not there too)."""
    app.mount(ASSETS_URL, SwaggerAssets(directory=Path(str(swagger_ui_path))), name="swagger-ui-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - API",
            swagger_js_url=f"{root}{ASSETS_URL}/{SCRIPT}",
            swagger_css_url=f"{root}{ASSETS_URL}/{STYLESHEET}",
            swagger_favicon_url=f"{root}{ASSETS_URL}/{FAVICON}",
            oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
