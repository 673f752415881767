"""The workspace's pages: the report's Jinja2 environment with the workspace's templates first.

The change and compare pages extend the report's own ``change.html.j2``: the same diff
views, escaping (autoescape, ``finalize``) and sanitizer as `wpwatch show --format html`.
The workspace's ``base.html.j2`` takes the place of the report's, so the pages get the
workspace's navigation and its stylesheets from /static instead of an inline one; the
HTTP headers carry the Content-Security-Policy (see ``web.app``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader
from markupsafe import Markup

from diffs.render import environment as report_environment
from diffs.render import is_web_url, one_line
from diffs.report import Report
from diffs.sanitize import sanitize


@cache
def environment() -> Environment:
    base = report_environment("html")
    env = base.overlay(loader=ChoiceLoader([PackageLoader("web", "templates"),
                                            PackageLoader("diffs", "templates")]))
    env.filters = dict(base.filters)
    env.globals = dict(base.globals)
    env.filters["score"] = lambda value: f"{float(value):.2f}"
    return env


def render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(**values)


def report_values(report: Report) -> dict[str, Any]:
    """What the report's change template needs, exactly as ``diffs.render.render_html``
    builds it: the post's own HTML only through the sanitizer."""
    c = report.comparison
    rendering = None
    if c.content_html is not None:
        rendering = Markup(sanitize(c.content_html, base_url=c.url if is_web_url(c.url) else None))
    return {"title": f"{c.kind}: {one_line(c.title) or '(no title)'}", "r": report, "c": c,
            "x": report.context, "rendering": rendering}


@cache
def report_css() -> str:
    return report_environment("html").get_template("report.css").render()
