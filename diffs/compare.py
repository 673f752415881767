"""Name what changed between two normalized versions of a post (see ``diffs.normalize``).

Vocabulary, in report order: ``title``, ``content`` (visible text), ``links``, ``media``,
``excerpt``, ``slug``, ``link``, ``date`` (publication date: backdating), ``author``,
``terms:<field>`` (one per taxonomy, e.g. ``terms:categories``), ``featured_media``,
``sticky``, ``protected``, ``status``, ``parent``, ``format``, and ``markup`` (markup only:
reported only when the visible text, links and media are the same). Keys outside the
vocabulary, if any, are named as they are, after these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepdiff import DeepDiff

from core.values import CHANGE_FIELDS, TERMS_PREFIX
from diffs.text import units

# The normalized keys whose change name differs from the key.
_KEY_OF_NAME = {"content": "text", "date": "date_gmt"}
# (normalized key, change name) in report order; "terms" expands to one name per taxonomy.
FIELDS: tuple[tuple[str, str], ...] = tuple((_KEY_OF_NAME.get(n, n), n) for n in CHANGE_FIELDS)
KEY_OF = {name: key for key, name in FIELDS}
NAME_OF = {key: name for key, name in FIELDS}
# What password protection empties: when it flips, only "protected" is the news.
EMPTIED_BY_PROTECTION = frozenset({"content", "excerpt", "links", "media", "markup"})


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What changed from ``old`` to ``new`` (both normalized), in vocabulary order."""
    if old == new:  # ~µs; DeepDiff only when something really changed
        return []
    names = {_name(path) for path in _changed_paths(old, new)}
    if "terms" in names:  # the whole terms dict came or went
        names.discard("terms")
        names |= {TERMS_PREFIX + t for t in _terms(old).keys() | _terms(new).keys()}
    if names & {"content", "links", "media"}:  # markup only, or not at all
        names.discard("markup")
    if "protected" in names:
        names -= EMPTIED_BY_PROTECTION
    if {"content", "excerpt"} <= names and derived_excerpt(old) and derived_excerpt(new):
        names.discard("excerpt")  # WordPress's automatic excerpt followed the text
    return sorted(names, key=_report_order)


def derived_excerpt(norm: Mapping[str, Any]) -> bool:
    """True when the excerpt is WordPress's automatic one: the text's first words.

    Anonymous REST clients cannot see whether an excerpt was written by hand
    (``excerpt.raw`` needs the edit context), so we recognise the automatic one by
    its shape: the opening words of the visible text, then an ellipsis or nothing.
    """
    excerpt = str(norm.get("excerpt") or "")
    for tail in ("[…]", "[&hellip;]", "[...]", "…", "..."):
        excerpt = excerpt.removesuffix(tail).rstrip()
    text = " ".join(str(b) for b in norm.get("text") or [])
    words = units(excerpt)  # per character in scripts written without spaces
    return bool(words) and units(text)[: len(words)] == words


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Same as ``changed_fields()``: the list of change names for an ``edited`` change."""
    return changed_fields(old, new)


def field_details(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per changed field, what it was and became, for reports.

    ``terms:<field>``, ``links`` and ``media`` give ``{"added": [...], "removed": [...]}``;
    every other field gives ``{"old": ..., "new": ...}``.
    """
    details: dict[str, dict[str, Any]] = {}
    for name in changed_fields(old, new):
        if name.startswith(TERMS_PREFIX):
            field = name.removeprefix(TERMS_PREFIX)
            details[name] = _added_removed(_terms(old).get(field, []), _terms(new).get(field, []))
        elif name in ("links", "media"):
            details[name] = _added_removed(old.get(name, []), new.get(name, []))
        else:
            key = KEY_OF.get(name, name)
            details[name] = {"old": old.get(key), "new": new.get(key)}
    return details


def _changed_paths(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[tuple[str, ...]]:
    """Changed paths as (top-level key,) or ("terms", field)."""
    paths: set[tuple[str, ...]] = set()
    if old.get("text") != new.get("text"):  # paragraph order matters: compared apart
        paths.add(("text",))
    diff = DeepDiff(
        dict(old),
        dict(new),
        ignore_order=True,  # links, media and term ids are sets
        report_repetition=True,
        exclude_regex_paths=[r"^root\['text'\]"],
        view="tree",
    )
    for levels in diff.values():
        for level in levels:
            path = [str(p) for p in level.path(output_format="list")]
            paths.add(tuple(path[:2]) if path[0] == "terms" else (path[0],))
    return paths


def _name(path: tuple[str, ...]) -> str:
    if len(path) == 2:  # ("terms", field)
        return TERMS_PREFIX + path[1]
    return NAME_OF.get(path[0], path[0])


def _report_order(name: str) -> tuple[int, str]:
    key = "terms" if name.startswith(TERMS_PREFIX) else KEY_OF.get(name)
    rank = next((i for i, (k, _) in enumerate(FIELDS) if k == key), len(FIELDS))
    return rank, name


def _terms(normalized: Mapping[str, Any]) -> Mapping[str, list[int]]:
    terms = normalized.get("terms")
    return terms if isinstance(terms, Mapping) else {}


def _added_removed(old: list[Any], new: list[Any]) -> dict[str, list[Any]]:
    before = {_hashable(v) for v in old}
    after = {_hashable(v) for v in new}
    return {
        "added": [_plain(v) for v in sorted(after - before)],
        "removed": [_plain(v) for v in sorted(before - after)],
    }


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
