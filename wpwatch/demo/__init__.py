"""A WordPress-compatible demo server and its bundled data set.

``wpwatch demo`` uses it so a newcomer without internet can watch a site
change; tests and benchmarks use :class:`DemoServer` as a fast stand-in for
WordPress. It answers the anonymous, read-only part of the REST API the way a
real WordPress 6.1 does (routes, status codes, error bodies, headers, dates,
``_fields``, pagination), plus a home page, ``robots.txt``, an RSS feed and the
core sitemaps, as docs/wordpress-rest.md describes it. Only the standard library is used.

One module per job:

- ``site``: :class:`DemoSite`, one site in memory; routes one request to its part
- ``site_model``: its data and settings (types, taxonomies, terms, authors, posts)
- ``model``: the dataclasses (post type, taxonomy, term, post) and the default types
- ``editing``: changing posts as the editor, importers, plugins and cron do
- ``fixtures``: loading posts given as WordPress REST records
- ``records``: a post as the REST API shows it (record, links, permalink)
- ``rest``: the REST entry point (headers, routing, index, types, taxonomies)
- ``rest_posts``: post-type routes (listings and their parameters, single posts)
- ``rest_terms``: taxonomy routes (term listings, single terms)
- ``params``: query parameters, ``_fields``, REST errors and pagination links
- ``pages``: the HTML front end (home, post pages, 404, ``robots.txt``)
- ``feeds``: the RSS feed and the core sitemaps
- ``faults``: failing on purpose (queued failures, REST lockouts)
- ``stats``: request and byte counters
- ``serving``: :class:`DemoServer`, HTTP listeners on background threads
- ``bundled``: :func:`load_demo_site`, the bundled data set
- ``changes``: :func:`apply_demo_changes`, the scripted changes of ``wpwatch demo``
- ``server``: ``python -m wpwatch.demo.server``; re-exports the public names
- ``php``, ``clock``, ``response``: PHP value conventions, the site clock, one answer
"""

from __future__ import annotations

from wpwatch.demo.bundled import load_demo_site
from wpwatch.demo.changes import apply_demo_changes
from wpwatch.demo.clock import ManualClock
from wpwatch.demo.model import Post, PostType, Taxonomy, Term
from wpwatch.demo.response import Response
from wpwatch.demo.serving import DemoServer
from wpwatch.demo.site import DemoSite

__all__ = [
    "DemoServer",
    "DemoSite",
    "ManualClock",
    "Post",
    "PostType",
    "Response",
    "Taxonomy",
    "Term",
    "apply_demo_changes",
    "load_demo_site",
]
