"""The web console (`web/`, built by `scripts/setup.sh`) served at `/` by the API process.

The built files live in the package (`guetteur/console/`, written by `npm run build` in `web/`),
so Guetteur stays one process and a wheel built after the console carries it. Any path that is
not a file of the build answers the console's `index.html` (the console routes in the browser:
`/explorer?q=...` is a shareable address), except under `/api`, which keeps its JSON 404s.
Hashed assets (`/assets/*`) are cached for a year; `index.html` never, so an upgrade is seen at
once. Without a build, `/` says how to make one.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, status
from fastapi.responses import FileResponse, PlainTextResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
_NOT_BUILT = ("The web console is not built. Run ./scripts/setup.sh with npm installed "
              "(or `npm ci && npm run build` in web/); the API is at /api/docs.\n")
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                               "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ConsoleFiles(StaticFiles):
    """The build folder, with the single-page fallback to `index.html` outside `/api`."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path == "api" or path.startswith("api/"):
            raise HTTPException(status.HTTP_404_NOT_FOUND)
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != status.HTTP_404_NOT_FOUND or path.startswith("assets/"):
                raise
            response = FileResponse(Path(str(self.directory)) / "index.html")
        if path.startswith("assets/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers["Cache-Control"] = "no-cache"
        response.headers.update(_SECURITY_HEADERS)
        return response


def mount_console(app: FastAPI, directory: Path = CONSOLE_DIR) -> bool:
    """Serve the console at `/` (after every other route); False when it is not built."""
    if (directory / "index.html").is_file():
        app.mount("/", ConsoleFiles(directory=directory, html=True), name="console")
        return True

    @app.get("/", include_in_schema=False)
    async def console_not_built() -> PlainTextResponse:
        return PlainTextResponse(_NOT_BUILT, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)

    return False
