from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from diffs.compare import changed_fields, compare, field_details
from diffs.normalize import content_hash, normalize

FIXTURE = Path(__file__).parent / "fixtures" / "posts" / "iuhrdf-post-4546.json"
Post = dict[str, Any]

FIGURE = (
    '<figure class="wp-block-image size-large"><img loading="lazy" decoding="async" width="1024"'
    ' height="683" src="https://iuhrdf.org/en/wp-content/uploads/2018/11/envoys-1024x683.jpg?ver=1.2"'
    ' alt="Envoys" class="wp-image-4545" srcset="https://iuhrdf.org/en/wp-content/uploads/2018/11/'
    "envoys-1024x683.jpg 1024w, https://iuhrdf.org/en/wp-content/uploads/2018/11/envoys-300x200.jpg"
    ' 300w" sizes="(max-width: 1024px) 100vw, 1024px" data-nonce="a1b2c3d4e5"'
    ' data-security="0f9e8d7c6b" id="gallery-1" />'
    '<figcaption class="wp-element-caption">Ambassadors in Beijing</figcaption></figure>\n'
)


@pytest.fixture
def post() -> Post:
    """The real post, with a WordPress image block added (the original has no image)."""
    raw: Post = json.loads(FIXTURE.read_text(encoding="utf-8"))
    raw["content"]["rendered"] = raw["content"]["rendered"].replace(
        "</div>\n", "</div>\n" + FIGURE, 1
    )
    return raw


def edited(post: Post, change: Callable[[Post], object]) -> Post:
    new = copy.deepcopy(post)
    change(new)
    return new


def replace(old: str, new: str, count: int = 1) -> Callable[[Post], None]:
    def change(post: Post) -> None:
        html = post["content"]["rendered"]
        assert old in html, old
        post["content"]["rendered"] = html.replace(old, new, count)

    return change


def remove_paragraph(starting: str) -> Callable[[Post], None]:
    def change(post: Post) -> None:
        html, count = re.subn(
            rf"<p[^>]*>{re.escape(starting)}.*?</p>\n", "", post["content"]["rendered"]
        )
        assert count == 1, starting
        post["content"]["rendered"] = html

    return change


def changes(before: Post, change: Callable[[Post], object], **kwargs: Any) -> list[str]:
    return changed_fields(normalize(before, **kwargs), normalize(edited(before, change), **kwargs))


# --- editorial changes are named ------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (replace("Beijing bristles at criticism", "Beijing responds to criticism"), ["content"]),
        (replace("800,000", "900,000"), ["content"]),
        (remove_paragraph("It is not possible to directly contact"), ["content"]),
        (replace("https://www.reuters.com/article/", "https://example.org/article/"), ["links"]),
        (replace("envoys-1024x683.jpg?ver=1.2", "protest.jpg?ver=1.2"), ["media"]),
        (replace("text-align: justify;", "text-align: left;"), ["markup"]),
        (replace("Four diplomats", "Four <strong>diplomats</strong>"), ["markup"]),
        (replace('alt="Envoys"', 'alt="Protesters"'), ["markup"]),
        (lambda p: p["title"].update(rendered="Western Envoys Ask China About Uyghurs"), ["title"]),
        (lambda p: p["excerpt"].update(rendered="<p>Shorter.</p>"), ["excerpt"]),
        (lambda p: p.update(date_gmt="2018-10-01T09:00:00", date="2018-10-01T09:00:00"), ["date"]),
        (lambda p: p.update(slug="envoys", link="https://iuhrdf.org/en/envoys/"), ["slug", "link"]),
        (lambda p: p.update(featured_media=4600), ["featured_media"]),
        (lambda p: p.update(sticky=True), ["sticky"]),
        (lambda p: p.update(author=2), ["author"]),
        (lambda p: p.update(categories=[1, 7]), ["terms:categories"]),
        (lambda p: p.update(topic=[12]), ["terms:topic"]),
        (lambda p: p.update(status="private"), ["status"]),
        (lambda p: p.update(format="aside"), ["format"]),
    ],
    ids=[
        "sentence-softened", "number-changed", "paragraph-removed", "link-retargeted",
        "image-replaced", "inline-style-only", "strong-added", "alt-text", "title", "excerpt",
        "backdated", "slug-and-link", "featured-image", "sticky", "author", "category-added",
        "custom-taxonomy", "status", "format",
    ],
)  # fmt: skip
def test_editorial_change_is_named(
    post: Post, change: Callable[[Post], object], expected: list[str]
) -> None:
    assert changes(post, change) == expected


