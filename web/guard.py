"""``@requires(role)``: how every view of the workspace is declared.

The wrapper reads the request body (a form or JSON), runs :func:`web.auth.check` (session
or token, CSRF for browser POSTs, role) and only then the view, both in a worker thread
(the archive is read with blocking SQLAlchemy calls). A view is a plain function
``view(request, user, body) -> Response``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from web.auth import User, check

View = Callable[[Request, User, Any], Response]


class BadRequest(Exception):
    """A request a user can fix: 400 with this message."""


def requires(role: str) -> Callable[[View], Callable[[Request], Awaitable[Response]]]:
    def wrap(view: View) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            body: Any = None
            if request.method == "POST":
                body = await _body(request)
            ws = request.app.state.ws
            user = await run_in_threadpool(check, ws.archive, request, role, body)
            return await run_in_threadpool(view, request, user, body)

        endpoint.__name__ = view.__name__
        endpoint.__doc__ = view.__doc__
        endpoint.required_role = role  # type: ignore[attr-defined]
        return endpoint

    return wrap


async def _body(request: Request) -> Any:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return await request.form()
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise BadRequest("the body is not JSON (send Content-Type: application/json)") from None
