"""What a WordPress site is made of: post types, taxonomies, terms and posts.

Plain dataclasses plus the types and taxonomies a fresh WordPress 6.1 registers;
the site that holds and changes them is :class:`~wpwatch.demo.site_model.SiteModel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STATUSES = ("publish", "future", "draft", "pending", "private", "trash")
ALL_STATUS_ENUM = (
    "publish",
    "future",
    "draft",
    "pending",
    "private",
    "trash",
    "auto-draft",
    "inherit",
    "request-pending",
    "request-confirmed",
    "request-failed",
    "request-completed",
    "any",
)


@dataclass
class PostType:
    """A post type as ``/wp/v2/types`` shows it.

    ``kind`` is ``"posts"`` for a real collection, ``"empty"`` for one that
    answers ``[]`` (media, blocks, navigation) and ``"forbidden"`` for one that
    answers 401 to anonymous clients (``forbidden`` holds code and message).
    """

    slug: str
    rest_base: str
    name: str
    hierarchical: bool = False
    taxonomies: list[str] = field(default_factory=list)
    supports: frozenset[str] = frozenset(
        {"title", "editor", "author", "excerpt", "thumbnail", "comments", "revisions"}
    )
    icon: str | None = None
    kind: str = "posts"
    forbidden: tuple[str, str] | None = None
    has_archive: bool | str = False
    description: str = ""


@dataclass
class Taxonomy:
    slug: str
    rest_base: str
    name: str
    types: list[str]
    hierarchical: bool = False
    forbidden: tuple[str, str] | None = None
    description: str = ""


@dataclass
class Term:
    id: int
    taxonomy: str
    name: str
    slug: str
    parent: int = 0
    description: str = ""


@dataclass(eq=False)
class Post:
    """One row of ``wp_posts`` (plus its terms), stored with both date columns.

    ``date``/``modified`` are the site-local columns and ``date_gmt``/
    ``modified_gmt`` the UTC ones, all naive datetimes.  Like WordPress, the
    local columns are written once with the offset in force at that moment;
    changing the site timezone later does not rewrite them.  ``title``,
    ``content`` and ``excerpt`` are the rendered HTML; ``excerpt=None`` means
    "generate from the content" as WordPress does.
    """

    id: int
    type: str
    status: str
    date: datetime
    date_gmt: datetime
    modified: datetime
    modified_gmt: datetime
    slug: str = ""
    title: str = ""
    content: str = ""
    excerpt: str | None = None
    author: int = 1
    featured_media: int = 0
    sticky: bool = False
    password: str = ""
    parent: int = 0
    menu_order: int = 0
    comment_status: str = "open"
    ping_status: str = "open"
    template: str = ""
    format: str = "standard"
    meta: Any = None
    guid: str | None = None
    terms: dict[str, list[int]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    revisions: list[int] = field(default_factory=list)
    floating_date: bool = False
    trashed_status: str | None = None
    # a copy of the title/content/excerpt stored in the last revision
    revision_snapshot: tuple[str, str, str | None] | None = None
    # render cache: (key, full dict, full bytes)
    _cache: tuple[Any, dict, bytes] | None = field(default=None, repr=False)
    _rev: int = 0


def default_types() -> dict[str, PostType]:
    post_supports = frozenset(
        {
            "title",
            "editor",
            "author",
            "excerpt",
            "thumbnail",
            "comments",
            "revisions",
            "post-formats",
        }
    )
    page_supports = frozenset(
        {
            "title",
            "editor",
            "author",
            "excerpt",
            "thumbnail",
            "comments",
            "revisions",
            "page-attributes",
        }
    )
    tmpl = (
        "rest_cannot_manage_templates",
        "Sorry, you are not allowed to access the templates on this site.",
    )
    types = [
        PostType(
            "post",
            "posts",
            "Posts",
            taxonomies=["category", "post_tag"],
            supports=post_supports,
            icon="dashicons-admin-post",
        ),
        PostType(
            "page",
            "pages",
            "Pages",
            hierarchical=True,
            supports=page_supports,
            icon="dashicons-admin-page",
        ),
        PostType("attachment", "media", "Media", icon="dashicons-admin-media", kind="empty"),
        PostType(
            "nav_menu_item",
            "menu-items",
            "Navigation Menu Items",
            taxonomies=["nav_menu"],
            icon="dashicons-admin-post",
            kind="forbidden",
            forbidden=("rest_cannot_view", "Sorry, you are not allowed to view menu items."),
        ),
        PostType(
            "wp_block", "blocks", "Reusable blocks", icon="dashicons-admin-post", kind="empty"
        ),
        PostType(
            "wp_template",
            "templates",
            "Templates",
            icon="dashicons-admin-post",
            kind="forbidden",
            forbidden=tmpl,
        ),
        PostType(
            "wp_template_part",
            "template-parts",
            "Template Parts",
            icon="dashicons-admin-post",
            kind="forbidden",
            forbidden=tmpl,
        ),
        PostType(
            "wp_navigation",
            "navigation",
            "Navigation Menus",
            icon="dashicons-admin-post",
            kind="empty",
        ),
    ]
    return {t.slug: t for t in types}


def default_taxonomies() -> dict[str, Taxonomy]:
    return {
        "category": Taxonomy("category", "categories", "Categories", ["post"], hierarchical=True),
        "post_tag": Taxonomy("post_tag", "tags", "Tags", ["post"]),
        "nav_menu": Taxonomy(
            "nav_menu",
            "menus",
            "Navigation Menus",
            ["nav_menu_item"],
            forbidden=("rest_cannot_view", "Sorry, you are not allowed to view menus."),
        ),
    }


REST_MODES = ("open", "disabled", "restricted", "blocked")
