"""Word diffs and block alignment: readable, and never losing a word of either side."""

from __future__ import annotations

import random
import unicodedata

import pytest

from diffs.blocks import html_blocks, kinds_for
from diffs.htmltext import parse, text_blocks
from diffs.scripts import counts
from diffs.text import Segment, Tally, diff_blocks, diff_words, tally, tokens

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


# --- scripts written without spaces ---------------------------------------------------------
UNSPACED_SAMPLES = [
    "今天伊力哈木·土赫提被判处无期徒刑。",  # Chinese
    "東京で記者会見が開かれました。カタカナも。",  # Japanese: Kanji, Hiragana, Katakana
    "รัฐบาลได้ออกแถลงการณ์",  # Thai, with combining vowels and tones
]


@pytest.mark.parametrize("text", UNSPACED_SAMPLES, ids=["chinese", "japanese", "thai"])
def test_unspaced_scripts_are_tokenized_per_character(text: str) -> None:
    toks = tokens(text)
    assert "".join(toks) == text
    assert len(toks) > len(text) // 2  # no whole-sentence "word"
    # a combining mark stays with its letter: no token starts with one
    assert not any(unicodedata.category(t[0]).startswith("M") for t in toks)


def test_thai_marks_stay_on_their_letter() -> None:
    assert tokens("ที่") == ["ที่"]  # tho thahan + sara i + mai ek: one unit


def test_latin_words_stay_whole_in_mixed_text() -> None:
    assert tokens("2024年 OHCHR 报告 Ilham Tohti。") == [
        "2024", "年", " ", "OHCHR", " ", "报", "告", " ", "Ilham", " ", "Tohti", "。",
    ]
    assert diff_words("Ilham Tohti 被判处", "Ilham Tohti 被判决") == [
        Segment("=", "Ilham Tohti 被判"), Segment("-", "处"), Segment("+", "决"),
    ]


def test_arabic_script_is_diffed_by_words() -> None:
    old, new = "ئۇنى دەرھال قويۇپ بېرىشنى تەلەپ قىلدى", "ئۇنى قويۇپ بېرىشنى ئۈمىد قىلدى"
    segments = diff_words(old, new)
    assert [(s.op, s.text.strip()) for s in segments if s.op != "="] == [
        ("-", "دەرھال"), ("-", "تەلەپ"), ("+", "ئۈمىد"),
    ]
    assert tally(old) == Tally(words=6)


def test_counts_in_characters_for_unspaced_text_only() -> None:
    assert counts("a — b, c.") == (4, 0)  # unchanged for spaced text: whitespace words
    assert counts("职业技能教育培训中心") == (0, 10)
    assert counts("「新疆」，2024年。") == (1, 3)  # punctuation is not counted
    assert counts("Ilham伊力哈木") == (1, 4)


def test_an_edited_chinese_paragraph_is_paired_not_removed_and_added() -> None:
    old = ["第一段没有变化。", "当局将这些设施称为职业技能教育培训中心，但前被拘留者描述了酷刑。"]
    new = ["第一段没有变化。", "当局将这些设施称为反恐和去极端化工作，但前被拘留者描述了酷刑。"]
    (block,) = [b for b in diff_blocks(old, new) if b.op != "equal"]
    assert block.op == "change" and (block.removed, block.added) == (Tally(0, 10), Tally(0, 9))


@pytest.mark.parametrize("seed", range(100))
def test_chinese_never_dropped(seed: int) -> None:
    rnd = random.Random(seed)
    chars = list("中国新疆维吾尔人权报告，。的了在和OHCHR 2024")
    old = "".join(rnd.choice(chars) for _ in range(rnd.randint(0, 60)))
    new = list(old)
    for _ in range(rnd.randint(1, 6)):
        at = rnd.randint(0, len(new))
        new[at : at + rnd.randint(0, 4)] = [rnd.choice(chars) for _ in range(rnd.randint(0, 5))]
    assert sides(diff_words(old, "".join(new))) == (old, "".join(new))
