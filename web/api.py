"""The JSON API: bearer tokens (``wpwatch users token NAME``) or a browser session.

* ``GET /api/changes``: the queue's filters as query parameters (site, kind, state, label,
  q, since, until, sort, page); ``changes`` holds records as `wpwatch changes --json` gives
  them plus ``state``, ``labels``, ``priority`` and ``notes``;
* ``GET /api/changes/ID``: one record, its audit trail and its report (`show --format json`);
* ``POST /api/changes/ID/triage``: ``{"state": ..., "labels": [...], "note": ...}`` (any of
  them; reviewers and admins);
* ``GET /api/sites``: each site's health and counts.

Errors are JSON ``{"error": message}`` with the HTTP status.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from archive import queries
from diffs.render import to_dict
from diffs.report import change_report
from web import queue
from web.auth import User
from web.guard import BadRequest, requires
from web.sitehealth import site_health
from web.views import apply_triage


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@requires("viewer")
def changes(request: Request, user: User, _body: Any) -> Response:
    ws = request.app.state.ws
    ws.catch_up()
    try:
        f = queue.Filters.from_query(request.query_params)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return JSONResponse(queue.listing(ws.archive, f))


@requires("viewer")
def change(request: Request, user: User, _body: Any) -> Response:
    ws = request.app.state.ws
    change_id = request.path_params["change_id"]
    stored = queries.change(ws.archive, change_id)
    if stored is None:
        return error(404, f"no change #{change_id} in the archive")
    ws.catch_up()
    record = queue.one(ws.archive, change_id)
    return JSONResponse({**(record or {}), "report": to_dict(change_report(stored))})


@requires("reviewer")
def triage(request: Request, user: User, body: Any) -> Response:
    ws = request.app.state.ws
    change_id = request.path_params["change_id"]
    if not isinstance(body, dict):
        raise BadRequest('send a JSON object: {"state": ..., "labels": [...], "note": ...}')
    unknown = set(body) - {"state", "labels", "note", "csrf"}
    if unknown:
        raise BadRequest(f"unknown key(s) {', '.join(sorted(unknown))}: use state, labels, note")
    if queries.change(ws.archive, change_id) is None:
        return error(404, f"no change #{change_id} in the archive")
    apply_triage(ws, change_id, user, body.get("state"), body.get("labels"), body.get("note"))
    return JSONResponse(queue.one(ws.archive, change_id))


@requires("viewer")
def sites(request: Request, user: User, _body: Any) -> Response:
    ws = request.app.state.ws
    return JSONResponse(site_health(ws.archive, ws.conf))
