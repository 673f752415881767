"""Two archived versions of a post → a structured comparison a person can review.

Pure functions over data: a :class:`Version` is a normalized post (``diffs.normalize``) and,
when the archive has it, the raw REST record it came from (for block kinds, term names and
the sanitized rendering). Nothing here reads a file, the network or the archive.

``compare_versions(old, new)`` gives a :class:`Comparison`: the visible text diffed word by
word per block, links and media added/removed/retargeted, every other field's before/after
(``diffs.fields``), "markup only" when the visible text is equal, for a new post its date,
author and whether it was back-dated, and a one-line ``summary`` for alerts
(``diffs.summary``). The data types live in ``diffs.model`` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from diffs.blocks import kinds_for
from diffs.compare import changed_fields
from diffs.fields import field_change, known_term_names, merge_names, publication
from diffs.model import (
    GONE,
    Comparison,
    Context,
    Evidence,
    FieldChange,
    Link,
    LinkChanges,
    Media,
    MediaChanges,
    Presence,
    Publication,
    Report,
    Retarget,
    Term,
    Version,
    VersionInfo,
    VersionLike,
)
from diffs.summary import summarize
from diffs.text import BlockDiff, Segment, diff_blocks

__all__ = [
    "GONE", "Comparison", "Context", "Evidence", "FieldChange", "Link", "LinkChanges", "Media",
    "MediaChanges", "Presence", "Publication", "Report", "Retarget", "Term", "Version",
    "VersionInfo", "VersionLike", "change_report", "compare_versions", "known_term_names",
    "presence", "summarize",
]  # fmt: skip


def compare_versions(
    old: VersionLike | None,
    new: VersionLike | None,
    *,
    kind: str | None = None,
    evidence: Evidence | None = None,
    term_names: Mapping[str, Mapping[int, str]] | None = None,
    first_seen: str | None = None,
) -> Comparison:
    """Compare two versions of one post; either may be None (a new post, a gone post).

    ``kind`` defaults to ``new`` without ``old`` and ``edited`` otherwise. For a gone post
    pass the last version as ``old``, ``new=None`` and the response as ``evidence``.
    ``term_names`` (REST base → id → name) adds to what the records themselves tell.
    ``first_seen`` (ISO UTC) is when the post was first seen, to tell whether a new post
    was back-dated; it defaults to when its version was fetched.
    """
    if old is None and new is None:
        raise ValueError("compare_versions needs at least one version")
    kind = kind or ("new" if old is None else "edited")
    shown = new if new is not None else old
    assert shown is not None
    names = merge_names(known_term_names(old, new), term_names)
    published = None
    if old is not None and new is not None:
        on, nn = old.normalized, new.normalized
        changed = tuple(changed_fields(on, nn))
        blocks = diff_blocks(on.get("text") or [], nn.get("text") or [], _kinds(old), _kinds(new))
        # Restored as it was: nothing to diff, so show the text that is back.
        mode = "full" if kind == "restored" and not changed else "diff"
        links = _link_changes(on.get("links") or [], nn.get("links") or [])
        media = _media_changes(on.get("media") or [], nn.get("media") or [])
        fields = tuple(f for name in changed if (f := field_change(name, old, new, names)))
    else:
        text = list(shown.normalized.get("text") or [])
        kinds = _kinds(shown)
        if new is not None:  # a new post: its text, all added
            blocks = [
                BlockDiff("insert", None, i, kinds[i], (Segment("+", t),))
                for i, t in enumerate(text)
            ]
            published = publication(new, first_seen or new.fetched_at)
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
        published=published,
    )
    return replace(comparison, summary=summarize(comparison))


def change_report(change: Any) -> Report:
    """A stored change (``archive.queries.StoredChange``) as a report: its versions compared,
    with the evidence of a gone post and, for a new one, when the post was first seen."""
    old = None if change.kind == "new" else change.old
    new = None if change.kind in GONE else change.new
    ev = change.evidence
    evidence = Evidence(ev.status, ev.url, ev.fetched_at, ev.sha256, ev.code) if ev else None
    context = Context(
        change_id=change.id, site=change.site, site_name=change.site_name, type=change.type,
        wp_id=change.wp_id, detected_at=change.detected_at,
        revisions=tuple(getattr(change, "revisions", ())),
        presence=presence(change.kind, getattr(change, "presence", None)),
    )  # fmt: skip
    comparison = compare_versions(
        old, new, kind=change.kind, evidence=evidence,
        first_seen=getattr(change, "first_seen", None),
    )  # fmt: skip
    return Report(context, comparison)


# -- links and media ---------------------------------------------------------------------------
def presence(kind: str, seen: Mapping[str, Any] | None) -> Presence | None:
    """archive.coverage.presence's record as a :class:`Presence` (None stays None)."""
    if not seen:
        return None
    if kind == "new":
        return Presence(kind, seen["absent_at"], seen["absent_round"], seen["first_seen_at"],
                        seen["first_seen_round"])
    return Presence(kind, seen["last_present_at"], seen["last_present_round"], seen["gone_at"],
                    seen["gone_round"])


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
    number = getattr(version, "number", None)
    return VersionInfo(version.id, version.fetched_at, version.content_hash, number)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
