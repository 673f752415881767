"""The ``ignore`` tables of wpwatch.toml (``[defaults.ignore]``, ``[sites.ignore]``), checked.

Rules are change names (``fields``), CSS selectors and regular expressions; a bad one is a
one-line ConfigError naming it. diffs.ignore applies them; this module only reads them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from core.exceptions import ConfigError
from core.values import CHANGE_FIELDS, TERMS_PREFIX

#: The kinds of ignore rule, each a list of strings (see diffs.ignore).
IGNORE_KEYS = ("fields", "selectors", "patterns")
#: An ignore table after checking: each kind of rule, in the order written, without repeats.
IgnoreTable = dict[str, tuple[str, ...]]


def parse_ignore(value: Any, where: str) -> IgnoreTable:
    """An ``ignore`` table (``fields``, ``selectors``, ``patterns``) checked; {} when absent.

    ``fields`` are change names as `wpwatch changes --json` prints them (``terms:<base>`` for
    a taxonomy); ``selectors`` CSS selectors; ``patterns`` regular expressions. Anything else
    is a one-line ConfigError naming the rule and the fix.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where} must be a table, e.g. ignore = {{ selectors = [\".sharedaddy\"] }}"
        )
    unknown = set(value) - set(IGNORE_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"supported: {', '.join(IGNORE_KEYS)}"
        )
    table: IgnoreTable = {}
    for key in IGNORE_KEYS:
        rules = value.get(key, [])
        if not isinstance(rules, list) or not all(isinstance(r, str) and r for r in rules):
            raise ConfigError(f"{where}: {key} must be a list of non-empty strings")
        for rule in rules:
            _CHECK_RULE[key](rule, f"{where}: {key}")
        if rules:
            table[key] = tuple(dict.fromkeys(rules))
    return table


def merge_ignore(*tables: IgnoreTable) -> IgnoreTable:
    """Rules of several tables together ([defaults.ignore] first, then the site's own)."""
    out: IgnoreTable = {}
    for key in IGNORE_KEYS:
        rules = tuple(dict.fromkeys(r for t in tables for r in t.get(key, ())))
        if rules:
            out[key] = rules
    return out


def _check_field(name: str, where: str) -> None:
    base = name.removeprefix(TERMS_PREFIX)
    if name.startswith(TERMS_PREFIX) and base and "*" not in base:
        return
    if name in CHANGE_FIELDS and name != "terms":
        return
    names = [f for f in CHANGE_FIELDS if f != "terms"]
    raise ConfigError(
        f"{where}: unknown field {name!r}; use one of {', '.join(names)} or "
        f"{TERMS_PREFIX}<taxonomy> (e.g. {TERMS_PREFIX}tags), as `wpwatch changes --json` "
        "names them"
    )


def _check_selector(selector: str, where: str) -> None:
    from cssselect import GenericTranslator, SelectorError

    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        raise ConfigError(
            f"{where}: {selector!r} is not a valid CSS selector ({exc}): "
            "use e.g. \".sharedaddy\" or \"div.jp-relatedposts\""
        ) from None


def _check_pattern(pattern: str, where: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"{where}: {pattern!r} is not a valid regular expression ({exc}); in TOML write "
            "it in single quotes, e.g. 'Views: \\d+'"
        ) from None


_CHECK_RULE: dict[str, Callable[[str, str], None]] = {
    "fields": _check_field,
    "selectors": _check_selector,
    "patterns": _check_pattern,
}
