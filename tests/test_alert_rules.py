"""Routing rules: sites, kinds, keywords that appear or disappear, digest times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.rules import keyword_hits, route_from_config
from wpwatch.exceptions import ConfigError


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
    r = route_from_config({"name": "d", "channel": "email", "digest": "daily", "digest_at": "08:00"})
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
