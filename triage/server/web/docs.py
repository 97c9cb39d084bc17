"""The API's docs at /docs: Swagger UI's files from an installed package (fastapi-offline
ships them), started by a static script of ours, so the page works offline and under the
Content-Security-Policy (FastAPI's own /docs loads Swagger from a CDN with inline script)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Triage API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" href="/web/static/favicon.svg">
</head><body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/web/static/docs-init.js"></script>
</body></html>
"""


def mount(app: FastAPI) -> None:
    assets = files("fastapi_offline") / "static"
    app.mount("/docs/assets", StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(PAGE)
