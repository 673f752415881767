"""Ignore rules without a server: config checks, the rule set's hash, scoring, the migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from archive import Archive
from archive.migrations import MIGRATIONS
from core.config import parse
from core.exceptions import ConfigError
from diffs.compare import changed_fields
from diffs.ignore import IgnoreRules
from diffs.normalize import normalize

SHARE = '<div class="sharedaddy"><h3>{h}</h3><a href="https://x.example/share?n={n}">X</a></div>'


def post(paragraph: str, views: int, n: int, *, author: int = 1, h: str = "Share this:") -> dict:
    html = f"<p>{paragraph}</p><p>Views: {views}</p>" + SHARE.format(h=h, n=n)
    return {"id": 5, "title": {"rendered": "Statement"}, "content": {"rendered": html},
            "excerpt": {"rendered": ""}, "author": author}  # fmt: skip


def site_with(ignore: Any, defaults: Any = None) -> Any:
    data: dict[str, Any] = {"sites": [{"url": "https://ministry.example.org", "ignore": ignore}]}
    if defaults is not None:
        data["defaults"] = {"ignore": defaults}
    return parse(data).sites[0]


@pytest.mark.parametrize(
    ("ignore", "message"),
    [
        ({"fields": ["autor"]}, "unknown field 'autor'; use one of title, content"),
        ({"fields": ["terms"]}, "unknown field 'terms'"),
        ({"selectors": ["div["]}, "'div[' is not a valid CSS selector"),
        ({"selectors": ["p::after"]}, "'p::after' is not a valid CSS selector"),
        ({"patterns": ["Views: (\\d+"]}, "is not a valid regular expression"),
        ({"pattern": ["x"]}, "unknown key(s) pattern; supported: fields, selectors, patterns"),
        ({"patterns": "Views"}, "patterns must be a list of non-empty strings"),
        (["x"], "must be a table"),
    ],
    ids=["field", "terms-alone", "selector", "pseudo-element", "pattern", "key", "not-list",
         "not-table"],
)  # fmt: skip
def test_bad_rules_are_one_line_config_errors(ignore: Any, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        site_with(ignore)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert "[sites.ignore] of ministry.example.org" in str(err.value)


def test_defaults_and_site_rules_add_up_and_inline_tables_parse() -> None:
    import tomllib

    data = tomllib.loads(
        '[defaults.ignore]\nselectors = [".sharedaddy"]\n'
        '[[sites]]\nurl = "https://ministry.example.org"\n'
        "ignore = { fields = [\"terms:tags\", \"author\"], patterns = ['Views: \\d+'] }\n"
    )
    site = parse(data).sites[0]
    assert site.ignore == {
        "fields": ("terms:tags", "author"), "selectors": (".sharedaddy",),
        "patterns": ("Views: \\d+",),
    }  # fmt: skip
    with pytest.raises(ConfigError, match=r"\[defaults.ignore\]: fields: unknown field 'x'"):
        parse({"defaults": {"ignore": {"fields": ["x"]}}})


def test_the_hash_names_the_rules_not_their_order() -> None:
    a = IgnoreRules.from_table({"selectors": [".a", ".b"], "patterns": ["x+"]})
    b = IgnoreRules.from_table({"patterns": ["x+"], "selectors": [".b", ".a", ".a"]})
    assert a.hash == b.hash and len(a.hash) == 64
    assert a.hash != IgnoreRules.from_table({"selectors": [".a"], "patterns": ["x+"]}).hash
    assert IgnoreRules().hash == IgnoreRules.from_table(None).hash


def test_selectors_and_patterns_make_noise_and_name_the_rules() -> None:
    rules = IgnoreRules.from_table({"selectors": [".sharedaddy"], "patterns": [r"Views: \d+"]})
    old, new = post("We welcome it.", 12, 1), post("We welcome it.", 13, 2, h="Share:")
    plain = changed_fields(normalize(old), normalize(new))
    assert plain == ["content", "links"]
    score = rules.score("edited", plain, old, new)
    assert score.noise and score.fields == () and score.ignored == ("content", "links")
    assert score.noise_rules == ("selector .sharedaddy", r"pattern Views: \d+")
    # One rule alone is not enough: the change stays news, and says what is left.
    alone = IgnoreRules.from_table({"patterns": [r"Views: \d+"]}).score("edited", plain, old, new)
    assert (alone.verdict, alone.fields) == ("change", ("content", "links"))
    # A real edit among the noise names only what the reader would see.
    edited = post("We reject it.", 14, 3)
    real = rules.score("edited", changed_fields(normalize(old), normalize(edited)), old, edited)
    assert (real.verdict, real.fields, real.ignored) == ("change", ("content",), ("links",))


def test_field_rules_and_overlapping_rules() -> None:
    old, new = post("Same.", 1, 1), post("Same.", 1, 1, author=2)
    rules = IgnoreRules.from_table({"fields": ["author"]})
    score = rules.score("edited", ["author"], old, new)
    assert score.noise_rules == ("field author",)
    # Without the raw records (a version made from the feed) only field rules apply.
    assert rules.score("edited", ["author"], None, None).noise_rules == ("field author",)
    assert not rules.score("edited", ["author", "title"], None, None).noise
    # Two rules that each would do: both are named.
    both = IgnoreRules.from_table({"patterns": [r"Views: \d+", r"Views: 1\d"]})
    a, b = post("Same.", 12, 1), post("Same.", 13, 1)
    assert both.score("edited", ["content"], a, b).noise_rules == (
        r"pattern Views: \d+", r"pattern Views: 1\d",
    )  # fmt: skip
    # Other kinds are never noise, and no rules means no verdict to change.
    assert not rules.score("deleted", [], old, None).noise
    assert IgnoreRules().score("edited", ["author"], old, new).fields == ("author",)


def test_patterns_reach_text_split_by_inline_markup() -> None:
    rules = IgnoreRules.from_table({"patterns": [r"Views: \d+"]})
    a = {"content": {"rendered": "<p>Text.</p><p>Views: <b>12</b></p>"}}
    b = {"content": {"rendered": "<p>Text.</p><p>Views: <b>13</b></p>"}}
    assert rules.normalize(a)["text"] == ["Text."]
    assert "content" not in rules.changed(a, b)


def test_an_archive_from_before_the_rules_opens_and_gains_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Archive(str(path)).close()
    with sqlite3.connect(path) as db:  # make it look like an archive of the schema before
        version = db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        before = next(m.version for m in MIGRATIONS if m.name == "ignore rules") - 1
        db.execute("DROP TABLE rule_sets")
        for column in ("verdict", "scored_fields", "noise_rules", "ruleset"):
            db.execute(f"ALTER TABLE changes DROP COLUMN {column}")
        db.execute("UPDATE schema_version SET version = ? WHERE version = ?", (before, version))
    archive = Archive(str(path))
    assert archive.changes(with_noise=True) == []
    archive.close()
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(changes)")}
        assert {"verdict", "scored_fields", "noise_rules", "ruleset"} <= columns
        assert db.execute("SELECT count(*) FROM rule_sets").fetchone() == (0,)