def test_paragraph_order_matters(post: Post) -> None:
    n = normalize(post)
    swapped = {**n, "text": [n["text"][1], n["text"][0], *n["text"][2:]]}
    assert changed_fields(n, swapped) == ["content"]


def test_several_changes_come_in_vocabulary_order(post: Post) -> None:
    def change(p: Post) -> None:
        replace("800,000", "900,000")(p)
        p["title"]["rendered"] = "New title"
        p.update(topic=[3], categories=[2], date_gmt="2017-01-01T00:00:00", sticky=True)

    assert changes(post, change) == [
        "title", "content", "date", "terms:categories", "terms:topic", "sticky",
    ]  # fmt: skip


def test_protected_on_is_not_content_deleted(post: Post) -> None:
    def protect(p: Post) -> None:
        p["content"] = {"rendered": "", "protected": True}
        p["excerpt"] = {"rendered": "", "protected": True}

    assert changes(post, protect) == ["protected"]
    assert changed_fields(normalize(edited(post, protect)), normalize(post)) == ["protected"]

    def protect_and_retitle(p: Post) -> None:
        protect(p)
        p["title"]["rendered"] = "Protected: East Turkestan"

    assert changes(post, protect_and_retitle) == ["title", "protected"]


# --- noise is not a change --------------------------------------------------------------------


def noise_fields(p: Post) -> None:
    p["modified"] = p["modified_gmt"] = "2024-05-05T05:05:05"
    p["_links"]["version-history"][0]["count"] = 3
    p["_links"]["predecessor-version"] = [{"id": 9999, "href": "https://x/revisions/9999"}]
    p["class_list"] = {"0": "post-4546", "1": "post"}  # 6.6+ sometimes serves an object
    p["yoast_head"] = "<title>East Turkestan - IUHRDF</title>"
    p["yoast_head_json"] = {"title": "East Turkestan - IUHRDF", "og_type": "article"}
    p["guid"] = {"rendered": "https://www.iuhrdf.org/?p=4546"}
    p["meta"] = {"_acf_changed": True, "footnotes": ""}
    p["comment_status"] = p["ping_status"] = "closed"
    p["template"] = "single-wide"
    p["menu_order"] = 3


def noise_in_content(p: Post) -> None:
    replace("?ver=1.2", "?ver=1.3")(p)
    replace("envoys-300x200.jpg 300w", "envoys-300x200.jpg 300w, envoys-768x512.jpg 768w")(p)
    replace("(max-width: 1024px) 100vw, 1024px", "auto")(p)
    replace('loading="lazy" decoding="async"', 'fetchpriority="high"')(p)
    replace('data-nonce="a1b2c3d4e5"', 'data-nonce="f6e5d4c3b2"')(p)
    replace('data-security="0f9e8d7c6b"', 'data-security="e4d3c2b1a0"')(p)
    replace('id="gallery-1"', 'id="gallery-2"')(p)


def whitespace(p: Post) -> None:
    replace("</p>\n<p", "</p>\n\n   <p", count=-1)(p)
    replace("Four diplomats familiar", "Four  diplomats\n familiar")(p)
    replace("published by&nbsp;", "published by ")(p)
    replace("margin-top: 0px; margin-bottom: 1rem;", "margin-top:0px;  margin-bottom:1rem;")(p)
    p["title"]["rendered"] = "  " + p["title"]["rendered"].replace(" ", "\n", 1) + " "


@pytest.mark.parametrize(
    "change",
    [
        noise_fields,
        noise_in_content,
        whitespace,
        replace("<figure", "<!-- cached 12:00 --><figure"),
    ],
    ids=["volatile-fields", "busters-srcset-nonces-ids", "whitespace", "html-comment"],
)
def test_noise_is_not_a_change(post: Post, change: Callable[[Post], object]) -> None:
    before, after = normalize(post), normalize(edited(post, change))
    assert changed_fields(before, after) == []
    assert content_hash(before) == content_hash(after)


