from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from diffs.htmltext import normalize_url
from diffs.normalize import content_hash, normalize, rest_base, revision_count, taxonomy_keys

FIXTURE = Path(__file__).parent / "fixtures" / "posts" / "iuhrdf-post-4546.json"


@pytest.fixture
def post() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return raw


def with_content(html: str, **fields: Any) -> dict[str, Any]:
    """A minimal REST post record around ``html``."""
    return {"title": {"rendered": "T"}, "content": {"rendered": html, "protected": False}, **fields}


def text_of(html: str) -> list[str]:
    blocks: list[str] = normalize(with_content(html))["text"]
    return blocks


# --- the real post ------------------------------------------------------------------------


def test_fixture_keeps_reader_visible_fields_only(post: dict[str, Any]) -> None:
    n = normalize(post)
    assert set(n) == {
        "title", "text", "links", "media", "markup", "excerpt", "slug", "link", "date_gmt",
        "author", "featured_media", "sticky", "protected", "status", "format", "parent", "terms",
    }  # fmt: skip
    assert n["title"].startswith("East Turkestan: Western Envoys")
    assert n["text"][1] == "The article below was published by Reuters"  # &nbsp; collapsed
    assert len(n["text"]) == 33
    assert n["links"] == [[post["content"]["rendered"].split('href="')[1].split('"')[0], "Reuters"]]
    assert n["media"] == []
    assert n["excerpt"].endswith("The move…")  # &#8230; decoded, <p> gone
    assert n["date_gmt"] == "2018-11-20T18:27:07"
    assert (n["author"], n["featured_media"]) == (4, 4545)
    assert (n["sticky"], n["protected"]) == (False, False)
    assert (n["status"], n["format"], n["parent"]) == ("publish", "standard", None)
    assert n["terms"] == {"categories": [1], "tags": [], "topic": []}
    assert len(n["markup"]) == 16


def test_fixture_is_json_round_trippable_and_deterministic(post: dict[str, Any]) -> None:
    n = normalize(post)
    assert json.loads(json.dumps(n)) == n  # what the archive stores compares equal to a fresh one
    assert normalize(copy.deepcopy(post)) == n


def test_content_hash_ignores_key_order(post: dict[str, Any]) -> None:
    n = normalize(post)
    reordered = {k: n[k] for k in reversed(list(n))}
    reordered["terms"] = dict(reversed(list(n["terms"].items())))
    assert content_hash(reordered) == content_hash(n)
    assert len(content_hash(n)) == 64
    assert content_hash({**n, "title": "other"}) != content_hash(n)


def test_content_hash_of_a_normalized_reordered_record(post: dict[str, Any]) -> None:
    reordered = {k: post[k] for k in reversed(list(post))}
    assert content_hash(normalize(reordered)) == content_hash(normalize(post))


def test_revision_count(post: dict[str, Any]) -> None:
    assert revision_count(post) == 0
    post["_links"]["version-history"][0]["count"] = 7
    assert revision_count(post) == 7
    del post["_links"]["version-history"]
    assert revision_count(post) is None
    assert revision_count({}) is None


# --- text -----------------------------------------------------------------------------------


def test_blocks_are_kept_and_never_glued() -> None:
    assert text_of("<p>First sentence.</p><p>Second one</p>") == ["First sentence.", "Second one"]
    assert text_of("<div>end.<div>Start</div></div>") == ["end.", "Start"]
    assert text_of("line one.<br>Line two") == ["line one.", "Line two"]
    assert text_of("<h2>Title</h2>Loose text<ul><li>a</li><li>b <em>c</em></li></ul>") == [
        "Title", "Loose text", "a", "b c",
    ]  # fmt: skip
    table = "<table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>7</td></tr></table>"
    assert text_of(table) == ["Name | Age", "Ann | 7"]
    assert text_of("<blockquote><p>Quoted</p></blockquote><p>After</p>") == ["Quoted", "After"]


def test_inline_markup_does_not_split_words() -> None:
    assert text_of("<p>un<strong>believ</strong>able  and\n<a href='x'>linked</a>.</p>") == [
        "unbelievable and linked."
    ]


def test_script_style_noscript_template_text_is_not_text() -> None:
    html = (
        "<p>Visible</p><script>var nonce='abc';</script><style>p{color:red}</style>"
        "<noscript>Enable JS</noscript><template><p>tpl</p></template><p>After<!-- c -->wards</p>"
    )
    assert text_of(html) == ["Visible", "Afterwards"]


def test_entities_are_decoded_to_literal_text() -> None:
    # Escaping is the renderer's job: the text holds what the reader saw.
    assert text_of("<p>&lt;img src=x onerror=alert(1)&gt; &amp; &#8220;q&#8221;</p>") == [
        "<img src=x onerror=alert(1)> & \u201cq\u201d"
    ]


def test_title_and_excerpt_are_plain_text() -> None:
    n = normalize(
        {
            "title": {"rendered": "A &amp; <em>B</em>\n &#8211; C"},
            "excerpt": {"rendered": "<p>One.</p>\n<p>Two&hellip;</p>", "protected": False},
        }
    )
    assert n["title"] == "A & B \u2013 C"
    assert n["excerpt"] == "One. Two\u2026"


