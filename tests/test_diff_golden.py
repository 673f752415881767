"""Golden diffs: the real iuhrdf post edited in realistic ways, rendered as Markdown.

Each case is ``tests/fixtures/golden/<case>/{before,after}.json`` (REST records) and the
expected Markdown. Regenerate after an intended change with ``WPWATCH_REGEN_GOLDEN=1`` and
review the diff of the expected files before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from diffs.render import render
from diffs.report import Comparison, Context, Report, Version, compare_versions

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
}


def load(case: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / case / name).read_text(encoding="utf-8"))
    return data


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
    markdown = render(Report(CONTEXT, comparison(case)), "md")
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
