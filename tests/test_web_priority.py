"""The priority score (the formula in web/priority.py and the README) and the change link."""

from __future__ import annotations

import pytest

from core.config import change_link
from web.priority import changed_text, priority


@pytest.mark.parametrize(("kind", "fields", "text", "weight", "expected"), [
    ("deleted", [], "", 1.0, 1.0),
    ("deleted", [], "a statement on uyghur rights", 2.0, 3.0),
    ("edited", ["markup"], "", 1.0, 0.0),
    ("edited", ["date", "links"], "", 1.0, 1.5),
    ("edited", ["content", "title", "tags"], "", 1.0, 1.25),
    ("new", [], "uyghur camp detention decree", 1.0, 0.5 + 1.5),  # keywords capped at 1.5
    ("restored", ["sticky"], "", 0.5, 0.3),
], ids=["deleted", "weighted-keyword", "markup-only", "backdated-links", "taxonomy",
        "keyword-cap", "restored"])
def test_priority_formula(kind: str, fields: list[str], text: str, weight: float,
                          expected: float) -> None:
    keywords = ["Uyghur", "camp", "detention", "decree"]
    assert priority(kind, fields, text, keywords, weight) == pytest.approx(expected)


def test_changed_text_keeps_only_blocks_one_side_has() -> None:
    old = {"title": "Old", "text": ["same", "removed words"]}
    new = {"title": "New", "text": ["same", "added words"]}
    assert changed_text(old, new) == "old new removed words added words"
    assert changed_text(None, new) == "new same added words"
    assert changed_text(old, None) == "old same removed words"


def test_change_link_prefers_the_workspace() -> None:
    assert change_link({}, 7) is None
    assert change_link({"report_url": "https://r.example/wk/"}, 7) == \
        "https://r.example/wk/changes/7.html"
    assert change_link({"report_url": "https://r.example", "base_url": "https://ws.example/"},
                       7) == "https://ws.example/changes/7"
