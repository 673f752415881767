"""The scripted changes of ``wpwatch demo``: one of each kind a watcher must find."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from wpwatch.demo.site import DemoSite

_DEMO_ROLES = {"edit": 4561, "unpublish": 4575, "retitle": 4583, "terms": 4590, "delete": 4598}


def apply_demo_changes(site: DemoSite) -> list[dict[str, Any]]:
    """Make the changes a watcher should find on the demo site, one of each kind.

    Run it on a site from :func:`load_demo_site` after a first (baseline) crawl.
    Returns one description per change: ``{"kind", "id", "what"}``, where
    ``kind`` is what wpwatch should report and ``what`` says in plain words,
    for the demo's reader, what happened to the post.
    """
    r = _DEMO_ROLES
    with site._lock:
        statement = site.post(r["edit"])
        site.edit(
            r["edit"],
            content=statement.content.replace(
                "The Foundation calls on the members", "The Foundation invites the members", 1
            ).replace("to act on the findings immediately", "to consider the findings", 1),
        )
        site.unpublish(r["unpublish"])
        site.delete(r["delete"])
        site.edit(r["retitle"], title="Report: Families Separated &#8211; Testimonies from Abroad")
        site.set_terms(r["terms"], tags=[12, 14, 11])
        backdated = site.add(
            "Statement on the Closure of Community Language Schools",
            "<p>The Foundation condemns the closure of community language schools and calls "
            "for them to reopen.</p>\n",
            date=site.now() - timedelta(days=30),
            author=2,
            categories=[3],
            tags=[11],
        )
    return [
        {
            "kind": "edited",
            "id": r["edit"],
            "what": 'a statement\'s demands quietly softened: "calls on" became "invites", '
            'and "act on the findings immediately" became "consider the findings"',
        },
        {
            "kind": "unpublished",
            "id": r["unpublish"],
            "what": "a press release taken down (made a draft): WordPress now refuses it to "
            "anonymous readers, so wpwatch calls it unpublished",
        },
        {
            "kind": "deleted",
            "id": r["delete"],
            "what": "a news post deleted for good: WordPress now says it does not exist",
        },
        {"kind": "edited", "id": r["retitle"], "what": "a report given a new title"},
        {
            "kind": "edited",
            "id": r["terms"],
            "what": "a tag added the way some plugins and bulk tools do it, without "
            'updating the post\'s "last modified" time',
        },
        {
            "kind": "new",
            "id": backdated,
            "what": "a new statement published with a date 30 days in the past, where a "
            "reader looking at recent posts would not see it",
        },
    ]
