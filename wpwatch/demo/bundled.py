"""The bundled demo data set: ``data/site.json`` and ``data/posts.json`` as a :class:`DemoSite`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from typing import Any

from wpwatch.demo.site import DemoSite


def _data_text(name: str) -> str:
    return resources.files("wpwatch.demo").joinpath("data", name).read_text(encoding="utf-8")


def load_demo_site(*, clock: Callable[[], datetime] | None = None, **site_kwargs: Any) -> DemoSite:
    """The bundled advocacy demo site: the iuhrdf fixture, nine more posts and two pages.

    Settings, authors and terms come from ``data/site.json``; posts from
    ``data/posts.json`` (WordPress REST records).  Keyword arguments go to
    :class:`DemoSite`.
    """
    settings = json.loads(_data_text("site.json"))
    kwargs: dict[str, Any] = {
        "description": settings.get("description", ""),
        "gmt_offset": settings.get("gmt_offset", 0),
        "authors": {int(k): v for k, v in settings.get("authors", {}).items()},
    }
    kwargs.update(site_kwargs)
    site = DemoSite(settings.get("name", "Demo Site"), clock=clock, **kwargs)
    for tax in settings.get("taxonomies", []):
        site.register_taxonomy(
            tax["slug"],
            rest_base=tax.get("rest_base"),
            name=tax.get("name"),
            types=tax.get("types", ["post"]),
            hierarchical=tax.get("hierarchical", False),
        )
    for taxonomy, terms in settings.get("terms", {}).items():
        for term in terms:
            if any(term["id"] in t for t in site._terms.values()):
                continue
            site.add_term(
                taxonomy,
                term["name"],
                slug=term.get("slug"),
                id=term["id"],
                parent=term.get("parent", 0),
                description=term.get("description", ""),
            )
    site.load_fixture(json.loads(_data_text("posts.json")))
    return site
