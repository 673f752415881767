"""Post HTML, titles, excerpts, links and term names are untrusted: every renderer escapes them.

The hostile post here is also what the headless-Chromium test opens
(tests/test_report_browser.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

import lxml.html
import pytest
from markdown_it import MarkdownIt

from diffs.render import csp, md_code, md_escape, one_line, render
from diffs.report import Context, Evidence, Report, Version, compare_versions
from diffs.sanitize import sanitize
from diffs.site import build_site

CANARY = "http://127.0.0.1:9"  # the browser test swaps in its own listening server


def hostile_post(canary: str = CANARY, *, wp_id: int = 666) -> dict[str, Any]:
    """A REST record whose every field tries to run script or fetch something."""
    c = canary
    content = f"""
<p>Intro &lt;img src=x onerror=fetch('{c}/decoded')&gt; with **stars**, \
[md link](javascript:alert(1)),
![md image]({c}/md-image.png), &lt;b&gt;raw&lt;/b&gt; | a | table | and `code`.</p>
<script>fetch('{c}/script')</script>
<p onclick="fetch('{c}/onclick')" onmouseover="fetch('{c}/onmouseover')">Hover me</p>
<img src="{c}/img.png" onerror="fetch('{c}/onerror')" alt="x">
<img src=x onerror="fetch('{c}/onerror2')">
<a href="javascript:fetch('{c}/js-link')">js link</a>
<a href="JaVaScRiPt:fetch('{c}/js-link2')">js link 2</a>
<a href="data:text/html,<script>fetch('{c}/data-link')</script>">data link</a>
<a href="{c}/plain-link">plain link</a>
<svg onload="fetch('{c}/svg')"><script>fetch('{c}/svg-script')</script>\
<image href="{c}/svg-image"/></svg>
<iframe src="{c}/iframe"></iframe>
<iframe srcdoc="<script>parent.fetch('{c}/srcdoc')</script>"></iframe>
<object data="{c}/object"></object><embed src="{c}/embed">
<video poster="{c}/poster.png" src="{c}/video.mp4" autoplay></video>
<audio src="{c}/audio.mp3" autoplay></audio>
<link rel="stylesheet" href="{c}/style.css">
<style>@import url('{c}/import.css'); body{{background:url('{c}/bg.png')}}</style>
<p style="background-image:url('{c}/inline-bg.png')">styled paragraph</p>
<meta http-equiv="refresh" content="0;url={c}/refresh">
<base href="{c}/base/">
<form action="{c}/form"><input type="image" src="{c}/input-image"><button>Go</button></form>
<noscript><p title="</noscript><img src=x onerror=fetch('{c}/noscript')>"></noscript>
<!--<img src=x onerror=fetch('{c}/comment')>-->
<math><mtext><table><mglyph><style>\
<img src=x onerror=fetch('{c}/mxss')></style></mglyph></table></mtext></math>
<details open ontoggle="fetch('{c}/ontoggle')"><summary>details</summary>inside</details>
<p>Terminal \x1b[2J\x1b]0;owned\x07 bidi \u202eevil\u202c end</p>
"""
    return {
        "id": wp_id,
        "date_gmt": "2026-01-01T00:00:00",
        "modified_gmt": "2026-01-01T00:00:00",
        "slug": "<svg onload=alert('slug')>",
        "status": "publish",
        "type": "post",
        "link": "javascript:fetch('" + c + "/post-link')",
        "title": {
            "rendered": "&lt;script&gt;fetch('" + c + "/title')&lt;/script&gt;<script>x()</script>"
            "<img src=x onerror=alert(1)> Title **bold** [l](javascript:x) \x1b[31mred"
        },
        "content": {"rendered": content, "protected": False},
        "excerpt": {"rendered": "<p>&lt;iframe src=" + c + "/excerpt&gt; excerpt</p>"},
        "author": 1,
        "featured_media": 0,
        "sticky": False,
        "format": "standard",
        "categories": [1],
        "tags": [],
        "class_list": ["post-666", "category-<script>alert('slug')</script>"],
        "_embedded": {
            "wp:term": [[{"id": 1, "taxonomy": "category", "name": "<img src=x onerror=alert(1)>"}]]
        },
    }


def benign_post(wp_id: int = 666) -> dict[str, Any]:
    return {
        "id": wp_id, "date_gmt": "2025-12-01T00:00:00", "modified_gmt": "2025-12-01T00:00:00",
        "slug": "plain", "status": "publish", "type": "post", "link": "https://x.org/plain/",
        "title": {"rendered": "Plain"}, "excerpt": {"rendered": "<p>Plain</p>"},
        "content": {"rendered": "<p>Hover me</p><p>details</p>", "protected": False},
        "author": 1, "featured_media": 0, "sticky": False, "format": "standard",
        "categories": [2], "tags": [],
    }  # fmt: skip


def hostile_reports(canary: str = CANARY) -> list[Report]:
    """One report of each shape a hostile post can take: new, edited into, deleted."""
    bad = Version.from_post(hostile_post(canary), id=2, fetched_at="2026-01-02T00:00:00Z")
    good = Version.from_post(benign_post(), id=1, fetched_at="2026-01-01T00:00:00Z")
    site = "https://x.org"
    ev = Evidence(
        404,
        f"{canary}/wp-json/wp/v2/posts/666?<script>",
        None,
        "ab" * 32,
        "rest_post_invalid_id<script>",
    )
    return [
        Report(Context(1, site, "<b>site</b>", "posts", 666, "2026-01-02T00:00:00.000Z"),
               compare_versions(None, bad)),
        Report(Context(2, site, "<b>site</b>", "posts", 666, "2026-01-03T00:00:00.000Z"),
               compare_versions(good, bad)),
        Report(Context(3, site, "<b>site</b>", "posts", 666, "2026-01-04T00:00:00.000Z"),
               compare_versions(bad, None, kind="deleted", evidence=ev)),
    ]  # fmt: skip


REPORTS = hostile_reports()
IDS = ["new", "edited", "deleted"]
TAG = re.compile(r"<\s*([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>")
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "main", "footer", "div", "span",
    "a", "h1", "h2", "p", "dl", "dt", "dd", "br", "section", "table", "thead", "tbody", "tr",
    "th", "td", "code", "del", "ins", "details", "summary", "input", "label", "ol", "li",
    "time", "b", "em", "strong", "i", "ul", "blockquote", "figure", "figcaption",
}  # fmt: skip


def assert_inert_html(page: str) -> None:
    head = page.split("<body>")[0]
    assert '<meta http-equiv="Content-Security-Policy"' in head
    assert head.index("Content-Security-Policy") < head.index("<style>")
    policy = re.search(r'Content-Security-Policy" content="([^"]+)"', head)
    assert policy is not None
    assert "script-src 'none'" in policy.group(1) and "default-src 'none'" in policy.group(1)
    assert page.count("<style>") == 1 and page.count("<script") == 0
    for tag, attrs in TAG.findall(page):
        assert tag.lower() in ALLOWED_TAGS, f"unexpected <{tag}{attrs}>"
        assert not re.search(r"\bon[a-z]+\s*=", attrs, re.IGNORECASE), (
            f"event handler in <{tag}{attrs}>"
        )
        assert "javascript:" not in attrs.lower() and "data:" not in attrs.lower()
        assert "style=" not in attrs.lower() and "srcdoc" not in attrs.lower()
        for url in re.findall(r'(?:href|src)="([^"]*)"', attrs):
            assert url.startswith(
                ("http://", "https://", "mailto:", "../", "changes/", "#")
            ) or url in ("index.html", "feed.xml"), url


@pytest.mark.parametrize("report", REPORTS, ids=IDS)
def test_html_page_is_inert(report: Report) -> None:
    page = render(report, "html")
    assert_inert_html(page)
    assert "&lt;script&gt;fetch(" in page  # the title's text is shown, escaped
    assert "&lt;b&gt;site&lt;/b&gt;" in page


def test_bidi_overrides_do_not_reach_a_page() -> None:
    for report in REPORTS:
        assert "\u202e" not in render(report, "html")


def test_report_site_is_inert() -> None:
    files = build_site(REPORTS, generated_at="2026-01-05T00:00:00.000Z")
    for name, text in files.items():
        if name.endswith(".html"):
            assert_inert_html(text)


def test_sanitized_rendering_keeps_text_drops_everything_active() -> None:
    html = sanitize(hostile_post()["content"]["rendered"], base_url=None)
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    tags = {el.tag for el in root.iter() if isinstance(el.tag, str)}
    assert tags <= {"div", "p", "a", "span", "details", "summary"} | set(sanitize_tags()), tags
    assert not tags & {"script", "svg", "iframe", "img", "video", "audio", "object", "embed",
                       "style", "link", "meta", "base", "form", "input", "math"}  # fmt: skip
    for el in root.iter():
        for name, value in el.attrib.items():
            assert name in ("href", "rel", "class", "title"), (el.tag, name)
            assert not value.lower().startswith(("javascript:", "data:")), value
    text = root.text_content()
    assert "Hover me" in text and "styled paragraph" in text
    assert "<img src=x onerror=fetch(" in text  # decoded text stays text
    assert "[image: http://127.0.0.1:9/img.png — x]" in text  # media named, not loaded
    assert [a.get("href") for a in root.iter("a")] == [
        None,
        None,
        None,
        "http://127.0.0.1:9/plain-link",
    ]


def sanitize_tags() -> set[str]:
    from diffs.sanitize import TAGS

    return set(TAGS)


def md_tokens(markdown: str) -> list[Any]:
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    tokens = parser.parse(markdown)
    flat = []
    for tok in tokens:
        flat.append(tok)
        flat.extend(tok.children or [])
    return flat


@pytest.mark.parametrize("report", REPORTS, ids=IDS)
def test_markdown_has_no_links_images_or_html(report: Report) -> None:
    markdown = render(report, "md")
    types = {t.type for t in md_tokens(markdown)}
    assert not types & {"html_inline", "html_block", "link_open", "image", "table_open"}
    headings = [line for line in markdown.splitlines() if line.startswith("#")]
    assert all(h.startswith(("## ", "### ")) for h in headings)  # only our own headings
    assert sum(t.type == "heading_open" for t in md_tokens(markdown)) == len(headings)


@pytest.mark.parametrize(
    "text",
    ["<script>x</script>", "[a](javascript:x)", "![i](http://e/x.png)", "**b** _i_ `c`",
     "# heading", "- item", "1. item", "> quote", "a | b", "~~s~~", "&lt;b&gt;", "<http://e>",
     "\\[escaped]"],
)  # fmt: skip
def test_md_escape_makes_plain_text(text: str) -> None:
    tokens = md_tokens(md_escape(text))
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "text", "paragraph_close"]
    assert tokens[2].content == text


def test_md_code_shows_urls_literally() -> None:
    for url in ("javascript:alert(1)", "http://x/`a`", "``", "http://e/<b>"):
        tokens = md_tokens(md_code(url))
        assert [
            t.type for t in tokens if t.type not in ("paragraph_open", "paragraph_close", "inline")
        ] == ["code_inline"]


@pytest.mark.parametrize("report", REPORTS, ids=IDS)
def test_terminal_text_has_no_escape_sequences(report: Report) -> None:
    for color in (False, True):
        text = render(report, "text", color=color)
        allowed = {"\x1b[31;9m", "\x1b[32m", "\x1b[1m", "\x1b[2m", "\x1b[0m"} if color else set()
        for seq in re.findall(r"\x1b\[[0-9;]*m|\x1b.", text):
            assert seq in allowed, repr(seq)
        assert not re.search(
            r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text
        )
        assert "owned" in text or report.comparison.text_mode == "diff"


def test_one_line_strips_ansi_and_controls() -> None:
    assert one_line("a\x1b[2Jb\x1b]0;title\x07c\x9bd\u202ee\nf") == "abc d e f"


@pytest.mark.parametrize("report", REPORTS, ids=IDS)
def test_json_round_trips(report: Report) -> None:
    data = json.loads(render(report, "json"))
    assert data["title"] == report.comparison.title
    assert data["change"]["kind"] == report.comparison.kind


def test_csp_pins_the_stylesheet() -> None:
    policy = csp("body{}")
    assert "style-src 'sha256-" in policy and "'unsafe-inline'" not in policy
    assert "img-src 'none'" in policy