def test_ignore_rule_silences_a_field(post: Post) -> None:
    assert changes(post, lambda p: p.update(topic=[12]), ignore=["topic"]) == []
    assert changes(post, lambda p: p.update(date_gmt="2017-01-01T00:00:00"), ignore=["date"]) == []


# --- details for reports ----------------------------------------------------------------------


def test_field_details(post: Post) -> None:
    def change(p: Post) -> None:
        replace("800,000", "900,000")(p)
        replace("https://www.reuters.com/article/", "https://example.org/article/")(p)
        p.update(categories=[7], date_gmt="2017-01-01T00:00:00")

    old, new = normalize(post), normalize(edited(post, change))
    details = field_details(old, new)
    assert list(details) == ["content", "links", "date", "terms:categories"]
    assert details["terms:categories"] == {"added": [7], "removed": [1]}
    assert details["date"] == {"old": "2018-11-20T18:27:07", "new": "2017-01-01T00:00:00"}
    assert details["links"]["added"][0][0].startswith("https://example.org/article/")
    assert details["links"]["removed"][0][0].startswith("https://www.reuters.com/article/")
    assert [b for b in details["content"]["new"] if "900,000" in b]
    assert json.loads(json.dumps(details)) == details


def test_unknown_keys_are_named_last_and_compare_is_changed_fields(post: Post) -> None:
    old = normalize(post)
    new = {**old, "title": "x", "zeta": 1}
    assert changed_fields(old, new) == compare(old, new) == ["title", "zeta"]
    assert changed_fields(old, {**old, "terms": {}}) == [
        "terms:categories", "terms:tags", "terms:topic",
    ]  # fmt: skip


def test_speed(post: Post, capsys: pytest.CaptureFixture[str]) -> None:
    """Not an assertion on time: prints what normalize + compare of the real post costs."""
    changed = edited(post, replace("800,000", "900,000"))
    old = normalize(post)
    runs = 50
    start = time.perf_counter()
    for _ in range(runs):
        changed_fields(old, normalize(changed))
    per_edit = (time.perf_counter() - start) / runs * 1000
    start = time.perf_counter()
    for _ in range(runs):
        changed_fields(old, normalize(post))
    per_same = (time.perf_counter() - start) / runs * 1000
    with capsys.disabled():
        print(f"\nnormalize+compare (fixture): {per_edit:.2f} ms edited, {per_same:.2f} ms same")


def test_automatic_excerpt_follows_content_without_being_reported() -> None:
    old = {"text": ["One two three four."], "excerpt": "One two three four."}
    new = {"text": ["One two three five."], "excerpt": "One two three five."}
    assert changed_fields(old, new) == ["content"]
    long_old = {"text": ["a b c d e f g h"], "excerpt": "a b c […]"}
    long_new = {"text": ["x b c d e f g h"], "excerpt": "x b c […]"}
    assert changed_fields(long_old, long_new) == ["content"]


def test_automatic_excerpt_of_chinese_text_is_counted_in_characters() -> None:
    """WordPress trims Chinese excerpts by characters: the excerpt is the text's opening
    characters, not its first whitespace "words" (a whole sentence)."""
    old = {"text": ["当局将这些设施称为职业技能教育培训中心，但前被拘留者描述了酷刑。"],
           "excerpt": "当局将这些设施称为职业技能教育…"}  # fmt: skip
    new = {"text": ["当局将这些设施称为反恐和去极端化工作，但前被拘留者描述了酷刑。"],
           "excerpt": "当局将这些设施称为反恐和去极端…"}  # fmt: skip
    assert changed_fields(old, new) == ["content"]
    hand = {**new, "excerpt": "人权组织的声明"}
    assert changed_fields(old, hand) == ["content", "excerpt"]


def test_hand_written_excerpt_change_is_reported() -> None:
    old = {"text": ["Body text here."], "excerpt": "A summary."}
    new = {"text": ["Body text changed."], "excerpt": "A new summary."}
    assert changed_fields(old, new) == ["content", "excerpt"]
