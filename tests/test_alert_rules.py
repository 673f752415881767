"""Routing rules: sites, kinds, keywords that appear or disappear, digest times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.rules import keyword_hits, route_from_config
from core.exceptions import ConfigError


def test_route_defaults_and_matching() -> None:
    r = route_from_config({"name": "desk", "channel": "email", "sites": ["iuhrdf"],
                           "kinds": ["deleted", "edited"]})
    assert r.digest == "immediate"
    assert r.wants("https://iuhrdf.org/en", "iuhrdf", "deleted")
    assert not r.wants("https://iuhrdf.org/en", "iuhrdf", "new")
    assert not r.wants("https://other.org", "other", "deleted")
    assert route_from_config({"name": "all", "channel": "slack"}).wants("https://x", None, "new")


def test_keyword_that_disappears_or_appears() -> None:
    old = {"title": "Statement", "text": ["We condemn the detention of Ilham Tohti."]}
    new = {"title": "Statement", "text": ["We note the situation."]}
    assert keyword_hits(["Ilham Tohti", "detention", "situation", "absent"], old, new) == (
        "Ilham Tohti", "detention", "situation",
    )
    assert keyword_hits(["tohti"], old, old) == ()  # present in both: no alert
    assert keyword_hits(["Tohti"], None, old) == ("Tohti",)  # a new post naming him
    assert keyword_hits(["Toh"], old, new) == ()  # whole words, not fragments


def test_daily_digest_is_due_at_the_next_local_time() -> None:
    r = route_from_config(
        {"name": "d", "channel": "email", "digest": "daily", "digest_at": "08:00"}
    )
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    due = r.due(now).astimezone()
    assert (due.hour, due.minute) == (8, 0) and due > now
    assert (due - now).total_seconds() <= 24 * 3600


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"channel": "email"}, "needs a name"),
        ({"name": "x", "kinds": ["removed"]}, "unknown removed"),
        ({"name": "x", "digest": "hourly"}, "digest must be one of"),
        ({"name": "x", "digest_at": "8am"}, "digest_at"),
        ({"name": "x", "sites": "iuhrdf"}, "sites must be a list"),
    ],
)
def test_bad_routing_is_one_clear_error(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        route_from_config(entry)


def test_chinese_keyword_inside_running_text() -> None:
    """Chinese has no spaces between words: a keyword touches other characters."""
    old = {"title": "判决", "text": ["今天伊力哈木·土赫提被判处无期徒刑。"]}
    new = {"title": "判决", "text": ["今天的判决引起了国际关注。"]}
    assert keyword_hits(["伊力哈木", "无期徒刑", "国际关注", "新疆"], old, new) == (
        "伊力哈木", "无期徒刑", "国际关注",
    )
    assert keyword_hits(["伊力哈木"], None, old) == ("伊力哈木",)


def test_japanese_and_thai_keywords_inside_running_text() -> None:
    new = {"text": ["ウイグル人の強制労働についての報告書。 รัฐบาลได้ออกแถลงการณ์"]}
    assert keyword_hits(["強制労働", "แถลงการณ์"], None, new) == ("強制労働", "แถลงการณ์")


def test_latin_keywords_stay_whole_words_next_to_chinese() -> None:
    new = {"text": ["Tohtiyev 先生; Ilham伊力哈木; 联合国OHCHR报告"]}
    assert keyword_hits(["Tohti", "Ilham", "ohchr"], None, new) == ("Ilham", "ohchr")


def test_uyghur_keywords_are_whole_words() -> None:
    """Arabic script is written with spaces: whole words, as for Latin."""
    new = {"text": ["ئىلھام توختى مۇددەتسىز قاماق جازاسىغا ھۆكۈم قىلىنغان"]}
    assert keyword_hits(["ئىلھام توختى", "قاماق", "قاما"], None, new) == (
        "ئىلھام توختى", "قاماق",
    )
