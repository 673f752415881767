"""Ignore rules: what a site's changes are compared without, and the verdict they give.

A rule set has three kinds of rule (``[sites.ignore]`` in wpwatch.toml, checked by
``core.ignore_rules.parse_ignore``):

- ``fields``: change names as `wpwatch changes --json` prints them (``author``,
  ``terms:tags``); a change of one of them alone is not news;
- ``selectors``: CSS selectors whose elements are removed from the rendered HTML before
  comparing (a sharing block, related posts);
- ``patterns``: regular expressions removed from the visible text (``Views: \\d+``).

Both sides of a comparison are normalized again from their raw records under the same
rules, so a rule added today never turns the next round into a wave of edits, and the
past can be scored again from the bytes the archive kept. An ``edited`` change whose every
changed field the rules set aside is ``noise``; :meth:`IgnoreRules.score` also names the
rules that made it so. Pure functions: nothing here reads the archive.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from core.ignore_rules import IGNORE_KEYS, parse_ignore
from core.values import canonical_json
from diffs.compare import changed_fields, derived_excerpt
from diffs.normalize import SCHEMA_VERSION, Selector, normalize

#: Bump when what a rule set means changes, so its hash changes with it.
RULES_FORMAT = 1
#: How a rule of each kind is named in a noise verdict: ``selector .sharedaddy``.
RULE_NOUNS = {"fields": "field", "selectors": "selector", "patterns": "pattern"}
VERDICTS = ("change", "noise")


@dataclass(frozen=True)
class Score:
    """What an ``edited`` change is under a rule set.

    ``fields``: what changed that the rules keep; ``ignored``: what changed that they set
    aside; ``noise_rules``: when ``fields`` is empty, the rules that made the change noise.
    """

    fields: tuple[str, ...]
    ignored: tuple[str, ...] = ()
    noise_rules: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        return "noise" if self.noise_rules else "change"

    @property
    def noise(self) -> bool:
        return bool(self.noise_rules)


@dataclass(frozen=True)
class IgnoreRules:
    """One site's rule set: each kind of rule in the order written, without repeats."""

    fields: tuple[str, ...] = ()
    selectors: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    _compiled: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_table(
        cls, table: Mapping[str, Sequence[str]] | None, where: str = "ignore"
    ) -> IgnoreRules:
        """From an ``ignore`` table (as written, or as ``SiteConfig.ignore`` holds it).

        A bad rule is a ``ConfigError`` naming it (``core.ignore_rules.parse_ignore``).
        """
        plain = {k: list(v) for k, v in (table or {}).items()}
        checked = parse_ignore(plain, where)
        return cls(*(checked.get(key, ()) for key in IGNORE_KEYS))

    def __bool__(self) -> bool:
        return bool(self.fields or self.selectors or self.patterns)

    # -- what is stored --------------------------------------------------------------------
    def as_dict(self) -> dict[str, list[str]]:
        """The rule set as stored beside its hash: each kind sorted (order means nothing)."""
        return {key: sorted(getattr(self, key)) for key in IGNORE_KEYS}

    @cached_property
    def hash(self) -> str:
        """SHA-256 hex naming this rule set: equal for equal rules, however they are ordered.

        It covers the normalized form's version too: the same rules over a different
        normalizer may score differently.
        """
        record = {"format": RULES_FORMAT, "normalize": SCHEMA_VERSION, **self.as_dict()}
        return hashlib.sha256(canonical_json(record)).hexdigest()

    def labels(self) -> list[str]:
        """Every rule by name, in the order written: ``["field author", "selector .x"]``."""
        return [f"{RULE_NOUNS[key]} {rule}" for key in IGNORE_KEYS for rule in getattr(self, key)]

    # -- comparing under the rules ---------------------------------------------------------
    def normalize(self, post: Mapping[str, Any]) -> dict[str, Any]:
        """``diffs.normalize.normalize`` with the selectors and patterns applied."""
        return normalize(post, selectors=self._selectors(), patterns=self._patterns())

    def changed(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
        """What changed between two raw REST records, under these rules.

        WordPress's automatic excerpt is cut from the whole text, ignored parts included
        (a sharing block's "Share this:"): when it follows the text on both sides, its
        change is the text's, and counts only as far as the text does.
        """
        names = changed_fields(self.normalize(old), self.normalize(new))
        if "excerpt" in names and all(derived_excerpt(normalize(p)) for p in (old, new)):
            names.remove("excerpt")
        return [name for name in names if name not in self.fields]

    def score(
        self,
        kind: str,
        fields: Sequence[str],
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any] | None,
    ) -> Score:
        """An ``edited`` change with ``fields`` (compared without rules) under these rules.

        ``old`` and ``new`` are the raw REST records; without them (a version degraded mode
        made from the feed) only the field rules apply. Other kinds are never noise.
        """
        if not self or kind != "edited" or not fields:
            return Score(tuple(fields))
        if old is None or new is None:
            kept = [name for name in fields if name not in self.fields]
        else:
            kept = self.changed(old, new)
        if kept:
            return Score(tuple(kept), tuple(f for f in fields if f not in kept))
        return Score((), tuple(fields), tuple(self._culprits(fields, old, new)))

    def _culprits(
        self, fields: Sequence[str], old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
    ) -> list[str]:
        """The rules that made a change noise: each one without which it would not be.

        When rules overlap (two would each do), those that set anything aside on their own.
        """
        rules = [(key, rule) for key in IGNORE_KEYS for rule in getattr(self, key)]
        if old is None or new is None:
            return [f"field {name}" for name in fields]

        def named(key: str, rule: str) -> str:
            return f"{RULE_NOUNS[key]} {rule}"

        needed = [named(k, r) for k, r in rules if self._without(k, r).changed(old, new)]
        if needed:
            return needed
        alone = [named(k, r) for k, r in rules if _only(k, r).changed(old, new) != list(fields)]
        return alone or self.labels()

    def _without(self, key: str, rule: str) -> IgnoreRules:
        kept = {k: tuple(x for x in getattr(self, k) if (k, x) != (key, rule)) for k in IGNORE_KEYS}
        return IgnoreRules(**kept)

    def _selectors(self) -> list[Selector]:
        if "selectors" not in self._compiled:
            from lxml.cssselect import CSSSelector

            self._compiled["selectors"] = [
                CSSSelector(s, translator="html") for s in self.selectors
            ]
        selectors: list[Selector] = self._compiled["selectors"]
        return selectors

    def _patterns(self) -> list[re.Pattern[str]]:
        if "patterns" not in self._compiled:
            self._compiled["patterns"] = [re.compile(p) for p in self.patterns]
        patterns: list[re.Pattern[str]] = self._compiled["patterns"]
        return patterns


def _only(key: str, rule: str) -> IgnoreRules:
    return IgnoreRules(**{key: (rule,)})