def test_hostile_characters_do_not_break_parsing() -> None:
    assert text_of("<p>a\x00b\x0bc\ud800d</p>") == ["abcd"]
    assert text_of("") == []


# --- links and media --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  https://x.org/a  ", "https://x.org/a"),
        ("HTTPS://X.ORG/Path?ver=6.4.2", "https://x.org/Path"),
        ("https://x.org/s.css?a=1&ver=6.4&b=2#top", "https://x.org/s.css?a=1&b=2#top"),
        ("https://x.org/wp-admin/admin-ajax.php?_wpnonce=ab12cd34ef&action=x",
         "https://x.org/wp-admin/admin-ajax.php?action=x"),
        ("/?p=12&security_nonce=1f2e3d4c5b", "/?p=12"),
        ("mailto:desk@example.org", "mailto:desk@example.org"),
        ("http://[broken/", "http://[broken/"),
    ],
)  # fmt: skip
def test_normalize_url(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


def test_links_are_sorted_normalized_pairs() -> None:
    html = (
        '<p><a href=" https://b.org/?ver=2 ">B <b>site</b></a> <a href="https://a.org/">A</a>'
        '<a name="anchor">no href</a><a href="https://a.org/">A</a></p>'
    )
    assert normalize(with_content(html))["links"] == [
        ["https://a.org/", "A"], ["https://b.org/", "B site"],
    ]  # fmt: skip


def test_media_ignore_srcset_and_lazy_placeholders() -> None:
    html = (
        '<img src="https://x.org/a.jpg?ver=3" srcset="https://x.org/a-300.jpg 300w" sizes="100vw"'
        ' loading="lazy" decoding="async">'
        '<img src="data:image/gif;base64,R0lGOD" data-lazy-src="https://x.org/b.jpg">'
        '<video><source src="https://x.org/v.mp4" type="video/mp4"></video>'
        '<iframe src="https://www.youtube.com/embed/abc"></iframe><img alt="no src">'
    )
    assert normalize(with_content(html))["media"] == [
        ["iframe", "https://www.youtube.com/embed/abc"],
        ["img", "https://x.org/a.jpg"],
        ["img", "https://x.org/b.jpg"],
        ["source", "https://x.org/v.mp4"],
    ]


# --- terms, protection, ignore ------------------------------------------------------------


def test_custom_taxonomies_from_term_links(post: dict[str, Any]) -> None:
    post["regions"] = [9, 3, 3]  # a list of ints, but not a taxonomy per _links
    assert taxonomy_keys(post) == {"categories", "tags", "topic"}
    post["_links"]["wp:term"].append(
        {"taxonomy": "region", "href": "https://x.org/?rest_route=/wp/v2/regions&post=4546"}
    )
    assert normalize(post)["terms"]["regions"] == [3, 9]


@pytest.mark.parametrize(
    ("href", "base"),
    [
        ("https://x.org/wp-json/wp/v2/topic?post=1", "topic"),
        ("https://x.org/en/wp-json/wp/v2/categories/", "categories"),
        ("https://x.org/?rest_route=/wp/v2/regions&post=4546", "regions"),
        ("https://x.org/?rest_route=%2Fwp%2Fv2%2Ftags%2F&post=1", "tags"),
        ("http://[::1/bad", ""),
    ],
)
def test_rest_base_of_pretty_and_plain_permalink_links(href: str, base: str) -> None:
    assert rest_base(href) == base


def test_custom_taxonomies_without_term_links() -> None:
    raw = with_content(
        "", categories=[2, 1], tags=[], topics=[5], acf=[], menu_order=0,
        **{"jetpack-related-posts": [{"id": 1}], "class_list": ["post-1"]},
    )  # fmt: skip
    assert normalize(raw)["terms"] == {"categories": [1, 2], "tags": [], "topics": [5]}


def test_protected_post_is_normalized_as_served(post: dict[str, Any]) -> None:
    post["content"] = {"rendered": "", "protected": True}
    post["excerpt"] = {"rendered": "", "protected": True}
    n = normalize(post)
    assert (n["text"], n["links"], n["excerpt"], n["protected"]) == ([], [], "", True)


def test_sticky_defaults_to_false_and_parent_to_none() -> None:
    n = normalize(with_content("<p>x</p>"))
    assert n["sticky"] is False and n["parent"] is None and n["terms"] == {}
    assert normalize(with_content("", parent=12, sticky=True))["parent"] == 12


def test_ignore_removes_named_keys(post: dict[str, Any]) -> None:
    n = normalize(post, ignore=["topic", "excerpt", "date"])
    assert "topic" not in n["terms"] and "excerpt" not in n and "date_gmt" not in n
    assert normalize(post, ignore=["terms:categories"])["terms"] == {"tags": [], "topic": []}
    n = normalize(post, ignore=["content"])
    assert not {"text", "links", "media", "markup"} & set(n)
    assert normalize(post, ignore=["no-such-key"]) == normalize(post)
