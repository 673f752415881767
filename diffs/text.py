"""Word-level diffs of visible text, paragraph by paragraph.

Two steps, both over plain strings:

1. ``diff_blocks`` aligns the blocks (paragraphs, headings, list items) of two versions.
   Equal blocks are matched first; inside a replaced run, old and new blocks are paired by
   word similarity (a monotone best pairing), so a paragraph that was edited is shown as one
   paragraph with its words changed, and one that was removed is shown removed.
2. ``diff_words`` diffs two paired blocks word by word, then merges changes separated by
   nothing but a space or a short word into one, so edits read as phrases.

A "word" is a whitespace-separated word, except in scripts written without spaces (Han,
Kana, Thai…: see ``diffs.scripts``), where each character is a unit of its own: an edit
inside a Chinese sentence shows the characters that changed, not the whole sentence.
Sizes are a :class:`Tally` of words and of such characters.

Nothing is ever dropped: the ``=`` and ``-`` segments of a result spell the old text exactly,
and the ``=`` and ``+`` segments the new one, whatever the replacement (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from diffs.scripts import UNIT, counts

SegmentOp = Literal["=", "-", "+"]
BlockOp = Literal["equal", "insert", "delete", "change"]

#: Two blocks of a replaced run are paired when at least this share of their words match.
PAIR_THRESHOLD = 0.4
#: Above this many old x new blocks in one replaced run, blocks are not paired (shown as
#: removed, then added): pairing costs m x n similarity ratios.
MAX_PAIRING = 2500



@dataclass(frozen=True)
class Tally:
    """A size of text: whitespace words, and characters of scripts written without spaces."""

    words: int = 0
    chars: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.words + other.words, self.chars + other.chars)

    def __bool__(self) -> bool:
        return bool(self.words or self.chars)


def tally(text: str) -> Tally:
    return Tally(*counts(text))


@dataclass(frozen=True)
class Segment:
    op: SegmentOp  # "=" unchanged, "-" removed, "+" added
    text: str


@dataclass(frozen=True)
class BlockDiff:
    """One block of the comparison: unchanged, added, removed, or changed word by word."""

    op: BlockOp
    old_index: int | None  # 0-based position among the old version's blocks
    new_index: int | None
    kind: str  # "paragraph", "heading", "list item"… (of the new block when there is one)
    segments: tuple[Segment, ...]

    @property
    def old_text(self) -> str:
        return "".join(s.text for s in self.segments if s.op != "+")

    @property
    def new_text(self) -> str:
        return "".join(s.text for s in self.segments if s.op != "-")

    @property
    def removed(self) -> Tally:
        return sum((tally(s.text) for s in self.segments if s.op == "-"), Tally())

    @property
    def added(self) -> Tally:
        return sum((tally(s.text) for s in self.segments if s.op == "+"), Tally())

    @property
    def words_removed(self) -> int:
        return self.removed.words

    @property
    def words_added(self) -> int:
        return self.added.words

    @property
    def number(self) -> int:
        """1-based position as a reader counts it: in the new version, or the old if removed."""
        index = self.new_index if self.new_index is not None else self.old_index
        return (index or 0) + 1


def count_words(text: str) -> int:
    """Whitespace words, not counting text in scripts written without spaces."""
    return counts(text)[0]


def tokens(text: str) -> list[str]:
    """Words (runs of non-space, punctuation attached), single characters of scripts
    written without spaces, and the whitespace between them: together, ``text`` exactly."""
    return UNIT.findall(text)


def units(text: str) -> list[str]:
    """The tokens of ``text`` without its whitespace: what similarity is measured on."""
    return [t for t in UNIT.findall(text) if not t.isspace()]


def diff_words(old: str, new: str) -> list[Segment]:
    """Word diff of two strings: removed segments come before added ones at each change."""
    a, b = tokens(old), tokens(new)
    chunks: list[tuple[str, str, str]] = []  # (op, old text, new text); op "=" or "!"
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old_part, new_part = "".join(a[i1:i2]), "".join(b[j1:j2])
        chunks.append(("=" if tag == "equal" else "!", old_part, new_part))
    chunks = _merge_changes(_absorb_small_equalities(chunks))
    segments: list[Segment] = []
    for op, old_part, new_part in chunks:
        if op == "=":
            segments.append(Segment("=", old_part))
            continue
        if old_part:
            segments.append(Segment("-", old_part))
        if new_part:
            segments.append(Segment("+", new_part))
    return segments


def _absorb_small_equalities(chunks: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Turn an equality squeezed between two changes into part of them when it is small:
    whitespace only, or one word no longer than the changes on both sides (a stricter
    diff-match-patch semantic cleanup, on words: "~~a~~ **b** the ~~c~~ **d**" reads as
    "~~a the c~~ **b the d**", but two or more kept words stay visible)."""

    def size(chunk: tuple[str, str, str]) -> int:
        return max(len(chunk[1]), len(chunk[2]))

    out = list(chunks)
    i = 1
    while i < len(out) - 1:
        before, here, after = out[i - 1], out[i], out[i + 1]
        if (
            here[0] == "="
            and before[0] == "!"
            and after[0] == "!"
            and (
                not here[1].strip()
                or (len(units(here[1])) == 1 and len(here[1]) <= min(size(before), size(after)))
            )
        ):
            out[i] = ("!", here[1], here[2])
            out = _merge_changes(out)
            i = max(1, i - 1)
            continue
        i += 1
    return out


