"""Marketing's workspace: server-rendered pages (Jinja2, autoescaped) served by `triage
server run` itself under /web/, with its static files, the security headers of every
response, and the API docs at /docs served from a package (no CDN, no inline script).

`mount(app, public_url=...)` adds all of it to the FastAPI app of create_app.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HERE = Path(__file__).parent

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Every response carries the Content-Security-Policy (no inline script, no inline
    style) and the headers that keep pages out of frames and types unsniffed."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in HEADERS if k not in names
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def mount(app: FastAPI, *, public_url: str | None = None) -> None:
    from triage.server.web import docs, hooks, pages

    app.state.public_url = public_url
    app.include_router(pages.router)
    app.include_router(hooks.router)
    pages.install(app)
    app.mount("/web/static", StaticFiles(directory=HERE / "static"), name="web-static")
    docs.mount(app)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/web/", status_code=303)

    app.add_middleware(SecurityHeaders)
