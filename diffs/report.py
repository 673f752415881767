"""Two archived versions of a post → a structured comparison a person can review.

Pure functions over data: a :class:`Version` is a normalized post (``diffs.normalize``) and,
when the archive has it, the raw REST record it came from (for block kinds, term names and
the sanitized rendering). Nothing here reads a file, the network or the archive.

``compare_versions(old, new)`` gives a :class:`Comparison`: the visible text diffed word by
word per block, links and media added/removed/retargeted, every other field's before/after,
"markup only" when the visible text is equal, and a one-line ``summary`` for alerts
("3 words removed from paragraph 4; category 'statements' removed").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from diffs.blocks import kinds_for
from diffs.compare import TERMS_PREFIX, changed_fields
from diffs.normalize import content_hash, normalize
from diffs.text import BlockDiff, Segment, count_words, diff_blocks, diff_words

GONE = ("unpublished", "deleted")

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
MEDIA_NOUNS = {"img": "image", "iframe": "embed", "embed": "embed", "source": "media source"}
NORMALIZED_KEY = {"date": "date_gmt"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class VersionLike(Protocol):
    """What a comparison needs of a stored version (``archive.queries.StoredVersion`` has it)."""

    @property
    def normalized(self) -> Mapping[str, Any]: ...
    @property
    def raw(self) -> Mapping[str, Any] | None: ...
    @property
    def id(self) -> int | None: ...
    @property
    def fetched_at(self) -> str | None: ...
    @property
    def content_hash(self) -> str | None: ...


@dataclass(frozen=True)
class Version:
    """A version as plain data: the normalized form, optionally the raw REST record."""

    normalized: Mapping[str, Any]
    raw: Mapping[str, Any] | None = None
    id: int | None = None
    fetched_at: str | None = None
    content_hash: str | None = None

    @classmethod
    def from_post(
        cls, post: Mapping[str, Any], *, id: int | None = None, fetched_at: str | None = None
    ) -> Version:
        norm = normalize(post)
        return cls(norm, post, id, fetched_at, content_hash(norm))


@dataclass(frozen=True)
class VersionInfo:
    id: int | None
    fetched_at: str | None
    content_hash: str | None


@dataclass(frozen=True)
class Link:
    href: str
    text: str


@dataclass(frozen=True)
class Retarget:
    text: str
    old_href: str
    new_href: str


@dataclass(frozen=True)
class LinkChanges:
    removed: tuple[Link, ...] = ()
    added: tuple[Link, ...] = ()
    retargeted: tuple[Retarget, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.removed or self.added or self.retargeted)


@dataclass(frozen=True)
class Media:
    tag: str
    src: str

    @property
    def noun(self) -> str:
        return MEDIA_NOUNS.get(self.tag, self.tag)


@dataclass(frozen=True)
class MediaChanges:
    removed: tuple[Media, ...] = ()
    added: tuple[Media, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.removed or self.added)


@dataclass(frozen=True)
class Term:
    id: int
    name: str | None = None  # a name or slug, when the record tells; the id otherwise

    @property
    def label(self) -> str:
        return self.name if self.name else f"#{self.id}"

    @property
    def display(self) -> str:
        return f"{self.name} (#{self.id})" if self.name else f"#{self.id}"


@dataclass(frozen=True)
class FieldChange:
    """One changed field. Values are plain, unescaped display text."""

    name: str  # the change name: "title", "date", "terms:categories"…
    label: str  # "Title", "Publication date", "Categories"…
    old: str | None = None
    new: str | None = None
    removed: tuple[Term, ...] = ()  # taxonomy fields
    added: tuple[Term, ...] = ()
    words: tuple[Segment, ...] = ()  # a word diff, for title and excerpt
    note: str = ""  # "back-dated by 50 days"


@dataclass(frozen=True)
class Evidence:
    """The response that proved a post gone (or any response worth showing)."""

    status: int
    url: str
    fetched_at: str | None = None
    sha256: str | None = None
    code: str | None = None  # the REST error code: rest_post_invalid_id, rest_forbidden…


@dataclass(frozen=True)
class Comparison:
    kind: str  # new | edited | unpublished | deleted | restored
    title: str
    url: str | None
    old: VersionInfo | None
    new: VersionInfo | None
    changed: tuple[str, ...]  # diffs.compare names, in report order
    text_mode: str  # "diff": blocks are a diff; "full": the text of the one version shown
    blocks: tuple[BlockDiff, ...]
    links: LinkChanges
    media: MediaChanges
    fields: tuple[FieldChange, ...]
    markup_only: bool
    evidence: Evidence | None
    content_html: str | None  # raw, UNTRUSTED HTML of the version shown: sanitize to display
    summary: str = ""

    @property
    def changed_blocks(self) -> tuple[BlockDiff, ...]:
        return tuple(b for b in self.blocks if b.op != "equal")

    @property
    def words(self) -> int:
        """Words in the version shown (the new one, or the last one for a gone post)."""
        side = "-" if self.new is None else "+"
        return sum(
            count_words(s.text) for b in self.blocks for s in b.segments if s.op in ("=", side)
        )


@dataclass(frozen=True)
class Context:
    """Where a comparison comes from: the change row and its post (all optional)."""

    change_id: int | None = None
    site: str | None = None
    site_name: str | None = None
    type: str | None = None
    wp_id: int | None = None
    detected_at: str | None = None


@dataclass(frozen=True)
class Report:
    """What renderers take: a comparison and where it comes from."""

    context: Context
    comparison: Comparison


def compare_versions(
    old: VersionLike | None,
    new: VersionLike | None,
    *,
    kind: str | None = None,
    evidence: Evidence | None = None,
    term_names: Mapping[str, Mapping[int, str]] | None = None,
) -> Comparison:
    """Compare two versions of one post; either may be None (a new post, a gone post).

    ``kind`` defaults to ``new`` without ``old`` and ``edited`` otherwise. For a gone post
    pass the last version as ``old``, ``new=None`` and the response as ``evidence``.
    ``term_names`` (REST base → id → name) adds to what the records themselves tell.
    """
    if old is None and new is None:
        raise ValueError("compare_versions needs at least one version")
    kind = kind or ("new" if old is None else "edited")
    shown = new if new is not None else old
    assert shown is not None
    names = _merge_names(known_term_names(old, new), term_names)
    if old is not None and new is not None:
        on, nn = old.normalized, new.normalized
        changed = tuple(changed_fields(on, nn))
        blocks = diff_blocks(on.get("text") or [], nn.get("text") or [], _kinds(old), _kinds(new))
        # Restored as it was: nothing to diff, so show the text that is back.
        mode = "full" if kind == "restored" and not changed else "diff"
        links = _link_changes(on.get("links") or [], nn.get("links") or [])
        media = _media_changes(on.get("media") or [], nn.get("media") or [])
        fields = tuple(f for name in changed if (f := _field(name, old, new, names)) is not None)
    else:
        text = list(shown.normalized.get("text") or [])
        kinds = _kinds(shown)
        if new is not None:  # a new post: its text, all added
            blocks = [
                BlockDiff("insert", None, i, kinds[i], (Segment("+", t),))
                for i, t in enumerate(text)
            ]
        else:  # a gone post: the last text we had
            blocks = [
                BlockDiff("delete", i, None, kinds[i], (Segment("-", t),))
                for i, t in enumerate(text)
            ]
        changed, mode, fields = (), "full", ()
        found = _links(shown.normalized.get("links") or [])
        items = _media(shown.normalized.get("media") or [])
        links = LinkChanges(added=found) if new is not None else LinkChanges(removed=found)
        media = MediaChanges(added=items) if new is not None else MediaChanges(removed=items)
    comparison = Comparison(
        kind=kind,
        title=str(shown.normalized.get("title") or ""),
        url=_str_or_none(shown.normalized.get("link")),
        old=_info(old),
        new=_info(new),
        changed=changed,
        text_mode=mode,
        blocks=tuple(blocks),
        links=links,
        media=media,
        fields=fields,
        markup_only="markup" in changed,
        evidence=evidence,
        content_html=_content_html(shown.raw),
    )
    return _with_summary(comparison)


# -- fields ------------------------------------------------------------------------------------
def _field(
    name: str, old: VersionLike, new: VersionLike, names: Mapping[str, Mapping[int, str]]
) -> FieldChange | None:
    on, nn = old.normalized, new.normalized
    if name in ("content", "links", "media", "markup"):
        return None  # shown as text, links and media
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
        return FieldChange(name, label, _author(before, old.raw), _author(after, new.raw))
    if name == "featured_media":
        return FieldChange(name, label, _media_id(before, old.raw), _media_id(after, new.raw))
    if name in ("sticky", "protected"):
        return FieldChange(name, label, _yes_no(before), _yes_no(after))
    return FieldChange(name, label, _display(before), _display(after))


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
                    out.setdefault(base, {})[term["id"]] = _plain(name)
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
        if isinstance(href, str) and isinstance(tax, str):
            try:
                parts = urlsplit(href)
            except ValueError:
                continue
            route = parse_qs(parts.query).get("rest_route", [parts.path])[0]
            out[route.rstrip("/").rpartition("/")[2]] = tax
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


def _merge_names(
    a: Mapping[str, Mapping[int, str]], b: Mapping[str, Mapping[int, str]] | None
) -> dict[str, dict[int, str]]:
    out = {k: dict(v) for k, v in a.items()}
    for k, v in (b or {}).items():
        out.setdefault(k, {}).update(v)
    return out


def _date(value: object) -> str | None:
    if not isinstance(value, str):
        return _display(value)
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return value


def _date_note(before: object, after: object) -> str:
    try:
        delta = datetime.fromisoformat(str(after)) - datetime.fromisoformat(str(before))
    except ValueError:
        return ""
    seconds = abs(delta.total_seconds())
    amount = (
        f"{seconds / 86400:.0f} days" if seconds >= 86400 * 2 else f"{seconds / 3600:.0f} hours"
    )
    if seconds < 3600 * 2:
        amount = f"{seconds / 60:.0f} minutes"
    return f"back-dated by {amount}" if delta.total_seconds() < 0 else f"moved later by {amount}"


def _author(value: object, raw: Mapping[str, Any] | None) -> str:
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
    return _plain(value) if isinstance(value, str) and value.strip() else None


def _yes_no(value: object) -> str:
    return "yes" if value else "no"


def _display(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# -- links and media ---------------------------------------------------------------------------
def _links(pairs: Sequence[Sequence[str]]) -> tuple[Link, ...]:
    return tuple(Link(str(p[0]), str(p[1]) if len(p) > 1 else "") for p in pairs)


def _media(pairs: Sequence[Sequence[str]]) -> tuple[Media, ...]:
    return tuple(Media(str(p[0]), str(p[1])) for p in pairs)


def _link_changes(old: Sequence[Sequence[str]], new: Sequence[Sequence[str]]) -> LinkChanges:
    before, after = set(_links(old)), set(_links(new))
    removed = sorted(before - after, key=lambda x: (x.text, x.href))
    added = sorted(after - before, key=lambda x: (x.text, x.href))
    retargeted: list[Retarget] = []
    for gone in list(removed):  # the same anchor text now pointing elsewhere
        match = next((a for a in added if a.text == gone.text and gone.text.strip()), None)
        if match is not None:
            retargeted.append(Retarget(gone.text, gone.href, match.href))
            removed.remove(gone)
            added.remove(match)
    return LinkChanges(tuple(removed), tuple(added), tuple(retargeted))


def _media_changes(old: Sequence[Sequence[str]], new: Sequence[Sequence[str]]) -> MediaChanges:
    before, after = set(_media(old)), set(_media(new))
    return MediaChanges(
        tuple(sorted(before - after, key=lambda m: (m.tag, m.src))),
        tuple(sorted(after - before, key=lambda m: (m.tag, m.src))),
    )


# -- the one-line summary ----------------------------------------------------------------------
def _with_summary(c: Comparison) -> Comparison:
    return replace(c, summary=summarize(c))


def summarize(c: Comparison) -> str:
    """One line for alerts and lists: what a reader of the site would notice."""
    if c.kind == "new":
        return f"new post, {_n(c.words, 'word')}" + (
            f", {_n(len(c.links.added), 'link')}" if c.links.added else ""
        )
    if c.kind in GONE:
        ev = c.evidence
        why = f" (HTTP {ev.status}{', ' + _quote(ev.code, 40) if ev.code else ''})" if ev else ""
        return f"{c.kind}{why}; the last version had {_n(c.words, 'word')}"
    parts = _edit_phrases(c)
    if c.kind == "restored":
        return "restored as it was" if not parts else "restored with changes: " + "; ".join(parts)
    return "; ".join(parts) if parts else "no visible change"


def _edit_phrases(c: Comparison) -> list[str]:
    phrases: list[str] = []
    by_name = {f.name: f for f in c.fields}
    for name in c.changed:
        if name == "content":
            phrases.extend(_text_phrases(c.changed_blocks))
        elif name == "links":
            phrases.extend(_link_phrases(c.links))
        elif name == "media":
            phrases.extend(_media_phrases(c.media))
        elif name == "markup":
            phrases.append("markup only (the visible text is the same)")
        elif name == "link" and "slug" in c.changed:
            continue  # said with the slug
        elif name in by_name:
            phrases.append(_field_phrase(by_name[name], c))
        else:
            phrases.append(f"{name} changed")
    return phrases


def _text_phrases(blocks: Sequence[BlockDiff]) -> list[str]:
    if len(blocks) > 3:
        removed = sum(b.words_removed for b in blocks)
        added = sum(b.words_added for b in blocks)
        return [f"text edited in {len(blocks)} places ({removed} words removed, {added} added)"]
    out = []
    for b in blocks:
        where = f"{b.kind} {b.number}"
        if b.op == "insert":
            out.append(f"{where} added ({_n(b.words_added, 'word')})")
        elif b.op == "delete":
            out.append(f"{where} removed ({_n(b.words_removed, 'word')})")
        elif not b.words_added:
            out.append(f"{_n(b.words_removed, 'word')} removed from {where}")
        elif not b.words_removed:
            out.append(f"{_n(b.words_added, 'word')} added to {where}")
        elif b.words_added == b.words_removed:
            out.append(f"{_n(b.words_removed, 'word')} changed in {where}")
        else:
            out.append(f"{_n(b.words_removed, 'word')} replaced by {b.words_added} in {where}")
    return out


def _link_phrases(links: LinkChanges) -> list[str]:
    out = []
    if len(links.retargeted) == 1:
        r = links.retargeted[0]
        out.append(f"link {_quote(r.text)} now points to {_host(r.new_href)}")
    elif links.retargeted:
        out.append(f"{len(links.retargeted)} links retargeted")
    for items, verb in ((links.removed, "removed"), (links.added, "added")):
        if len(items) == 1:
            text = items[0].text.strip()
            out.append(f"link {_quote(text) if text else 'to ' + _host(items[0].href)} {verb}")
        elif items:
            out.append(f"{len(items)} links {verb}")
    return out


def _media_phrases(media: MediaChanges) -> list[str]:
    out = []
    for items, verb in ((media.removed, "removed"), (media.added, "added")):
        nouns = sorted({m.noun for m in items})
        if items:
            noun = nouns[0] if len(nouns) == 1 else "media item"
            out.append(f"{_n(len(items), noun)} {verb}")
    return out


def _field_phrase(f: FieldChange, c: Comparison) -> str:
    if f.name.startswith(TERMS_PREFIX):
        base = f.name.removeprefix(TERMS_PREFIX)
        noun = TAXONOMY_NOUNS.get(base, (f"{base} term", ""))[0]
        bits = []
        for terms, verb in ((f.removed, "removed"), (f.added, "added")):
            if terms:
                plural = noun if len(terms) == 1 else _plural(noun)
                named = ", ".join(_quote(t.name) if t.name else f"#{t.id}" for t in terms)
                bits.append(f"{plural} {named} {verb}")
        return "; ".join(bits) or f"{f.label.lower()} changed"
    if f.name == "slug":
        return "slug and URL changed" if "link" in c.changed else "slug changed"
    if f.name == "date":
        return "publication date " + (f.note or "changed")
    if f.name == "featured_media":
        if f.old == "none":
            return "featured image added"
        return "featured image removed" if f.new == "none" else "featured image changed"
    if f.name == "sticky":
        return "now sticky" if f.new == "yes" else "no longer sticky"
    if f.name == "protected":
        return "now password-protected" if f.new == "yes" else "no longer password-protected"
    if f.name in ("status", "format"):
        return f"{f.name} {_quote(f.old or '')} → {_quote(f.new or '')}"
    return f"{f.label.lower()} changed"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun if count == 1 else _plural(noun)}"


def _plural(noun: str) -> str:
    if noun.endswith("y") and not noun.endswith(("ay", "ey", "oy")):
        return noun[:-1] + "ies"
    return noun + "s"


def _quote(text: str, width: int = 40) -> str:
    """Site text inside a summary: one line, no control characters, at most ``width``."""
    text = _plain(text)
    if len(text) > width:
        text = text[: width - 1].rstrip() + "…"
    return f"'{text}'"


def _plain(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    return _plain(host) if host else _quote(url)


# -- helpers -----------------------------------------------------------------------------------
def _kinds(version: VersionLike) -> list[str]:
    return kinds_for(list(version.normalized.get("text") or []), _content_html(version.raw))


def _content_html(raw: Mapping[str, Any] | None) -> str | None:
    content = raw.get("content") if isinstance(raw, Mapping) else None
    rendered = content.get("rendered") if isinstance(content, Mapping) else None
    return rendered if isinstance(rendered, str) else None


def _info(version: VersionLike | None) -> VersionInfo | None:
    if version is None:
        return None
    return VersionInfo(version.id, version.fetched_at, version.content_hash)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def change_report(change: Any) -> Report:
    """A stored change as a report: its versions compared, with the evidence of a gone post."""
    old = None if change.kind == "new" else change.old
    new = None if change.kind in GONE else change.new
    ev = change.evidence
    evidence = Evidence(ev.status, ev.url, ev.fetched_at, ev.sha256, ev.code) if ev else None
    context = Context(
        change_id=change.id, site=change.site, site_name=change.site_name, type=change.type,
        wp_id=change.wp_id, detected_at=change.detected_at,
    )  # fmt: skip
    return Report(context, compare_versions(old, new, kind=change.kind, evidence=evidence))
