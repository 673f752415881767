"""The public HTML side of the site: home page, post pages, 404 and ``robots.txt``.

Every page carries the ``rel="https://api.w.org/"`` link that discovery looks for.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from wpwatch.demo.model import (
    Post,
)
from wpwatch.demo.php import (
    WP_VERSION,
    plain_text,
    rest_date,
    xml_escape,
)
from wpwatch.demo.records import PostRecords
from wpwatch.demo.response import Response


class FrontPages(PostRecords):
    """Render the home page, a post's page and the 404 page; find a post by its path."""

    def _front_headers(
        self, content_type: str = "text/html; charset=UTF-8"
    ) -> list[tuple[str, str]]:
        return [
            ("Content-Type", content_type),
            ("Link", f'<{self.api_root}>; rel="https://api.w.org/"'),
        ]

    def _find_by_path(self, slug_path: str) -> Post | None:
        parts = slug_path.split("/")
        if len(parts) == 2 and parts[0] in self._types and parts[0] not in ("post", "page"):
            ptype, slug = parts
            for post in self._posts.values():
                if post.type == ptype and post.slug == slug and post.status == "publish":
                    return post
            return None
        for post in self._posts.values():
            if (
                post.status == "publish"
                and post.type in ("post", "page")
                and self.permalink(post) == f"{self._home}/{slug_path}/"
            ):
                return post
        return None

    def _head(self, title: str, extra: str = "") -> str:
        return (
            f'<!DOCTYPE html>\n<html lang="{self.language}">\n<head>\n<meta charset="UTF-8" />\n'
            f"<title>{xml_escape(title)}</title>\n"
            '<link rel="alternate" type="application/rss+xml" '
            f'title="{xml_escape(self.name)} &raquo; '
            f'Feed" href="{xml_escape(self._feed_url())}" />\n'
            f'<link rel="https://api.w.org/" href="{xml_escape(self.api_root)}" />\n{extra}'
            f'<meta name="generator" content="WordPress {WP_VERSION}" />\n</head>\n'
        )

    def _home_page(self) -> Response:
        latest = sorted(
            (p for p in self._posts.values() if p.type == "post" and p.status == "publish"),
            key=lambda p: (p.date, p.id),
            reverse=True,
        )[:10]
        items = "\n".join(
            f'<article id="post-{p.id}">'
            f'<h2><a href="{xml_escape(self.permalink(p))}">{p.title}</a></h2>'
            f'<time datetime="{rest_date(p.date_gmt)}+00:00">{rest_date(p.date)}</time></article>'
            for p in latest
        )
        page = (
            self._head(self.name) + f'<body class="home blog">\n<h1>{xml_escape(self.name)}</h1>\n'
            f"<p>{xml_escape(self.description)}</p>\n<main>\n{items}\n</main>\n</body>\n</html>\n"
        )
        return Response(200, self._front_headers(), page.encode())

    def _post_page(self, post: Post) -> Response:
        route = f"wp/v2/{self._types[post.type].rest_base}/{post.id}"
        rest = self.rest_url(route)
        extra = f'<link rel="alternate" type="application/json" href="{xml_escape(rest)}" />\n'
        content = "<p>This content is password protected.</p>" if post.password else post.content
        page = (
            self._head(f"{plain_text(post.title)} – {self.name}", extra)
            + f'<body class="single postid-{post.id}">\n<article id="post-{post.id}">\n'
            f"<h1>{post.title}</h1>\n{content}\n</article>\n</body>\n</html>\n"
        )
        headers = self._front_headers()
        headers.append(("Link", f'<{rest}>; rel="alternate"; type="application/json"'))
        shortlink = (
            f"{self._home}/?page_id={post.id}"
            if post.type == "page"
            else f"{self._home}/?p={post.id}"
        )
        headers.append(("Link", f"<{shortlink}>; rel=shortlink"))
        return Response(200, headers, page.encode())

    def _not_found(self) -> Response:
        page = (
            self._head(f"Page not found – {self.name}")
            + '<body class="error404">\n<h1>Nothing here</h1>\n</body>\n</html>\n'
        )
        return Response(404, self._front_headers(), page.encode())

    def robots(self) -> str:
        """The ``robots.txt`` body (WordPress's default unless ``robots_txt`` was given)."""
        if self.robots_txt is not None:
            return self.robots_txt
        path = urlsplit(self._home).path
        return (
            f"User-agent: *\nDisallow: {path}/wp-admin/\n"
            f"Allow: {path}/wp-admin/admin-ajax.php\n\n"
            f"Sitemap: {self._home}/wp-sitemap.xml\n"
        )

    def _feed_url(self) -> str:
        return self._home + ("/feed/" if self.pretty_permalinks else "/?feed=rss2")
