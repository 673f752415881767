"""A post as the REST API shows it: the record, its links and its permalink.

Each post's record is rendered once per change and cached as bytes, so a
``per_page=100`` listing is a join of cached byte strings.
"""

from __future__ import annotations

import json
from typing import Any

from wpwatch.demo.model import (
    Post,
    PostType,
    Term,
)
from wpwatch.demo.php import (
    auto_excerpt,
    php_json,
    rest_date,
)
from wpwatch.demo.site_model import SiteModel

CURIES = [{"name": "wp", "href": "https://api.w.org/{rel}", "templated": True}]


class PostRecords(SiteModel):
    """Render posts to REST records (view context) and compute public links."""

    def record(self, post_id: int) -> dict:
        """The full REST record (view context) whatever the status, as a fresh dict."""
        with self._lock:
            return json.loads(self._rendered(self._get(post_id))[1])

    def permalink(self, post: Post) -> str:
        if not self.pretty_permalinks or not post.slug:
            if post.type == "page":
                return f"{self._home}/?page_id={post.id}"
            if post.type == "post":
                return f"{self._home}/?p={post.id}"
            return f"{self._home}/?post_type={post.type}&p={post.id}"
        if post.type == "post":
            return f"{self._home}/{post.slug}/"
        if post.type == "page":
            parts = [post.slug]
            seen = {post.id}
            parent = self._posts.get(post.parent)
            while parent is not None and parent.id not in seen:
                parts.insert(0, parent.slug)
                seen.add(parent.id)
                parent = self._posts.get(parent.parent)
            return f"{self._home}/{'/'.join(parts)}/"
        return f"{self._home}/{post.type}/{post.slug}/"

    def _term_link(self, term: Term) -> str:
        if not self.pretty_permalinks:
            key = {"category": "cat", "post_tag": "tag"}.get(term.taxonomy, term.taxonomy)
            value = term.id if key == "cat" else term.slug
            return f"{self._home}/?{key}={value}"
        base = {"category": "category", "post_tag": "tag"}.get(term.taxonomy, term.taxonomy)
        return f"{self._home}/{base}/{term.slug}/"

    def _render_key(self, post: Post) -> tuple:
        return (self._render_gen, post._rev, self._home, self.pretty_permalinks)

    def _rendered(self, post: Post) -> tuple[dict, bytes]:
        key = self._render_key(post)
        cache = post._cache
        if cache is not None and cache[0] == key:
            return cache[1], cache[2]
        data = self._render_post(post)
        body = php_json(data)
        post._cache = (key, data, body)
        return data, body

    def _render_post(self, p: Post) -> dict:
        pt = self._types[p.type]
        sup = pt.supports
        base = pt.rest_base
        protected = bool(p.password)
        d: dict[str, Any] = {
            "id": p.id,
            "date": rest_date(p.date),
            "date_gmt": rest_date(p.date_gmt),
            "guid": {
                "rendered": p.guid
                or (
                    f"{self._home}/?page_id={p.id}"
                    if p.type == "page"
                    else f"{self._home}/?p={p.id}"
                )
            },
            "modified": rest_date(p.modified),
            "modified_gmt": rest_date(p.modified_gmt),
            "slug": p.slug,
            "status": p.status,
            "type": p.type,
            "link": self.permalink(p),
        }
        if "title" in sup:
            d["title"] = {"rendered": ("Protected: " + p.title) if protected else p.title}
        if "editor" in sup:
            d["content"] = {"rendered": "" if protected else p.content, "protected": protected}
        if "excerpt" in sup:
            excerpt = p.excerpt if p.excerpt is not None else auto_excerpt(p.content)
            d["excerpt"] = {"rendered": "" if protected else excerpt, "protected": protected}
        if "author" in sup:
            d["author"] = p.author
        if "thumbnail" in sup:
            d["featured_media"] = p.featured_media
        if pt.hierarchical:
            d["parent"] = p.parent
        if "page-attributes" in sup:
            d["menu_order"] = p.menu_order
        if "comments" in sup:
            d["comment_status"] = p.comment_status
            d["ping_status"] = p.ping_status
        if p.type == "post":
            d["sticky"] = p.sticky
        d["template"] = p.template
        if "post-formats" in sup:
            d["format"] = p.format
        d["meta"] = p.meta if p.meta is not None else []
        for tax_slug in pt.taxonomies:
            tax = self._taxonomies.get(tax_slug)
            if tax is not None and tax.forbidden is None:
                d[tax.rest_base] = list(p.terms.get(tax_slug, []))
        d["class_list"] = self._class_list(p, pt)
        for key, value in p.extra.items():
            d.setdefault(key, value)
        d["_links"] = self._post_links(p, pt, base)
        return d

    def _class_list(self, p: Post, pt: PostType) -> list[str]:
        classes = [f"post-{p.id}", p.type, f"type-{p.type}", f"status-{p.status}"]
        if "post-formats" in pt.supports:
            classes.append(f"format-{p.format or 'standard'}")
        if p.password:
            classes.append("post-password-required")
        if p.featured_media:
            classes.append("has-post-thumbnail")
        classes.append("hentry")
        for tax_slug in pt.taxonomies:
            terms = self._terms.get(tax_slug, {})
            prefix = {"category": "category", "post_tag": "tag"}.get(tax_slug, tax_slug)
            for term_id in p.terms.get(tax_slug, []):
                term = terms.get(term_id)
                if term is not None:
                    classes.append(f"{prefix}-{term.slug}")
        return classes

    def _post_links(self, p: Post, pt: PostType, base: str) -> dict:
        self_url = self.rest_url(f"wp/v2/{base}/{p.id}")
        links: dict[str, Any] = {
            "self": [{"href": self_url, "targetHints": {"allow": ["GET"]}}],
            "collection": [{"href": self.rest_url(f"wp/v2/{base}")}],
            "about": [{"href": self.rest_url(f"wp/v2/types/{p.type}")}],
        }
        if "author" in pt.supports and p.author:
            links["author"] = [
                {"embeddable": True, "href": self.rest_url(f"wp/v2/users/{p.author}")}
            ]
        if "comments" in pt.supports:
            links["replies"] = [
                {"embeddable": True, "href": self.rest_url("wp/v2/comments", f"post={p.id}")}
            ]
        if "revisions" in pt.supports:
            links["version-history"] = [
                {"count": len(p.revisions), "href": self_url + "/revisions"}
            ]
            if p.revisions:
                last = p.revisions[-1]
                links["predecessor-version"] = [
                    {"id": last, "href": f"{self_url}/revisions/{last}"}
                ]
        if pt.hierarchical and p.parent:
            links["up"] = [{"embeddable": True, "href": self.rest_url(f"wp/v2/{base}/{p.parent}")}]
        if p.featured_media:
            links["wp:featuredmedia"] = [
                {"embeddable": True, "href": self.rest_url(f"wp/v2/media/{p.featured_media}")}
            ]
        links["wp:attachment"] = [{"href": self.rest_url("wp/v2/media", f"parent={p.id}")}]
        terms = []
        for tax_slug in pt.taxonomies:
            tax = self._taxonomies.get(tax_slug)
            if tax is None or tax.forbidden is not None:
                continue
            terms.append(
                {
                    "taxonomy": tax_slug,
                    "embeddable": True,
                    "href": self.rest_url(f"wp/v2/{tax.rest_base}", f"post={p.id}"),
                }
            )
        if terms:
            links["wp:term"] = terms
        links["curies"] = CURIES
        return links
