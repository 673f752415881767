"""The workspace's pages: queue, change, post timeline and compare, sites, raw bytes, login.

Each view is ``@requires(role)`` (web.guard): the one permission check runs first. Pages
are server-rendered and work without JavaScript; forms are plain GET filters and POSTs
that carry the session's CSRF token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from archive import notes, queries
from archive import schema as s
from core.values import KINDS, utcnow
from diffs.model import Context
from diffs.report import Report, change_report, compare_versions
from web import queue
from web.auth import User, csrf_token, csrf_valid, password_matches
from web.guard import BadRequest, requires
from web.sitehealth import site_health
from web.templating import render, report_values


def page(request: Request, user: User | None, template: str, status: int = 200,
         **values: Any) -> HTMLResponse:
    values.setdefault("title", "wpwatch")
    html = render(template, user=user, csrf=csrf_token(request), **values)
    return HTMLResponse(html, status_code=status)


def not_found(request: Request, user: User | None, what: str) -> HTMLResponse:
    return page(request, user, "error.html.j2", 404, code=404, heading="Not found",
                message=what)


# -- the queue --------------------------------------------------------------------------------
@requires("viewer")
def queue_page(request: Request, user: User, _body: Any) -> Response:
    ws = request.app.state.ws
    ws.catch_up()
    looked_at = request.session.get("looked_at")
    try:
        f = queue.Filters.from_query(request.query_params, looked_at=looked_at)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    result = queue.listing(ws.archive, f)
    if not user.by_token:
        notes.looked(ws.archive, user.id, utcnow())
    params = {k: v for k, v in request.query_params.items() if k != "page" and v}

    def link(**over: Any) -> str:
        return "/?" + urlencode({**params, **{k: str(v) for k, v in over.items()}})

    return page(
        request, user, "queue.html.j2", title="Changes", f=f, link=link, looked_at=looked_at,
        only_new=bool(request.query_params.get("new")), sites=queue.sites(ws.archive, counts=False),
        kinds=KINDS, states=notes.STATES, labels=ws.labels, **result,
    )


# -- a change -------------------------------------------------------------------------------
@requires("viewer")
def change_page(request: Request, user: User, _body: Any) -> Response:
    ws = request.app.state.ws
    change_id = request.path_params["change_id"]
    change = queries.change(ws.archive, change_id)
    if change is None:
        return not_found(request, user, f"no change #{change_id} in the archive")
    ws.catch_up()
    record = queue.one(ws.archive, change_id)
    report = change_report(change)
    versions = [(label, v) for label, v in (("Before", change.old), ("After", change.new))
                if v is not None and not (change.kind == "new" and label == "Before")]
    return page(
        request, user, "change_page.html.j2", index_href="/", record=record, versions=versions,
        evidence=change.evidence, may_triage=user.may("reviewer"), states=notes.STATES,
        labels=ws.labels, **report_values(report),
    )


@requires("reviewer")
def triage_form(request: Request, user: User, form: Any) -> Response:
    ws = request.app.state.ws
    change_id = request.path_params["change_id"]
    if queries.change(ws.archive, change_id) is None:
        return not_found(request, user, f"no change #{change_id} in the archive")
    labels = form.getlist("labels") if hasattr(form, "getlist") else []
    apply_triage(ws, change_id, user, form.get("state") or None, labels, form.get("note"))
    return RedirectResponse(f"/changes/{change_id}#triage", status_code=303)


def apply_triage(ws: Any, change_id: int, user: User, state: Any, labels: Any,
                 note: Any) -> None:
    """Validate and store a triage action (shared by the form and the API)."""
    if state is not None and state not in notes.STATES:
        raise BadRequest(f"state must be one of {', '.join(notes.STATES)}")
    if labels is not None:
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise BadRequest("labels must be a list of strings")
        unknown = sorted(set(labels) - set(ws.labels))
        if unknown:
            raise BadRequest(f"unknown label(s) {', '.join(unknown)}: use "
                             f"{', '.join(ws.labels)} (or add them to [defaults] labels)")
    if note is not None and not isinstance(note, str):
        raise BadRequest("note must be a string")
    notes.triage(ws.archive, change_id, user.name, state=state, labels=labels, note=note)


# -- a post: timeline and compare ----------------------------------------------------------
def _post(request: Request) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    ws = request.app.state.ws
    site_id = request.path_params["site_id"]
    site = next((r for r in ws.archive.list_sites() if r["id"] == site_id), None)
    if site is None:
        return None, None
    history = ws.archive.history(site["url"], request.path_params["type"],
                                 request.path_params["wp_id"])
    if history is not None:  # where each version's raw bytes are
        v = s.versions.c
        with ws.archive.engine.connect() as conn:
            responses = dict(conn.execute(select(v.id, v.response_id).where(
                v.post_id == history["post"]["id"])).all())
        for version in history["versions"]:
            version["response_id"] = responses.get(version["id"])
    return site, history


@requires("viewer")
def post_page(request: Request, user: User, _body: Any) -> Response:
    site, history = _post(request)
    if site is None or history is None:
        return not_found(request, user, "no such post in the archive")
    return page(request, user, "post.html.j2", title=history["post"]["title"] or "post",
                site=site, post=history["post"], versions=history["versions"],
                changes=history["changes"])


@requires("viewer")
def compare_page(request: Request, user: User, _body: Any) -> Response:
    ws = request.app.state.ws
    site, history = _post(request)
    if site is None or history is None:
        return not_found(request, user, "no such post in the archive")
    ids = {v["id"] for v in history["versions"]}
    try:
        old_id, new_id = int(request.query_params["from"]), int(request.query_params["to"])
    except (KeyError, ValueError):
        raise BadRequest("compare needs from= and to=, two version ids of this post") from None
    if old_id not in ids or new_id not in ids:
        raise BadRequest("from= and to= must be versions of this post (its timeline lists them)")
    old, new = queries.version(ws.archive, old_id), queries.version(ws.archive, new_id)
    post = history["post"]
    context = Context(None, site["url"], site["name"], post["type"], post["wp_id"], None)
    report = Report(context, compare_versions(old, new, kind="edited"))
    return page(request, user, "compare.html.j2", index_href="/", site_id=site["id"],
                **report_values(report))


# -- sites and raw bytes --------------------------------------------------------------------------
@requires("viewer")
def sites_page(request: Request, user: User, _body: Any) -> Response:
    ws = request.app.state.ws
    return page(request, user, "sites.html.j2", title="Sites",
                sites=site_health(ws.archive, ws.conf))


@requires("viewer")
def raw_response(request: Request, user: User, _body: Any) -> Response:
    ws = request.app.state.ws
    response_id = request.path_params["response_id"]
    with ws.archive.engine.connect() as conn:
        found = conn.execute(select(s.responses.c.id)
                             .where(s.responses.c.id == response_id)).first()
    if found is None:
        return not_found(request, user, f"no stored response #{response_id}")
    body = ws.archive.response_body(response_id)
    return Response(body, media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="response-{response_id}.bin"'})


# -- login and logout -------------------------------------------------------------------------
async def login(request: Request) -> Response:
    """Not guarded: the one page (with /static) open without a session."""
    from starlette.concurrency import run_in_threadpool

    ws = request.app.state.ws
    nxt = request.query_params.get("next", "/")
    if request.method == "GET":
        return page(request, None, "login.html.j2", title="Log in", error=None, next=nxt)
    form = await request.form()
    nxt = str(form.get("next") or "/")
    if not nxt.startswith("/") or nxt.startswith("//"):
        nxt = "/"
    if not csrf_valid(request, form.get("csrf")):
        return page(request, None, "login.html.j2", 403, title="Log in", next=nxt,
                    error="The form was stale: log in again.")
    name, password = str(form.get("name") or ""), str(form.get("password") or "")
    keys = (f"ip:{request.client.host if request.client else '?'}", f"name:{name}")
    wait = ws.limiter.retry_after(*keys)
    if wait:
        response = page(request, None, "login.html.j2", 429, title="Log in", next=nxt,
                        error=f"Too many failed logins: try again in {wait} s.")
        response.headers["Retry-After"] = str(wait)
        return response
    row = await run_in_threadpool(notes.user_by_name, ws.archive, name)
    ok = await run_in_threadpool(password_matches, row["password_hash"] if row else None,
                                 password)
    if not ok or row is None:
        ws.limiter.failed(*keys)
        return page(request, None, "login.html.j2", 401, title="Log in", next=nxt,
                    error="Wrong name or password.")
    ws.limiter.succeeded(keys[1])
    request.session.clear()
    request.session.update(uid=row["id"], name=row["name"], looked_at=row["last_looked_at"])
    csrf_token(request)
    return RedirectResponse(nxt, status_code=303)


@requires("viewer")
def logout(request: Request, user: User, _body: Any) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
