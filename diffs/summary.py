"""The one-line summary of a comparison, for alerts and lists: what a reader would notice.

"3 words removed from paragraph 4; category 'statements' removed", "9 characters replaced by
8 in paragraph 1" (text in scripts written without spaces counts in characters), "rewritten:
1,056 words removed, 5 added" when most of the text went, "new post, 15 words; dated 30 days
before it was first seen".
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from diffs.compare import TERMS_PREFIX
from diffs.fields import TAXONOMY_NOUNS, plain
from diffs.model import GONE, Comparison, FieldChange, LinkChanges, MediaChanges
from diffs.text import BlockDiff, Tally, tally

#: An edit of several blocks reads "rewritten" when it removed more than this share of the
#: old version's text (words and characters together).
REWRITE_SHARE = 0.5
#: Above this many changed blocks, the text's changes are summed up in one phrase.
MAX_PLACES = 3


def summarize(c: Comparison) -> str:
    """One line for alerts and lists: what a reader of the site would notice."""
    if c.kind == "new":
        line = f"new post, {amount(c.size)}"
        if c.links.added:
            line += f", {_n(len(c.links.added), 'link')}"
        if c.published is not None and c.published.backdated:
            line += f"; {c.published.backdated}"
        return line
    if c.kind in GONE:
        ev = c.evidence
        why = f" (HTTP {ev.status}{', ' + _quote(ev.code, 40) if ev.code else ''})" if ev else ""
        return f"{c.kind}{why}; the last version had {amount(c.size)}"
    parts = _edit_phrases(c)
    if c.kind == "restored":
        return "restored as it was" if not parts else "restored with changes: " + "; ".join(parts)
    return "; ".join(parts) if parts else "no visible change"


def amount(t: Tally) -> str:
    """``1,056 words``, ``9 characters``, ``3 words and 9 characters``."""
    if t.words and t.chars:
        return f"{_n(t.words, 'word')} and {_n(t.chars, 'character')}"
    return _n(t.chars, "character") if t.chars else _n(t.words, "word")


def _edit_phrases(c: Comparison) -> list[str]:
    phrases: list[str] = []
    by_name = {f.name: f for f in c.fields}
    for name in c.changed:
        if name == "content":
            phrases.extend(_text_phrases(c.blocks))
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


def _text_phrases(all_blocks: Sequence[BlockDiff]) -> list[str]:
    blocks = [b for b in all_blocks if b.op != "equal"]
    removed = sum((b.removed for b in blocks), Tally())
    added = sum((b.added for b in blocks), Tally())
    if len(blocks) > 1 and is_rewrite(all_blocks):
        return [f"rewritten: {_removed_added(removed, added)}"]
    if len(blocks) > MAX_PLACES:
        return [f"text edited in {len(blocks)} places ({_removed_added(removed, added)})"]
    out = []
    for b in blocks:
        where = f"{b.kind} {b.number}"
        if b.op == "insert":
            out.append(f"{where} added ({amount(b.added)})")
        elif b.op == "delete":
            out.append(f"{where} removed ({amount(b.removed)})")
        elif not b.added:
            out.append(f"{amount(b.removed)} removed from {where}")
        elif not b.removed:
            out.append(f"{amount(b.added)} added to {where}")
        elif b.added == b.removed:
            out.append(f"{amount(b.removed)} changed in {where}")
        else:
            out.append(f"{amount(b.removed)} replaced by {_other(b.removed, b.added)} in {where}")
    return out


def is_rewrite(blocks: Sequence[BlockDiff]) -> bool:
    """True when the edit removed more than :data:`REWRITE_SHARE` of the old text."""
    old = sum((tally(s.text) for b in blocks for s in b.segments if s.op != "+"), Tally())
    removed = sum((b.removed for b in blocks), Tally())
    total = old.words + old.chars
    return total > 0 and (removed.words + removed.chars) / total > REWRITE_SHARE


def _removed_added(removed: Tally, added: Tally) -> str:
    """``1,056 words removed, 5 added``: the unit said once when both sides share it."""
    return f"{amount(removed)} removed, {_other(removed, added)} added"


def _other(first: Tally, second: Tally) -> str:
    """The second amount of a pair, as a bare number when its unit is the first's."""
    one_unit = not (first.words and first.chars) and not (second.words and second.chars)
    if one_unit and bool(first.chars) == bool(second.chars):
        return f"{second.chars or second.words:,}"
    return amount(second)


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
    return f"{count:,} {noun if count == 1 else _plural(noun)}"


def _plural(noun: str) -> str:
    if noun.endswith("y") and not noun.endswith(("ay", "ey", "oy")):
        return noun[:-1] + "ies"
    return noun + "s"


def _quote(text: str, width: int = 40) -> str:
    """Site text inside a summary: one line, no control characters, at most ``width``."""
    text = plain(text)
    if len(text) > width:
        text = text[: width - 1].rstrip() + "…"
    return f"'{text}'"


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    return plain(host) if host else _quote(url)
