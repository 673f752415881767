"""Untrusted post HTML made safe to show in a report: nh3 with a small allow-list.

Scripts, styles, event handlers, ``javascript:``/``data:`` URLs, SVG, MathML, iframes, forms
and inline styles are gone. Images, video, audio and embeds are replaced by a text
placeholder naming their source, so that opening a report never fetches anything from the
watched site (the report's Content-Security-Policy forbids it too).
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from lxml import etree

from diffs import htmltext

TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dfn",
        "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "i", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small",
        "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
        "u", "ul", "var",
    }
)  # fmt: skip
# Removed with everything inside them (the rest of the unknown tags keep their text).
DROP_WITH_CONTENT = frozenset(
    {"script", "style", "template", "noscript", "iframe", "object", "svg", "math", "head",
     "title", "textarea", "select", "noembed", "noframes", "xmp", "plaintext"}
)  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
PLACEHOLDER_CLASS = "wpw-media"
_NO_BIDI_OVERRIDES = {0x202D: None, 0x202E: None}


def sanitize(html: str, *, base_url: str | None = None) -> str:
    """Safe HTML for a report. Relative links resolve against ``base_url`` (the post's URL),
    or are dropped without one. Media become ``[image: URL]`` placeholders; bidi overrides
    (which display "evil" as "live") are removed."""
    return _cleaner(base_url).clean(_media_placeholders(html)).translate(_NO_BIDI_OVERRIDES)


@lru_cache(maxsize=64)
def _cleaner(base_url: str | None) -> nh3.Cleaner:
    web = base_url is not None and base_url.startswith(("http://", "https://"))
    return nh3.Cleaner(
        tags=set(TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={k: set(v) for k, v in ATTRIBUTES.items()},
        link_rel="noopener noreferrer nofollow",
        url_schemes=set(URL_SCHEMES),
        url_relative=("rewrite_with_base", base_url) if web and base_url else "deny",
        allowed_classes={"span": {PLACEHOLDER_CLASS}},
        strip_comments=True,
    )


def _media_placeholders(html: str) -> str:
    """Replace each image, video, audio and embed with a ``[kind: src]`` text span."""
    if not html or not any(f"<{t}" in html.lower() for t in htmltext.MEDIA):
        return html
    root = htmltext.parse(html)
    for el in list(root.iter(*(htmltext.MEDIA - {"source"}))):
        label = {"img": "image", "iframe": "embed"}.get(el.tag, el.tag)
        src = htmltext.effective_src(el)
        if not src and el.tag in ("video", "audio"):
            src = next((htmltext.effective_src(s) for s in el.iter("source")), "")
        alt = htmltext.collapse(el.get("alt") or "")
        text = f"[{label}: {src or 'no source'}" + (f" — {alt}" if alt else "") + "]"
        span = etree.Element("span", {"class": PLACEHOLDER_CLASS})
        span.text = text
        parent = el.getparent()
        if parent is None:
            continue
        # Keep what is inside: fallback text, and whatever libxml2 nests in an <embed>.
        children = list(el)
        span.tail = el.text
        index = parent.index(el)
        parent.replace(el, span)
        for offset, child in enumerate(children, 1):
            parent.insert(index + offset, child)
        last = children[-1] if children else span
        last.tail = (last.tail or "") + (el.tail or "")
    return str(etree.tostring(root, encoding="unicode", method="html"))
