"""Field changes of an edited post (dates, terms, author, featured image…) and what a new
post says of itself (its date, its author, and whether it was back-dated).

Values are plain display text, unescaped: renderers escape them for their format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from core.values import parse_iso
from diffs.compare import TERMS_PREFIX
from diffs.model import FieldChange, Publication, Term, VersionLike
from diffs.normalize import rest_base
from diffs.text import diff_words

FIELD_LABELS = {
    "title": "Title",
    "excerpt": "Excerpt",
    "slug": "Slug",
    "link": "URL",
    "date": "Publication date",
    "author": "Author",
    "featured_media": "Featured image",
    "sticky": "Sticky",
    "protected": "Password protected",
    "status": "Status",
    "parent": "Parent",
    "format": "Format",
    "markup": "Markup",
}
# REST base → (singular noun, label) for taxonomy fields.
TAXONOMY_NOUNS = {"categories": ("category", "Categories"), "tags": ("tag", "Tags")}
# REST base → taxonomy name, when the record's _links do not say.
TAXONOMY_OF = {"categories": "category", "tags": "post_tag"}
NORMALIZED_KEY = {"date": "date_gmt"}
#: A new post is called back-dated when its date lies more than this before wpwatch first
#: saw it. Rounds run every few minutes (15 by default) and a post goes live when it is
#: published, so a gap of over a day is no polling delay: the date was set in the past.
#: (A site watched less often than daily, or only through its feed, can exceed it honestly.)
BACKDATED_AFTER = timedelta(days=1)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def field_change(
    name: str, old: VersionLike, new: VersionLike, names: Mapping[str, Mapping[int, str]]
) -> FieldChange | None:
    """One changed field as display text; None for what is shown as text, links and media."""
    on, nn = old.normalized, new.normalized
    if name in ("content", "links", "media", "markup"):
        return None
    if name.startswith(TERMS_PREFIX):
        return _terms_change(name, old, new, names)
    key = NORMALIZED_KEY.get(name, name)
    before, after = on.get(key), nn.get(key)
    label = FIELD_LABELS.get(name, name.replace("_", " ").capitalize())
    if name in ("title", "excerpt"):
        words = tuple(diff_words(str(before or ""), str(after or "")))
        return FieldChange(name, label, str(before or ""), str(after or ""), words=words)
    if name == "date":
        return FieldChange(name, label, _date(before), _date(after), note=_date_note(before, after))
    if name == "author":
        return FieldChange(name, label, author(before, old.raw), author(after, new.raw))
    if name == "featured_media":
        return FieldChange(name, label, _media_id(before, old.raw), _media_id(after, new.raw))
    if name in ("sticky", "protected"):
        return FieldChange(name, label, _yes_no(before), _yes_no(after))
    return FieldChange(name, label, _display(before), _display(after))


def publication(version: VersionLike, first_seen: str | None) -> Publication:
    """A new post's date and author, and "dated 30 days before it was first seen" when its
    date lies more than :data:`BACKDATED_AFTER` before ``first_seen`` (ISO UTC)."""
    norm = version.normalized
    date_gmt, seen = _instant(norm.get("date_gmt")), _instant(first_seen)
    by = ""
    if date_gmt is not None and seen is not None and seen - date_gmt > BACKDATED_AFTER:
        by = _span((seen - date_gmt).total_seconds())
    who = norm.get("author")
    return Publication(
        date=_date(norm.get("date_gmt")) if norm.get("date_gmt") else None,
        author=author(who, version.raw) if who not in (None, 0, "") else None,
        first_seen=first_seen,
        backdated_by=by,
    )


# -- taxonomy terms ----------------------------------------------------------------------------
def _terms_change(
    name: str, old: VersionLike, new: VersionLike, names: Mapping[str, Mapping[int, str]]
) -> FieldChange:
    base = name.removeprefix(TERMS_PREFIX)
    before = set(_term_ids(old.normalized, base))
    after = set(_term_ids(new.normalized, base))
    removed, added = sorted(before - after), sorted(after - before)
    known = dict(names.get(base, {}))
    # Slugs from the post classes ("category-statements") when one term moved alone.
    gone_slugs = _class_slugs(old.raw, base) - _class_slugs(new.raw, base)
    new_slugs = _class_slugs(new.raw, base) - _class_slugs(old.raw, base)
    if len(removed) == 1 and len(gone_slugs) == 1:
        known.setdefault(removed[0], next(iter(gone_slugs)))
    if len(added) == 1 and len(new_slugs) == 1:
        known.setdefault(added[0], next(iter(new_slugs)))
    for version, ids in ((old, before), (new, after)):
        slugs = _class_slugs(version.raw, base)
        if len(ids) == 1 and len(slugs) == 1:
            known.setdefault(next(iter(ids)), next(iter(slugs)))
    label = TAXONOMY_NOUNS.get(base, (base, base.replace("_", " ").capitalize()))[1]
    return FieldChange(
        name,
        label,
        old=", ".join(Term(i, known.get(i)).label for i in sorted(before)) or "none",
        new=", ".join(Term(i, known.get(i)).label for i in sorted(after)) or "none",
        removed=tuple(Term(i, known.get(i)) for i in removed),
        added=tuple(Term(i, known.get(i)) for i in added),
    )


def _term_ids(normalized: Mapping[str, Any], base: str) -> list[int]:
    terms = normalized.get("terms")
    return list(terms.get(base, [])) if isinstance(terms, Mapping) else []


def known_term_names(*versions: VersionLike | None) -> dict[str, dict[int, str]]:
    """REST base → term id → name, from records fetched with ``_embed`` (``wp:term``)."""
    out: dict[str, dict[int, str]] = {}
    for v in versions:
        raw = v.raw if v is not None else None
        embedded = raw.get("_embedded") if isinstance(raw, Mapping) else None
        groups = embedded.get("wp:term") if isinstance(embedded, Mapping) else None
        if not isinstance(groups, list) or raw is None:
            continue
        bases = {tax: base for base, tax in _taxonomies(raw).items()}
        for group in groups:
            for term in group if isinstance(group, list) else []:
                if not isinstance(term, Mapping) or not isinstance(term.get("id"), int):
                    continue
                tax = str(term.get("taxonomy") or "")
                base = bases.get(tax, {"category": "categories", "post_tag": "tags"}.get(tax, tax))
                name = term.get("name")
                if isinstance(name, str) and name.strip():
                    out.setdefault(base, {})[term["id"]] = plain(name)
    return out


def _taxonomies(raw: Mapping[str, Any]) -> dict[str, str]:
    """REST base → taxonomy name, from ``_links["wp:term"]`` (``{"taxonomy", "href"}``)."""
    out = dict(TAXONOMY_OF)
    links = raw.get("_links")
    terms = links.get("wp:term") if isinstance(links, Mapping) else None
    for link in terms if isinstance(terms, list) else []:
        if not isinstance(link, Mapping):
            continue
        href, tax = link.get("href"), link.get("taxonomy")
        base = rest_base(href) if isinstance(href, str) else ""
        if base and isinstance(tax, str):
            out[base] = tax
    return out


def _class_slugs(raw: Mapping[str, Any] | None, base: str) -> set[str]:
    """Term slugs a post's ``class_list`` names for one taxonomy (WordPress's post_class)."""
    if not isinstance(raw, Mapping):
        return set()
    classes = raw.get("class_list")
    if isinstance(classes, Mapping):
        classes = list(classes.values())
    if not isinstance(classes, list):
        return set()
    tax = _taxonomies(raw).get(base, base)
    prefix = ("tag" if tax == "post_tag" else tax) + "-"
    return {
        unquote(c[len(prefix) :]) for c in classes if isinstance(c, str) and c.startswith(prefix)
    }


def merge_names(
    a: Mapping[str, Mapping[int, str]], b: Mapping[str, Mapping[int, str]] | None
) -> dict[str, dict[int, str]]:
    out = {k: dict(v) for k, v in a.items()}
    for k, v in (b or {}).items():
        out.setdefault(k, {}).update(v)
    return out


# -- dates -------------------------------------------------------------------------------------
def _instant(value: object) -> datetime | None:
    """An ISO date as an aware UTC datetime (``date_gmt`` has no zone: UTC); None if it is
    not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value).astimezone(UTC)
    except ValueError:
        return None