def _merge_changes(chunks: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    merged: list[tuple[str, str, str]] = []
    for chunk in chunks:
        if merged and merged[-1][0] == chunk[0] == "!":
            op, old_part, new_part = merged[-1]
            merged[-1] = (op, old_part + chunk[1], new_part + chunk[2])
        elif chunk[1] or chunk[2]:
            merged.append(chunk)
    return merged


def diff_blocks(
    old: Sequence[str],
    new: Sequence[str],
    old_kinds: Sequence[str] | None = None,
    new_kinds: Sequence[str] | None = None,
) -> list[BlockDiff]:
    """Align two lists of blocks; unchanged blocks are included (renderers pick context)."""
    okind = list(old_kinds) if old_kinds is not None else ["paragraph"] * len(old)
    nkind = list(new_kinds) if new_kinds is not None else ["paragraph"] * len(new)
    out: list[BlockDiff] = []
    matcher = SequenceMatcher(None, list(old), list(new), autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(
                BlockDiff("equal", i, j, nkind[j], (Segment("=", new[j]),))
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        for i, j in _pair(old[i1:i2], new[j1:j2]):
            if i is not None and j is not None:
                oi, nj = i1 + i, j1 + j
                out.append(
                    BlockDiff("change", oi, nj, nkind[nj], tuple(diff_words(old[oi], new[nj])))
                )
            elif i is not None:
                out.append(
                    BlockDiff("delete", i1 + i, None, okind[i1 + i], (Segment("-", old[i1 + i]),))
                )
            elif j is not None:
                out.append(
                    BlockDiff("insert", None, j1 + j, nkind[j1 + j], (Segment("+", new[j1 + j]),))
                )
    return out


def _pair(old: Sequence[str], new: Sequence[str]) -> list[tuple[int | None, int | None]]:
    """Pair the blocks of one replaced run in order, maximising word similarity.

    Returns every old and every new index exactly once, in reading order: ``(i, j)`` for a
    pair, ``(i, None)`` for a removed block, ``(None, j)`` for an added one.
    """
    m, n = len(old), len(new)
    if m * n > MAX_PAIRING:
        return [(i, None) for i in range(m)] + [(None, j) for j in range(n)]
    words_old = [units(o) for o in old]
    words_new = [units(w) for w in new]
    sim = [[_similarity(words_old[i], words_new[j]) for j in range(n)] for i in range(m)]
    # best[i][j]: best total similarity pairing old[i:] with new[j:]
    best = [[0.0] * (n + 1) for _ in range(m + 1)]
    for i in range(m - 1, -1, -1):
        for j in range(n - 1, -1, -1):
            paired = sim[i][j] + best[i + 1][j + 1] if sim[i][j] >= PAIR_THRESHOLD else -1.0
            best[i][j] = max(paired, best[i + 1][j], best[i][j + 1])
    pairs: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < m and j < n:
        if sim[i][j] >= PAIR_THRESHOLD and best[i][j] == sim[i][j] + best[i + 1][j + 1]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            pairs.append((i, None))
            i += 1
        else:
            pairs.append((None, j))
            j += 1
    pairs.extend((k, None) for k in range(i, m))
    pairs.extend((None, k) for k in range(j, n))
    return pairs


def _similarity(a: list[str], b: list[str]) -> float:
    if not a and not b:
        return 1.0
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < PAIR_THRESHOLD or matcher.quick_ratio() < PAIR_THRESHOLD:
        return 0.0
    return matcher.ratio()
