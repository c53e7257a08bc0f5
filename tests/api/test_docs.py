"""`/api/docs` works without internet: Swagger UI's files come from the package."""

from __future__ import annotations

import re
from typing import Any

EXPECTED_TYPES = {".js": ("application/javascript", "text/javascript"), ".css": ("text/css",),
                  ".png": ("image/png",), ".json": ("application/json",)}


def referenced_urls(html: str) -> list[str]:
    """Every URL the page loads: script and link targets, and the schema URL its inline
    script hands Swagger UI."""
    urls = re.findall(r'(?:src|href)\s*=\s*"([^"]+)"', html)
    urls += re.findall(r"""\burl\s*:\s*['"]([^'"]+)['"]""", html)
    return urls


async def test_docs_page_loads_only_local_assets(make_running: Any) -> None:
    """The docs page names no remote host; each script, stylesheet, icon and the schema it
    references answers 200 from this server with its content type."""
    async with make_running() as running:
        page = await running.http.get("/api/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        html = page.text
        assert not re.search(r"https?://|//cdn|jsdelivr|unpkg", html), html
        urls = referenced_urls(html)
        assert {u.rsplit(".", 1)[-1] for u in urls} >= {"js", "css", "png", "json"}
        for url in urls:
            assert url.startswith("/api/"), url
            response = await running.http.get(url)
            assert response.status_code == 200, url
            suffix = "." + url.rsplit(".", 1)[-1]
            assert response.headers["content-type"].split(";")[0] in EXPECTED_TYPES[suffix], url
            assert len(response.content) > 100, url
        script = await running.http.get(next(u for u in urls if u.endswith(".js")))
        assert b"SwaggerUIBundle" in script.content


async def test_docs_assets_serve_only_the_page_files(make_running: Any) -> None:
    """The bundle's demo page (which loads a remote example API) and source maps are not
    served; nothing outside the asset folder is reachable."""
    async with make_running() as running:
        for path in ("/api/docs/assets/index.html", "/api/docs/assets/swagger-initializer.js",
                     "/api/docs/assets/swagger-ui-bundle.js.map", "/api/docs/assets/../__init__.py"):
            assert (await running.http.get(path)).status_code == 404, path