def _date(value: object) -> str | None:
    if not isinstance(value, str):
        return _display(value)
    moment = _instant(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else value


def _date_note(before: object, after: object) -> str:
    old, new = _instant(before), _instant(after)
    if old is None or new is None:
        return ""
    delta = (new - old).total_seconds()
    amount = _span(abs(delta))
    return f"back-dated by {amount}" if delta < 0 else f"moved later by {amount}"


def _span(seconds: float) -> str:
    """``50 days``, ``26 hours``, ``40 minutes``: days from two days up, hours from two."""
    if seconds >= 86400 * 2:
        return f"{seconds / 86400:,.0f} days"
    if seconds >= 3600 * 2:
        return f"{seconds / 3600:,.0f} hours"
    return f"{seconds / 60:,.0f} minutes"


# -- other fields ------------------------------------------------------------------------------
def author(value: object, raw: Mapping[str, Any] | None) -> str:
    """``Jane Doe (user 3)`` when the record embeds the author, ``user 3`` otherwise."""
    name = _embedded_field(raw, "author", "name")
    return f"{name} (user {value})" if name else f"user {value}"


def _media_id(value: object, raw: Mapping[str, Any] | None) -> str:
    if not value:
        return "none"
    url = _embedded_field(raw, "wp:featuredmedia", "source_url")
    return f"media {value} ({url})" if url else f"media {value}"


def _embedded_field(raw: Mapping[str, Any] | None, rel: str, key: str) -> str | None:
    try:
        value = raw["_embedded"][rel][0][key]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None
    return plain(value) if isinstance(value, str) and value.strip() else None


def _yes_no(value: object) -> str:
    return "yes" if value else "no"


def _display(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def plain(text: str) -> str:
    """Site text as one line without control characters (renderers escape it further)."""
    return " ".join(_CONTROL.sub(" ", text).split())
