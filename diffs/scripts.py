"""Scripts written without spaces between words: Han, Hiragana, Katakana, Thai and the like.

Whitespace does not delimit words in these scripts, so a diff, a word count or a whole-word
keyword match that splits on spaces would treat a whole Chinese sentence as one "word".
wpwatch treats each character of these scripts as a unit of its own (a character and the
combining marks that follow it), keeps whitespace-separated words for every other script
(Latin, Cyrillic, Arabic, Uyghur, Hangul…), and counts such text in characters.
"""

from __future__ import annotations

import re

# Blocks whose text is written without spaces between words.
UNSPACED_RANGES = (
    "\u0e00-\u0e7f"  # Thai
    "\u0e80-\u0eff"  # Lao
    "\u0f00-\u0fff"  # Tibetan
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK radicals, Kangxi radicals
    "\u3000-\u303f"  # CJK symbols and punctuation (、。「」)
    "\u3040-\u309f"  # Hiragana
    "\u30a0-\u30ff"  # Katakana
    "\u3100-\u312f"  # Bopomofo
    "\u31c0-\u31ff"  # CJK strokes, Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK unified ideographs extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\ua000-\ua4cf"  # Yi
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\ufe30-\ufe4f"  # CJK compatibility forms
    "\uff00-\uffef"  # half- and full-width forms (，！ and half-width Katakana)
    "\U00020000-\U0003134f"  # CJK unified ideographs extensions B–H
)
# Marks that belong to the character before them (Thai and Lao vowels and tones, Tibetan
# and Myanmar signs, Kana voicing marks, variation selectors).
COMBINING_RANGES = (
    "\u0300-\u036f\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u0eb1\u0eb4-\u0ebc\u0ec8-\u0ecd"
    "\u0f18\u0f19\u0f35\u0f37\u0f39\u0f71-\u0f84\u0f86\u0f87\u0f8d-\u0fbc"
    "\u102b-\u103e\u1056-\u1059\u105e-\u1060\u1062-\u1064\u1067-\u106d\u1071-\u1074"
    "\u1082-\u108d\u17b4-\u17d3\u3099\u309a\ufe00-\ufe0f\U000e0100-\U000e01ef"
)
UNSPACED = re.compile(f"[{UNSPACED_RANGES}]")
#: One unit of text: a run of whitespace, one character of an unspaced script with its
#: combining marks, or a run of anything else that is not whitespace (a word).
UNIT = re.compile(
    rf"\s+|[{UNSPACED_RANGES}][{COMBINING_RANGES}]*|[^\s{UNSPACED_RANGES}]+"
)
_WORDLIKE = re.compile(r"\w")


def has_unspaced(text: str) -> bool:
    """True when ``text`` holds a character of a script written without spaces."""
    return UNSPACED.search(text) is not None


def is_unspaced(unit: str) -> bool:
    """True when a unit (see :data:`UNIT`) is one character of an unspaced script."""
    return bool(unit) and UNSPACED.match(unit) is not None


def counts(text: str) -> tuple[int, int]:
    """(words, characters): characters of unspaced scripts, and whitespace words of the rest.

    Letters and digits of unspaced scripts count as characters, their punctuation (，。「」)
    does not. A token that mixes both ("2024年", "伊力哈木·土赫提") counts its Latin-like
    parts as words only when they hold a letter or digit. Text without any unspaced
    character counts exactly as ``len(text.split())``.
    """
    if not has_unspaced(text):
        return len(text.split()), 0
    words = chars = 0
    for token in text.split():
        if not has_unspaced(token):
            words += 1
            continue
        for unit in UNIT.findall(token):
            if is_unspaced(unit):
                chars += 1 if _WORDLIKE.match(unit) else 0
            elif _WORDLIKE.search(unit):
                words += 1
    return words, chars
