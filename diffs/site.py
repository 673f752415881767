"""A static report site from reports: ``index.html``, one page per change, ``feed.xml``.

``build_site()`` is pure: it returns the files as ``{relative path: text}`` and the caller
writes them. The index filters by site and kind with CSS alone (radio buttons and ``:checked``
rules), because the pages' Content-Security-Policy allows no script at all.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from core.values import KINDS
from diffs.render import environment, page, render_html
from diffs.report import Report


@dataclass(frozen=True)
class Entry:
    report: Report
    href: str  # the change page, relative to the site root
    site_key: int  # index of the site in the filter list
    entry_id: str  # the Atom entry id: stable for one change of one archive
    updated: str


@dataclass(frozen=True)
class SiteFilter:
    key: int
    name: str
    url: str
    count: int


@dataclass(frozen=True)
class KindFilter:
    kind: str
    count: int


def change_path(report: Report) -> str:
    return f"changes/{report.context.change_id}.html"


def build_site(
    reports: Sequence[Report],
    *,
    generated_at: str,
    since: str | None = None,
    base_url: str | None = None,
    title: str = "wpwatch: changes",
    feed_key: str = "",
) -> dict[str, str]:
    """Every file of the report site. ``base_url`` makes the feed's links absolute;
    ``feed_key`` (e.g. the archive and the site filter) keeps the feed's id stable."""
    ordered = sorted(
        reports,
        key=lambda r: (r.context.detected_at or "", r.context.change_id or 0),
        reverse=True,
    )
    site_urls = sorted({r.context.site or "" for r in ordered})
    names = {r.context.site or "": r.context.site_name for r in ordered}
    counts = Counter(r.context.site or "" for r in ordered)
    sites = [
        SiteFilter(i, names[url] or _host(url), url, counts[url]) for i, url in enumerate(site_urls)
    ]
    key_of = {s.url: s.key for s in sites}
    kind_counts = Counter(r.comparison.kind for r in ordered)
    kinds = [KindFilter(k, kind_counts[k]) for k in KINDS if kind_counts[k]]
    entries = [
        Entry(
            report=r,
            href=change_path(r),
            site_key=key_of[r.context.site or ""],
            entry_id=_entry_id(r),
            updated=r.context.detected_at or generated_at,
        )
        for r in ordered
    ]
    files: dict[str, str] = {}
    for entry in entries:
        files[entry.href] = render_html(entry.report, index_href="../index.html")
    files["index.html"] = page(
        "index.html.j2",
        extra_css=filter_css(sites, kinds),
        title="Changes",
        changes=entries,
        sites=sites,
        kinds=kinds,
        since=since,
        generated_at=generated_at,
        index_href="index.html",
    )
    files["feed.xml"] = _feed(entries, title, generated_at, base_url, feed_key)
    return files


def filter_css(sites: Sequence[SiteFilter], kinds: Sequence[KindFilter]) -> str:
    """Rules that hide the rows a checked filter excludes and highlight the checked chip."""
    active = "{background:#1f2328;border-color:#1f2328;color:#fff}"
    active_count = "{color:#d1d9e0}"
    rules = []
    for prefix, keys in (("fs", [str(s.key) for s in sites]), ("fk", [k.kind for k in kinds])):
        for key in ["all", *keys]:
            ident = f"{prefix}-{key}"
            chip = f"#{ident}:checked~.filters label[for={ident}]"
            rules.append(f"{chip}{active}{chip} b{active_count}")
            if key != "all":
                rules.append(f"#{ident}:checked~.list .row:not(.{ident}){{display:none}}")
    return "\n" + "\n".join(rules) + "\n"


def _feed(
    entries: Sequence[Entry], title: str, generated_at: str, base_url: str | None, feed_key: str
) -> str:
    def link(href: str) -> str:
        return urljoin(base_url, href) if base_url else href

    shown = [Entry(e.report, link(e.href), e.site_key, e.entry_id, e.updated) for e in entries]
    return (
        environment("xml")
        .get_template("feed.xml.j2")
        .render(
            feed_id="urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"wpwatch:feed:{feed_key}")),
            title=title,
            updated=entries[0].updated if entries else generated_at,
            self_href=link("feed.xml") if base_url else None,
            index_href=link("index.html"),
            changes=shown,
        )
    )


def _entry_id(report: Report) -> str:
    x = report.context
    return "urn:uuid:" + str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"wpwatch:{x.site}#change-{x.change_id}@{x.detected_at}")
    )


def _host(url: str) -> str:
    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return url
