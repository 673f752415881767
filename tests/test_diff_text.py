"""Word diffs and block alignment: readable, and never losing a word of either side."""

from __future__ import annotations

import random

import pytest

from diffs.blocks import html_blocks, kinds_for
from diffs.htmltext import parse, text_blocks
from diffs.text import Segment, diff_blocks, diff_words

WORDS = [
    "the",
    "a",
    "China",
    "Xinjiang",
    "envoys",
    "15",
    "letter",
    "said",
    "of",
    "rights",
    "800,000",
    "“gossip”",
    "U.N.",
    "and",
]


def sides(segments: list[Segment]) -> tuple[str, str]:
    old = "".join(s.text for s in segments if s.op != "+")
    new = "".join(s.text for s in segments if s.op != "-")
    return old, new


def test_a_changed_phrase_reads_as_one_change() -> None:
    assert diff_words("Beijing bristles at criticism", "Beijing responds to criticism") == [
        Segment("=", "Beijing "), Segment("-", "bristles at"), Segment("+", "responds to"),
        Segment("=", " criticism"),
    ]  # fmt: skip


def test_a_number_is_one_word() -> None:
    segments = diff_words("an estimated 800,000 people", "an estimated 900,000 people")
    assert [s for s in segments if s.op != "="] == [
        Segment("-", "800,000"),
        Segment("+", "900,000"),
    ]


def test_two_kept_words_between_changes_stay_visible() -> None:
    segments = diff_words("East Turkestan: Western Envoys in Move", "Western Envoys Ask")
    assert Segment("=", "Western Envoys ") in segments or Segment("=", "Western Envoys") in segments


def test_identical_and_empty() -> None:
    assert diff_words("same text", "same text") == [Segment("=", "same text")]
    assert diff_words("", "added") == [Segment("+", "added")]
    assert diff_words("removed", "") == [Segment("-", "removed")]
    assert diff_words("", "") == []


@pytest.mark.parametrize("seed", range(200))
def test_words_never_dropped(seed: int) -> None:
    rnd = random.Random(seed)
    old = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(0, 40)))
    new_words = old.split()
    for _ in range(rnd.randint(1, 6)):  # replace, insert, delete runs of words
        at = rnd.randint(0, len(new_words))
        cut = rnd.randint(0, 4)
        new_words[at : at + cut] = [rnd.choice(WORDS) for _ in range(rnd.randint(0, 5))]
    new = " ".join(new_words)
    assert sides(diff_words(old, new)) == (old, new)


@pytest.mark.parametrize("seed", range(100))
def test_blocks_never_dropped(seed: int) -> None:
    """Multi-paragraph replacements keep every old and every new block, in order."""
    rnd = random.Random(seed)

    def para() -> str:
        return " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 12)))

    old = [para() for _ in range(rnd.randint(0, 12))]
    new = list(old)
    for _ in range(rnd.randint(1, 4)):
        at = rnd.randint(0, len(new))
        new[at : at + rnd.randint(0, 3)] = [para() for _ in range(rnd.randint(0, 4))]
    result = diff_blocks(old, new)
    old_side = [b.old_text for b in result if b.old_index is not None]
    new_side = [b.new_text for b in result if b.new_index is not None]
    assert old_side == old
    assert new_side == new
    assert [b.old_index for b in result if b.old_index is not None] == list(range(len(old)))
    assert [b.new_index for b in result if b.new_index is not None] == list(range(len(new)))


def test_edited_paragraph_is_paired_removed_one_is_removed() -> None:
    old = ["One two three four five.", "A paragraph that goes away entirely.", "Six seven eight."]
    new = ["One two three FOUR five.", "Six seven eight."]
    ops = [(b.op, b.old_index, b.new_index) for b in diff_blocks(old, new)]
    assert ops == [("change", 0, 0), ("delete", 1, None), ("equal", 2, 1)]


def test_huge_replaced_runs_are_not_paired_but_kept() -> None:
    old = [f"old paragraph {i}" for i in range(60)]
    new = [f"new text {i}" for i in range(60)]
    result = diff_blocks(old, new)
    assert [b.old_text for b in result if b.op == "delete"] == old
    assert [b.new_text for b in result if b.op == "insert"] == new


HTML = (
    "<h2>Heading</h2><p>Para <b>bold</b><br>second line</p><ul><li>one<ul><li>nested</li></ul>"
    "</li></ul><blockquote><p>Quoted</p></blockquote><table><tr><td>a</td><td>b</td></tr></table>"
    "<figure><img src=x.jpg><figcaption>Cap</figcaption></figure><script>no()</script>tail"
)


def test_block_kinds() -> None:
    assert [(b.kind, b.text) for b in html_blocks(HTML)] == [
        ("heading", "Heading"), ("paragraph", "Para bold"), ("paragraph", "second line"),
        ("list item", "one"), ("list item", "nested"), ("quote", "Quoted"),
        ("table row", "a | b"), ("caption", "Cap"), ("paragraph", "tail"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "html",
    [HTML, "", "plain", "<div>a<div>b</div>c</div>", "<p>x<!-- c -->y</p><template>t</template>",
     "<td>loose</td><td>cells</td>", "<ol><li><p>p in li</p></li></ol>"],
)  # fmt: skip
def test_typed_blocks_are_the_normalized_text(html: str) -> None:
    assert [b.text for b in html_blocks(html)] == text_blocks(parse(html))


def test_kinds_fall_back_to_paragraph_when_text_differs() -> None:
    assert kinds_for(["Heading"], "<h2>Heading</h2>") == ["heading"]
    assert kinds_for(["Other"], "<h2>Heading</h2>") == ["paragraph"]
    assert kinds_for(["A", "B"], None) == ["paragraph", "paragraph"]
