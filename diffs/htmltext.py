"""Reader-visible text, links, media and a noise-free markup fingerprint of rendered HTML.

Pure functions over strings and lxml trees; nothing here reads files or the network.
Extracted text is *decoded* (``&lt;img&gt;`` becomes the literal ``<img>``): escaping it is
the renderer's job.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import lxml.html
from lxml.html import HtmlElement

# Elements whose content a reader never sees as text.
SKIP_TEXT = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "head", "title"}
)
# Elements that start a new block of text (one string per block).
BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1",
        "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "main",
        "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr",
        "ul",
    }
)  # fmt: skip
CELL = frozenset({"td", "th"})
CELL_SEPARATOR = " | "
MEDIA = frozenset({"img", "video", "audio", "source", "iframe", "embed"})
# Where lazy-loading plugins move the real src (src then holds a data: placeholder).
LAZY_SRC = ("data-lazy-src", "data-src", "data-original")
URL_ATTRS = frozenset({"href", "src", "poster", "action", "cite", "data", "formaction"})
# Attributes that change without an editorial change (responsive images, lazy loading).
VOLATILE_ATTRS = frozenset(
    {"srcset", "sizes", "loading", "decoding", "fetchpriority", "nonce", "data-srcset",
     "data-lazy-srcset", "data-sizes", "data-lazy-sizes", *LAZY_SRC}
)  # fmt: skip

_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NONCE_NAME = re.compile(r"nonce", re.IGNORECASE)
_NONCE_VALUE = re.compile(r"^(?=.*[a-f])[0-9a-f]{10}$")  # wp_create_nonce(): 10 hex digits
_AUTO_ID = re.compile(r"\d+$|[0-9a-f]{8,}", re.IGNORECASE)  # gallery-2, attachment_45, uuids
_STYLE_SPACE = re.compile(r"\s*([:;,])\s*")


def collapse(text: str) -> str:
    """Collapse every run of whitespace (``&nbsp;`` included) to one space and strip."""
    return " ".join(text.split())


def parse(html: str) -> HtmlElement:
    """Parse an HTML fragment (possibly empty) under a wrapper ``<div>``."""
    # lxml refuses control characters and silently truncates at a lone surrogate.
    return lxml.html.fragment_fromstring(_BAD_CHARS.sub("", html or ""), create_parent="div")


def text_blocks(root: HtmlElement) -> list[str]:
    """Visible text, one collapsed string per block (paragraph, heading, list item, table row…).

    ``<br>`` also ends a block, so lines never glue into "word.Word".
    """
    blocks: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        block = collapse("".join(pending))
        if block:
            blocks.append(block)
        pending.clear()

    def walk(el: HtmlElement) -> None:
        tag = el.tag if isinstance(el.tag, str) else None  # None: comment or PI
        if tag in BLOCK or tag == "br":
            flush()
        elif tag in CELL and pending and "".join(pending).strip():
            prev = el.getprevious()
            if prev is not None and prev.tag in CELL:
                pending.append(CELL_SEPARATOR)
        if tag is not None and tag not in SKIP_TEXT:
            pending.append(el.text or "")
            for child in el:
                walk(child)
        if tag in BLOCK:
            flush()
        if el is not root:  # the root's tail is outside the fragment
            pending.append(el.tail or "")

    walk(root)
    flush()
    return blocks


def inline_text(html: str) -> str:
    """Visible text of a short fragment (a title, an excerpt) as one collapsed string."""
    return " ".join(text_blocks(parse(html)))


def normalize_url(url: str) -> str:
    """Strip whitespace, lowercase scheme and host, drop ``ver`` and nonce query parameters."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host: keep it as written
        return url
    query = "&".join(
        p for p in parts.query.split("&") if p and not _volatile_param(p.partition("=")[0])
    )
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path, query, parts.fragment)
    )


def _volatile_param(name: str) -> bool:
    return name.lower() == "ver" or bool(_NONCE_NAME.search(name))


def effective_src(el: HtmlElement) -> str:
    """The real source of a media element, seen through lazy-loading placeholders."""
    src = (el.get("src") or "").strip()
    if not src or src.startswith("data:"):
        for attr in LAZY_SRC:
            lazy: str = (el.get(attr) or "").strip()
            if lazy:
                return lazy
    return src


def links(root: HtmlElement) -> list[list[str]]:
    """Sorted, de-duplicated ``[href, anchor text]`` pairs of every ``<a href>``."""
    found = {
        (normalize_url(a.get("href", "")), " ".join(text_blocks(a)))
        for a in root.iter("a")
        if a.get("href") is not None
    }
    return [list(pair) for pair in sorted(found)]


def media(root: HtmlElement) -> list[list[str]]:
    """Sorted, de-duplicated ``[tag, src]`` pairs of images, video, audio and embeds."""
    found = set()
    for el in root.iter(*MEDIA):
        src = effective_src(el)
        if src:
            found.add((el.tag, normalize_url(src)))
    return [list(pair) for pair in sorted(found)]


def markup_hash(root: HtmlElement) -> str:
    """A short hash of the structure: tags, meaningful attributes and collapsed text.

    Insensitive to whitespace between tags, responsive/lazy image attributes, nonces,
    ``?ver=`` busters, auto-generated ids and comments; sensitive to an inline style
    changed or a ``<strong>`` added.
    """
    canonical = json.dumps(list(_markup_tokens(root)), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _markup_tokens(el: HtmlElement) -> Iterator[list[str] | str]:
    if isinstance(el.tag, str):  # comments and processing instructions leave no mark
        yield [el.tag, *_stable_attrs(el)]
        if el.tag != "script" and collapse(el.text or ""):  # script text carries nonces
            yield collapse(el.text or "")
        for child in el:
            yield from _markup_tokens(child)
        yield "/" + el.tag
    if collapse(el.tail or ""):
        yield collapse(el.tail or "")


def _stable_attrs(el: HtmlElement) -> list[str]:
    attrs = []
    for name, value in sorted(el.attrib.items()):
        name = name.lower()
        if name in VOLATILE_ATTRS or _volatile_attr(el, name, value):
            continue
        if name == "src" and el.tag in MEDIA:
            value = effective_src(el)
        if name in URL_ATTRS:
            value = normalize_url(value)
        elif name == "style":
            value = _STYLE_SPACE.sub(r"\1", collapse(value)).rstrip(";")
        else:
            value = collapse(value)
        attrs.append(f"{name}={value}")
    return attrs


def _volatile_attr(el: HtmlElement, name: str, value: str) -> bool:
    if name == "id":
        return bool(_AUTO_ID.search(value))
    if name.startswith("data-"):
        return bool(_NONCE_NAME.search(name) or _NONCE_VALUE.match(value.strip().lower()))
    if name == "value" and el.tag == "input":  # <input type=hidden name=_wpnonce value=…>
        return bool(_NONCE_NAME.search(el.get("name", "")))
    return False
