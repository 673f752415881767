"""The ASGI app of `wpwatch serve`: routes, session cookies, security headers, errors.

Every route but ``/login`` and ``/static/*`` is declared ``@requires(role)``
(web.guard), so nothing else answers without a session or a token: pages redirect to
/login, the API answers 401. Every response carries a Content-Security-Policy that
allows no script at all, styles and images from this origin only, and forms posting only
here; and headers that forbid framing, sniffing and referrers.
"""

from __future__ import annotations

import secrets
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive.store import Archive
from web import api, views
from web.auth import Forbidden, NotAuthenticated
from web.guard import BadRequest
from web.templating import report_css
from web.workspace import Workspace

CSP = ("default-src 'none'; script-src 'none'; object-src 'none'; style-src 'self'; "
       "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
SESSION_DAYS = 14


class SecurityHeaders:
    """Adds :data:`HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def not_authenticated(request: Request, _exc: Exception) -> Response:
    if _is_api(request):
        return JSONResponse({"error": "log in or send Authorization: Bearer TOKEN "
                                      "(`wpwatch users token NAME` makes one)"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    return HTMLResponse("log in first", status_code=401)


async def forbidden(request: Request, exc: Exception) -> Response:
    return _error(request, 403, "Forbidden", str(exc) or "not allowed")


async def bad_request(request: Request, exc: Exception) -> Response:
    return _error(request, 400, "Bad request", str(exc))


def _error(request: Request, status: int, heading: str, message: str) -> Response:
    if _is_api(request):
        return JSONResponse({"error": message}, status_code=status)
    return views.page(request, None, "error.html.j2", status, code=status, heading=heading,
                      message=message)


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    if name == "report.css":
        return Response(report_css(), media_type="text/css")
    if name == "web.css":
        return Response(files("web").joinpath("static/web.css").read_text(encoding="utf-8"),
                        media_type="text/css")
    return Response("not found", status_code=404, media_type="text/plain")


ROUTES = [
    Route("/login", views.login, methods=["GET", "POST"]),
    Route("/static/{name}", static),
    Route("/logout", views.logout, methods=["POST"]),
    Route("/", views.queue_page),
    Route("/changes/{change_id:int}", views.change_page),
    Route("/changes/{change_id:int}/triage", views.triage_form, methods=["POST"]),
    Route("/posts/{site_id:int}/{type}/{wp_id:int}", views.post_page),
    Route("/posts/{site_id:int}/{type}/{wp_id:int}/compare", views.compare_page),
    Route("/sites", views.sites_page),
    Route("/responses/{response_id:int}/raw", views.raw_response),
    Route("/api/changes", api.changes),
    Route("/api/changes/{change_id:int}", api.change),
    Route("/api/changes/{change_id:int}/triage", api.triage, methods=["POST"]),
    Route("/api/sites", api.sites),
]
OPEN_ROUTES = ("/login", "/static/{name}")


def create_app(archive: Archive, config_path: Path | None, *, secret_key: str | None = None,
               secure_cookies: bool = False) -> Starlette:
    """The workspace over ``archive``; sessions signed with ``secret_key`` (random when None:
    sessions then end when the server stops)."""
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=secret_key or secrets.token_urlsafe(32),
                   session_cookie="wpwatch_session", max_age=SESSION_DAYS * 86400,
                   same_site="lax", https_only=secure_cookies),
    ]
    handlers: dict[Any, Any] = {
        NotAuthenticated: not_authenticated, Forbidden: forbidden, BadRequest: bad_request,
    }
    app = Starlette(routes=ROUTES, middleware=middleware, exception_handlers=handlers)
    app.state.ws = Workspace(archive, config_path)
    return app
