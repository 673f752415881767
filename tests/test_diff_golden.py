"""Golden diffs: the real iuhrdf post edited in realistic ways, and posts in Chinese (written
without spaces) and Uyghur (Arabic script, right to left), rendered as Markdown.

Each case is ``tests/fixtures/golden/<case>/{before,after}.json`` (REST records), optionally
``context.json`` (where it comes from, when not the English iuhrdf post), and the expected
Markdown. Regenerate after an intended change with ``WPWATCH_REGEN_GOLDEN=1`` and review the
diff of the expected files before committing it.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from diffs.render import render
from diffs.report import Comparison, Context, Report, Version, compare_versions
from diffs.text import Segment

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "before.json").exists())
REGEN = os.environ.get("WPWATCH_REGEN_GOLDEN") == "1"
CONTEXT = Context(
    change_id=1, site="https://iuhrdf.org/en", site_name="iuhrdf", type="posts", wp_id=4546,
    detected_at="2024-03-14T09:20:00.000Z",
)  # fmt: skip

# What each case must say, whatever the wording of the rest.
SUMMARIES = {
    "sentence-softened": "9 words replaced by 5 in paragraph 1",
    "number-changed": "1 word changed in paragraph 31",
    "paragraph-removed": "paragraph 31 removed (44 words)",
    "link-retargeted": "link 'Reuters' now points to www.reuters.com",
    "inline-styles-only": "markup only (the visible text is the same)",
    "metadata-moved": (
        "title changed; slug and URL changed; publication date back-dated by 78 days; "
        "category 'statements' added; now sticky"
    ),
    "paragraphs-rewritten": "paragraph 16 added (11 words)",
    # 职业技能教育培训中心 → 反恐和去极端化工作: counted in characters, not as 1 "word"
    "chinese-term-replaced": "10 characters replaced by 9 in paragraph 2",
    # دەرھال ۋە شەرتسىز ... تەلەپ → ... ئۈمىد: Arabic script is diffed by words
    "uyghur-demand-softened": "4 words replaced by 1 in paragraph 2",
}


def load(case: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / case / name).read_text(encoding="utf-8"))
    return data


def context(case: str) -> Context:
    path = GOLDEN / case / "context.json"
    if not path.exists():
        return CONTEXT
    return replace(CONTEXT, **json.loads(path.read_text(encoding="utf-8")))


def comparison(case: str) -> Comparison:
    before = Version.from_post(
        load(case, "before.json"), id=11, number=1, fetched_at="2024-03-01T06:00:00.000Z"
    )
    after = Version.from_post(
        load(case, "after.json"), id=57, number=2, fetched_at="2024-03-14T09:19:58.000Z"
    )
    return compare_versions(before, after)


def test_there_are_golden_cases() -> None:
    assert set(CASES) == set(SUMMARIES)


@pytest.mark.parametrize("case", CASES, ids=CASES)
def test_golden_markdown(case: str) -> None:
    markdown = render(Report(context(case), comparison(case)), "md")
    expected = GOLDEN / case / "expected.md"
    if REGEN:
        expected.write_text(markdown, encoding="utf-8")
    assert expected.exists(), f"no {expected}: run with WPWATCH_REGEN_GOLDEN=1 and review it"
    assert markdown == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=CASES)
def test_golden_summary(case: str) -> None:
    assert SUMMARIES[case] in comparison(case).summary


@pytest.mark.parametrize("case", CASES, ids=CASES)
def test_no_text_is_dropped(case: str) -> None:
    """Both versions can be read back, block by block, from the comparison."""
    c = comparison(case)
    old = Version.from_post(load(case, "before.json")).normalized["text"]
    new = Version.from_post(load(case, "after.json")).normalized["text"]
    old_side = sorted((b.old_index, b.old_text) for b in c.blocks if b.old_index is not None)
    new_side = sorted((b.new_index, b.new_text) for b in c.blocks if b.new_index is not None)
    assert [t for _, t in old_side] == old
    assert [t for _, t in new_side] == new


def test_multi_paragraph_replacement_pairs_what_is_alike() -> None:
    c = comparison("paragraphs-rewritten")
    ops = [(b.op, b.old_index, b.new_index) for b in c.changed_blocks]
    # "In order to…" is edited in place; "The letter is copied to…" becomes two paragraphs,
    # the closer one paired, the other added: nothing shown as a wall of removed text.
    assert ops[0] == ("change", 14, 14)
    assert {op for op, _, _ in ops} <= {"change", "insert"}
    assert len(ops) == 3


def test_link_retarget_keeps_its_anchor_text() -> None:
    c = comparison("link-retargeted")
    assert c.changed == ("links",)
    (r,) = c.links.retargeted
    assert (r.text, r.new_href) == ("Reuters", "https://www.reuters.com/article/world/")
    assert not c.links.added and not c.links.removed


def test_styles_only_is_markup_only() -> None:
    c = comparison("inline-styles-only")
    assert c.markup_only and c.changed == ("markup",)
    assert not c.changed_blocks and not c.fields


def test_chinese_edit_shows_the_characters_that_changed() -> None:
    """Not the whole sentence removed and added: the rest of it stays unchanged."""
    c = comparison("chinese-term-replaced")
    (block,) = c.changed_blocks
    assert [(s.op, s.text) for s in block.segments if s.op != "="] == [
        ("-", "职业技能教育培训中心"), ("+", "反恐和去极端化工作"),
    ]
    assert block.segments[0] == Segment("=", "当局将这些设施称为“")
    assert (block.removed.chars, block.added.chars, block.removed.words) == (10, 9, 0)
    md = render(Report(context("chinese-term-replaced"), c), "md")
    assert "称为“~~职业技能教育培训中心~~ **反恐和去极端化工作**”" in md


def test_chinese_post_size_is_in_characters_with_latin_words_kept_whole() -> None:
    c = comparison("chinese-term-replaced")
    # "2017年", "（OHCHR）于2022年8月31日": 2017, OHCHR, 2022, 8 and 31 stay words
    assert (c.size.words, c.size.chars) == (5, 178)
    assert "(5 words and 178 characters)" in render(
        Report(CONTEXT, compare_versions(None, Version.from_post(load(
            "chinese-term-replaced", "after.json")))), "md"
    )


def test_uyghur_edit_is_diffed_by_words() -> None:
    (block,) = comparison("uyghur-demand-softened").changed_blocks
    changed = [(s.op, s.text) for s in block.segments if s.op != "="]
    assert changed == [
        ("-", "دەرھال ۋە شەرتسىز "), ("-", "تەلەپ"), ("+", "ئۈمىد"),
    ]
