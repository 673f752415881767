"""The structured comparison and its one-line summary, from two dicts and nothing else."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from diffs.report import Evidence, Version, compare_versions

FIXTURE = Path(__file__).parent / "fixtures" / "posts" / "iuhrdf-post-4546.json"
Post = dict[str, Any]


@pytest.fixture
def post() -> Post:
    data: Post = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def summary(before: Post, after: Post, **kwargs: Any) -> str:
    return compare_versions(Version.from_post(before), Version.from_post(after), **kwargs).summary


def changed(post: Post, **fields: Any) -> Post:
    new = copy.deepcopy(post)
    new.update(fields)
    return new


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"featured_media": 0}, "featured image removed"),
        ({"featured_media": 4600}, "featured image changed"),
        ({"sticky": True}, "now sticky"),
        ({"author": 2}, "author changed"),
        ({"status": "private"}, "status 'publish' → 'private'"),
        ({"date_gmt": "2018-11-21T18:27:07"}, "publication date moved later by 24 hours"),
        ({"date_gmt": "2017-11-20T18:27:07"}, "publication date back-dated by 365 days"),
        ({"slug": "x"}, "slug changed"),
        ({"tags": [5, 6]}, "tags #5, #6 added"),
        ({"categories": []}, "category 'uncategorized' removed"),  # slug from class_list
        ({"excerpt": {"rendered": "<p>Hand-written.</p>"}}, "excerpt changed"),
    ],
)
def test_field_phrases(post: Post, fields: dict[str, Any], expected: str) -> None:
    assert summary(post, changed(post, **fields)) == expected


def test_protection_is_the_only_news(post: Post) -> None:
    protected = changed(post, content={"rendered": "", "protected": True})
    assert summary(post, protected) == "now password-protected"


def test_term_names_from_embedded_records_and_from_the_caller(post: Post) -> None:
    after = changed(post, categories=[1, 7])
    after["_embedded"] = {"wp:term": [[{"id": 7, "taxonomy": "category", "name": "Statements"}]]}
    assert summary(post, after) == "category 'Statements' added"
    named = summary(post, changed(post, topic=[3]), term_names={"topic": {3: "Xinjiang"}})
    assert named == "topic term 'Xinjiang' added"


def test_field_details(post: Post) -> None:
    after = changed(post, date_gmt="2018-10-01T09:00:00", categories=[1, 7])
    c = compare_versions(Version.from_post(post), Version.from_post(after))
    date, cats = c.fields
    assert (date.old, date.new, date.note) == (
        "2018-11-20 18:27 UTC", "2018-10-01 09:00 UTC", "back-dated by 50 days"
    )  # fmt: skip
    assert [t.id for t in cats.added] == [7] and cats.removed == ()
    assert (cats.old, cats.new) == ("uncategorized", "uncategorized, #7")


def test_new_gone_and_restored(post: Post) -> None:
    v = Version.from_post(post)
    new = compare_versions(None, v)
    assert new.kind == "new" and new.summary == "new post, 1,056 words, 1 link"
    assert new.text_mode == "full" and new.links.added and not new.changed
    ev = Evidence(
        404, "https://iuhrdf.org/en/wp-json/wp/v2/posts/4546", code="rest_post_invalid_id"
    )
    gone = compare_versions(v, None, kind="deleted", evidence=ev)
    assert gone.summary == (
        "deleted (HTTP 404, 'rest_post_invalid_id'); the last version had 1,056 words"
    )
    assert all(b.op == "delete" for b in gone.blocks)
    back = compare_versions(v, v, kind="restored")
    assert back.summary == "restored as it was" and back.text_mode == "full"
    edited_back = compare_versions(
        v, Version.from_post(changed(post, sticky=True)), kind="restored"
    )
    assert edited_back.summary == "restored with changes: now sticky"


def test_many_edits_are_summed_up(post: Post) -> None:
    after = copy.deepcopy(post)
    html = after["content"]["rendered"]
    for word in ("Beijing", "Xinjiang", "Reuters", "diplomats", "envoys"):
        html = html.replace(f" {word} ", f" {word.upper()} ")
    after["content"]["rendered"] = html
    text = summary(post, after)
    assert text.startswith("text edited in ") and "places (" in text


def test_media_and_links(post: Post) -> None:
    after = copy.deepcopy(post)
    after["content"]["rendered"] += (
        '<p><img src="https://iuhrdf.org/a.jpg"><a href="https://un.org/x">UN report</a></p>'
    )
    c = compare_versions(Version.from_post(post), Version.from_post(after))
    assert "1 image added" in c.summary and "link 'UN report' added" in c.summary
    assert [m.src for m in c.media.added] == ["https://iuhrdf.org/a.jpg"]


def test_needs_a_version() -> None:
    with pytest.raises(ValueError, match="at least one version"):
        compare_versions(None, None)


# --- rewrites -------------------------------------------------------------------------------
def paragraphs(*texts: str) -> Post:
    html = "".join(f"<p>{t}</p>" for t in texts)
    return {"id": 1, "title": {"rendered": "T"}, "content": {"rendered": html}}


def words(tag: str, n: int = 10) -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


@pytest.mark.parametrize(
    ("replaced", "expected"),
    [
        # each replaced paragraph is too unlike its successor to pair: removed, then added
        (5, "text edited in 10 places (50 words removed, 20 added)"),  # half: not most
        (6, "rewritten: 60 words removed, 24 added"),  # more than half of the old text
    ],
)
def test_rewrite_threshold(replaced: int, expected: str) -> None:
    old = [words(f"old{p}x") for p in range(10)]
    new = [words(f"new{p}y", 4) if p < replaced else old[p] for p in range(10)]
    assert summary(paragraphs(*old), paragraphs(*new)) == expected


def test_a_rewrite_of_the_real_post_reads_as_one(post: Post) -> None:
    after = changed(post, content={
        "rendered": "<p>This statement was withdrawn.</p><p>Read our new position.</p>",
    })  # fmt: skip
    assert summary(post, after).startswith("rewritten: 1,056 words removed, 8 added; ")


def test_added_text_is_not_a_rewrite() -> None:
    old = [words("a", 5)]
    new = [words("a", 5), words("b", 50), words("c", 50)]
    assert summary(paragraphs(*old), paragraphs(*new)) == (
        "paragraph 2 added (50 words); paragraph 3 added (50 words)"
    )


def test_one_edited_paragraph_keeps_its_precise_phrase() -> None:
    """Six of its ten words replaced is most of the text, but one place says it better."""
    old = words("a")
    new = " ".join(old.split()[:4] + words("b", 6).split())
    assert summary(paragraphs(old), paragraphs(new)) == "6 words changed in paragraph 1"


# --- what a new post says of itself ---------------------------------------------------------
@pytest.mark.parametrize(
    ("first_seen", "backdated"),
    [
        ("2018-11-21T17:27:07.000Z", ""),  # 23 hours: a slow round, not back-dated
        ("2018-11-21T18:27:07.000Z", ""),  # exactly one day: not more than the threshold
        ("2018-11-21T19:27:07.000Z", "dated 25 hours before it was first seen"),
        ("2018-12-20T18:27:07.000Z", "dated 30 days before it was first seen"),
        ("2024-03-14T09:20:00+00:00", "dated 1,941 days before it was first seen"),
    ],
)
def test_new_post_backdated_after_a_day(post: Post, first_seen: str, backdated: str) -> None:
    """The post is dated 2018-11-20 18:27:07 UTC (date_gmt has no zone: it is UTC)."""
    c = compare_versions(None, Version.from_post(post, fetched_at=first_seen))
    assert c.published is not None and c.published.backdated == backdated
    expected = "new post, 1,056 words, 1 link" + (f"; {backdated}" if backdated else "")
    assert c.summary == expected


def test_new_post_date_and_author(post: Post) -> None:
    c = compare_versions(None, Version.from_post(post), first_seen="2018-11-20T18:40:00Z")
    assert c.published is not None
    assert (c.published.date, c.published.author) == ("2018-11-20 18:27 UTC", "user 4")
    named = changed(post, _embedded={"author": [{"id": 4, "name": "IUHRDF\u202e editor"}]})
    published = compare_versions(None, Version.from_post(named)).published
    assert published is not None and published.author == "IUHRDF editor (user 4)"
    assert compare_versions(Version.from_post(post), Version.from_post(post)).published is None
