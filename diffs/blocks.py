"""The visible text of rendered HTML as typed blocks: paragraph, heading, list item, table row…

``html_blocks()`` yields exactly the strings of ``htmltext.text_blocks()`` (the normalized
``text`` the archive stores), each with the kind of element it came from, so a report can say
"heading 3" or "list item 7" and render a heading as a heading.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml.html import HtmlElement

from diffs import htmltext

# Block tag → what a reader would call it. Tags not listed here are "paragraph".
KIND_OF = {
    **{f"h{i}": "heading" for i in range(1, 7)},
    "li": "list item",
    "dt": "list item",
    "dd": "list item",
    "tr": "table row",
    "caption": "caption",
    "figcaption": "caption",
    "pre": "preformatted",
    "blockquote": "quote",
}


@dataclass(frozen=True)
class Block:
    kind: str  # "paragraph", "heading", "list item", "table row", "caption", "quote"…
    text: str  # collapsed visible text, decoded (escape it before display)


def html_blocks(html: str) -> list[Block]:
    """Typed visible-text blocks of an HTML fragment (same texts as ``text_blocks``)."""
    return element_blocks(htmltext.parse(html))


def element_blocks(root: HtmlElement) -> list[Block]:
    """The walk of ``htmltext.text_blocks``, remembering the innermost open block tag."""
    blocks: list[Block] = []
    pending: list[str] = []
    open_tags: list[str] = []

    def flush() -> None:
        text = htmltext.collapse("".join(pending))
        if text:
            blocks.append(Block(_kind(open_tags), text))
        pending.clear()

    def walk(el: HtmlElement) -> None:
        tag = el.tag if isinstance(el.tag, str) else None
        if tag in htmltext.BLOCK or tag == "br":
            flush()
        elif tag in htmltext.CELL and pending and "".join(pending).strip():
            prev = el.getprevious()
            if prev is not None and prev.tag in htmltext.CELL:
                pending.append(htmltext.CELL_SEPARATOR)
        if tag is not None and tag not in htmltext.SKIP_TEXT:
            if tag in htmltext.BLOCK:
                open_tags.append(tag)
            pending.append(el.text or "")
            for child in el:
                walk(child)
        if tag in htmltext.BLOCK:  # never in SKIP_TEXT: it was pushed above
            flush()
            open_tags.pop()
        if el is not root:
            pending.append(el.tail or "")

    walk(root)
    flush()
    return blocks


def _kind(open_tags: list[str]) -> str:
    if "blockquote" in open_tags and open_tags[-1] in ("p", "blockquote"):
        return "quote"
    for tag in reversed(open_tags):
        if tag in KIND_OF:
            return KIND_OF[tag]
        if tag in ("p", "div", "section", "article", "main", "body", "html"):
            return "paragraph"
    return "paragraph"


def kinds_for(text: list[str], html: str | None) -> list[str]:
    """The kind of each block of a version's normalized ``text``; "paragraph" when unknown.

    The kinds come from the raw HTML when its blocks are the stored text (they are, unless
    the normalization changed since the version was stored).
    """
    if html is not None:
        typed = html_blocks(html)
        if [b.text for b in typed] == list(text):
            return [b.kind for b in typed]
    return ["paragraph"] * len(text)
