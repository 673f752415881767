"""What an alert says: subject, plain text and HTML (Slack: alerts/slack_message.py).

Pure functions over data. Everything an :class:`AlertItem` carries from the watched site
(title, URL, summary, phrases, diff) is untrusted, so each format escapes it its own way:

* subject and every one-line value: control characters, ANSI escapes and bidi overrides
  removed, CR/LF folded into spaces (no header injection, no terminal tricks);
* HTML: Jinja2 with autoescape on; links only for http(s) URLs; no scripts, no images;
* Slack: ``&``, ``<`` and ``>`` escaped so ``<!channel>`` or ``<https://evil|click>`` show as
  text; formatting characters (``*`` ``_`` ``~`` at a word edge, any backtick) swapped for
  look-alikes so a title cannot style the message; ``@channel`` broken with a word joiner.

An alert says in one glance what happened (site, kind, title, what changed, the key words
removed and added) and links to the full diff; the diff excerpt follows within a limit.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, StrictUndefined

from core.values import DIGEST_MODES
from diffs.render import one_line, when

MAX_PHRASES = 5  # removed/added phrases shown per change
PHRASE_CHARS = 200  # each at most
SUMMARY_CHARS = 1000
TITLE_CHARS = 120  # in a subject
SLACK_SECTION = 3000  # Slack's limits: section text, header text, blocks per message
SLACK_HEADER = 150
SLACK_BLOCKS = 50
SLACK_DIFF_SECTIONS = 3  # diff excerpt: at most this many sections of a code block

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# Like diffs.render's, but keeps tab and newline: for multi-line site text (the diff).
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


@dataclass(frozen=True)
class AlertItem:
    """One change, ready to tell. Fields marked UNTRUSTED come from the watched site."""

    change_id: int
    site: str  # site URL
    site_name: str  # config name or URL
    kind: str  # new|edited|unpublished|deleted|restored
    type: str  # REST base, e.g. "posts"
    wp_id: int
    title: str  # UNTRUSTED
    url: str | None  # the post's public link, UNTRUSTED
    detected_at: str  # ISO 8601 UTC
    fields: tuple[str, ...]  # for edited, e.g. ("content", "terms:categories")
    summary: str  # one line, UNTRUSTED
    removed: tuple[str, ...]  # key removed phrases, UNTRUSTED, may be long
    added: tuple[str, ...]  # key added phrases, UNTRUSTED
    diff_text: str  # the full plain-text diff report, UNTRUSTED
    report_url: str | None  # link to the full diff, if known
    keywords: tuple[str, ...] = ()  # keywords that triggered it
    versions: str = ""  # "v1 (#11) → v2 (#14)": per post, archive-wide id beside
    dated: str = ""  # a new post: "2024-02-13 09:00 UTC, by Jane Doe (user 3)", UNTRUSTED
    backdated_by: str = ""  # a new post dated well before it was first seen: "30 days"
    seen: str = ""  # "last seen present at T1 (round R1), first seen gone at T2 (round R2)"


@dataclass(frozen=True)
class Notice:
    """A change of a site's watch health (site-failing, site-degraded, site-recovered)."""

    kind: str
    site: str  # site URL
    site_name: str
    since: str  # ISO UTC: when the episode it opens (or ends) started
    detected_at: str
    round_id: int
    rounds: int = 0  # failed rounds in a row, for site-failing
    reason: str | None = None  # the round's error; for site-recovered, the state it ends


@dataclass(frozen=True)
class Message:
    channel: str
    digest: str  # "immediate" | "round" | "daily"
    items: tuple[AlertItem, ...]
    test: bool = False  # `wpwatch alerts test CHANNEL`
    notices: tuple[Notice, ...] = ()  # watch health
    burst: str = ""  # many changes of one kind grouped: "40 posts unpublished on 2 sites …"
    health_line: str = ""  # a daily digest opens with it: "4 sites watched: 3 healthy, …"

    def __post_init__(self) -> None:
        if self.digest not in DIGEST_MODES:
            raise ValueError(
                f"digest must be one of {', '.join(DIGEST_MODES)}, not {self.digest!r}"
            )


# -- site text -----------------------------------------------------------------------------------
def clean(text: object) -> str:
    """Site text as one line: no control characters, ANSI escapes, bidi overrides, CR/LF."""
    return one_line(text)


def clean_lines(text: object) -> str:
    """Multi-line site text (a diff): the same, keeping newlines and indentation."""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", _ANSI.sub("", text))


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def fit(text: str, limit: int, escape: Callable[[str], str] = str) -> int:
    """Length of the longest prefix of ``text`` whose escaped form is at most ``limit`` long,
    cut at a newline or space when one is near the end."""
    if len(escape(text)) <= limit:
        return len(text)
    lo, hi = 0, min(len(text), limit)
    while lo < hi:  # escaping never shortens, so no prefix longer than `limit` can fit
        mid = (lo + hi + 1) // 2
        if len(escape(text[:mid])) <= limit:
            lo = mid
        else:
            hi = mid - 1
    cut = max(text.rfind("\n", 0, lo + 1), text.rfind(" ", 0, lo + 1))
    return cut if cut > lo * 3 // 4 else lo


def fit_text(text: str, limit: int, escape: Callable[[str], str] = str) -> str:
    """``escape(text)``, shortened with "…" to at most ``limit`` characters."""
    if len(escape(text)) <= limit:
        return escape(text)
    return escape(text[: fit(text, limit - 1, escape)].rstrip()) + "…"


def web_url(url: object) -> str | None:
    """An http(s) URL fit to be a link, else None (javascript:, data:, garbage)."""
    if not isinstance(url, str):
        return None
    url = clean(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in url:
        return None
    return url


def _words(count: int, noun: str = "word") -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def headline(item: AlertItem) -> str:
    """``edited: Example site — Title of the post`` (one line)."""
    return f"{item.kind}: {clean(item.site_name)} — {clean(item.title) or '(no title)'}"


def count_line(msg: Message) -> str:
    """``5 changes on 2 sites, 1 health notice (daily digest)``; a burst's own headline."""
    if msg.burst:
        return clean(msg.burst)
    sites = len({i.site for i in msg.items})
    parts = [f"{_words(len(msg.items), 'change')} on {_words(sites, 'site')}"] if msg.items else []
    if msg.notices:
        parts.append(_words(len(msg.notices), "health notice"))
    line = ", ".join(parts) or "nothing new"
    return line + (f" ({msg.digest} digest)" if msg.digest != "immediate" else "")


def burst_line(items: Iterable[AlertItem]) -> str:
    """``40 posts unpublished on 2 sites within 3 minutes`` (one kind of change)."""
    items = list(items)
    kinds = {i.kind for i in items}
    kind = kinds.pop() if len(kinds) == 1 else "changed"
    types = {i.type for i in items}
    noun = clean(types.pop()) if len(types) == 1 else "items"
    sites = len({i.site for i in items})
    stamps = sorted(i.detected_at for i in items)
    minutes = 1
    with contextlib.suppress(ValueError, IndexError):
        span = datetime.fromisoformat(stamps[-1].replace("Z", "+00:00")) - datetime.fromisoformat(
            stamps[0].replace("Z", "+00:00"))
        minutes = max(1, -(-int(span.total_seconds()) // 60))
    what = f"{len(items):,} new {noun}" if kind == "new" else f"{len(items):,} {noun} {kind}"
    return (f"{what} on {_words(sites, 'site')} within {_words(minutes, 'minute')}")


def notice_headline(n: Notice) -> str:
    """``site-failing: ministry — not watched since 2026-03-01 10:00:00Z (3 failed rounds)``."""
    name = clean(n.site_name)
    if n.kind == "site-failing":
        what = (f"could not be watched since {when(n.since)} "
                f"({_words(n.rounds, 'failed round')} in a row)")
    elif n.kind == "site-degraded":
        what = "REST API closed: watched through its feed and sitemap only"
    else:
        was = clean(n.reason or "failing")
        what = f"watched again (it was {was} since {when(n.since)})"
    return f"{n.kind}: {name} — {what}"


def notice_facts(n: Notice) -> list[Fact]:
    name, site = clean(n.site_name), clean(n.site)
    out = [Fact("site", f"{name} — {site}" if name != site else site, web_url(n.site)),
           Fact("since", when(n.since)), Fact("detected", f"{when(n.detected_at)} "
                                                        f"(round {n.round_id})")]
    if n.reason and n.kind != "site-recovered":
        out.append(Fact("error", shorten(clean(n.reason), SUMMARY_CHARS)))
    out.append(Fact("coverage", f"wpwatch coverage {site}"))
    return out


def full_diff(item: AlertItem) -> str | None:
    """Where to read the whole change: the report page, else the command that shows it."""
    if web_url(item.report_url):
        return web_url(item.report_url)
    return f"wpwatch show {item.change_id}" if item.change_id > 0 else None


def _phrases(phrases: Iterable[str], width: int = PHRASE_CHARS) -> str:
    shown = [p for p in (clean(p) for p in phrases) if p]
    out = ", ".join(f"“{shorten(p, width)}”" for p in shown[:MAX_PHRASES])
    return out + (f" and {len(shown) - MAX_PHRASES} more" if len(shown) > MAX_PHRASES else "")


@dataclass(frozen=True)
class Fact:
    label: str
    value: str  # one line, cleaned, not escaped
    href: str | None = None  # an http(s) URL to link the value to


def facts(item: AlertItem, *, compact: bool = False) -> list[Fact]:
    """The one-glance lines of a change, cleaned (not escaped) for any format."""
    out: list[Fact] = []
    name, site = clean(item.site_name), clean(item.site)
    post = f"{clean(item.type)} #{item.wp_id}"
    if not compact:
        out.append(Fact("site", f"{name} — {site}" if name != site else site, web_url(item.site)))
    out.append(Fact("post", f"{clean(item.url)} ({post})" if item.url else post, web_url(item.url)))
    if not compact:
        out.append(Fact("detected", when(item.detected_at)))
        if item.dated:
            out.append(Fact("dated", _dated(item)))
        if item.versions:
            out.append(Fact("version", clean(item.versions)))
        if item.seen:
            out.append(Fact("seen", clean(item.seen)))
        if item.fields:
            out.append(Fact("changed", ", ".join(clean(f) for f in item.fields)))
    out.append(Fact("what", shorten(clean(item.summary), SUMMARY_CHARS)))
    for label, phrases in (("removed", item.removed), ("added", item.added)):
        if any(clean(p) for p in phrases):
            out.append(Fact(label, _phrases(phrases, 80 if compact else PHRASE_CHARS)))
    if item.keywords:
        out.append(Fact("keywords", ", ".join(clean(k) for k in item.keywords)))
    link = full_diff(item)
    if link:
        out.append(Fact("full diff", link, web_url(link)))
    return out


def _dated(item: AlertItem) -> str:
    """``2018-11-20 18:27 UTC, by Jane Doe (user 4) — back-dated: 30 days before it was
    first seen``."""
    note = f" — back-dated: {clean(item.backdated_by)} before it was first seen"
    return clean(item.dated) + (note if item.backdated_by else "")


def excerpt(text: str, limit: int) -> tuple[str, int]:
    """The first ``limit`` characters of a diff (cut at a space) and how many words are left."""
    k = fit(text[: limit + 1], limit)
    return text[:k].rstrip(), len(text[k:].split())


def more_note(words_left: int, item: AlertItem) -> str:
    """``… 21,027 more words; full diff: <link>``."""
    link = full_diff(item)
    return f"… {_words(words_left, 'more word')}" + (f"; full diff: {link}" if link else "")


def test_intro(msg: Message) -> str:
    return (
        f"This is a test message from wpwatch (channel {clean(msg.channel)}). Below is a sample "
        "of how a change is shown; nothing changed on any site."
    )


# -- subject and plain text ----------------------------------------------------------------------
def subject(msg: Message) -> str:
    """One header-safe line: ``[wpwatch] edited: <site_name> — <title>``."""
    if msg.test:
        return "[wpwatch] test message"
    if len(msg.notices) == 1 and not msg.items and msg.digest == "immediate":
        return f"[wpwatch] {shorten(notice_headline(msg.notices[0]), TITLE_CHARS + 80)}"
    if len(msg.items) == 1 and not msg.notices and msg.digest == "immediate":
        item = msg.items[0]
        title = shorten(clean(item.title) or "(no title)", TITLE_CHARS)
        return f"[wpwatch] {item.kind}: {shorten(clean(item.site_name), 60)} — {title}"
    return f"[wpwatch] {count_line(msg)}"


def text_body(msg: Message, *, limit: int | None = None) -> str:
    """Plain text: each change in one glance, then (for a single change) the diff excerpt,
    all within ``limit`` characters when given."""
    head = [test_intro(msg), ""] if msg.test else []
    if msg.health_line:
        head += [clean(msg.health_line), ""]
    for note in msg.notices:
        head += [notice_headline(note), *_fact_lines(notice_facts(note)), ""]
    if msg.notices and not msg.items:
        body = "\n".join(head)
    elif len(msg.items) == 1 and not msg.notices:
        item = msg.items[0]
        head += [headline(item), *_fact_lines(facts(item)), "", ""]
        body = "\n".join(head)
        diff = clean_lines(item.diff_text).strip("\n")
        if diff:
            rule = "--- diff " + "-" * 60 + "\n"
            reserve = len(rule) + len(more_note(len(diff.split()), item)) + 2
            room = limit - len(body) - reserve if limit else len(diff)
            shown, left = excerpt(diff, max(room, 0))
            body += rule + shown + "\n"
            if left:
                body += more_note(left, item) + "\n"
    else:
        body = "\n".join([*head, count_line(msg), ""]) + "\n"
        for n, item in enumerate(msg.items):
            block = "\n".join([headline(item), *_fact_lines(facts(item, compact=True)), "", ""])
            if limit and len(body) + len(block) > limit - 80:
                body += f"… and {_words(len(msg.items) - n, 'more change')}\n"
                break
            body += block
    if limit and len(body) > limit:
        body = body[: limit - 1] + "…"
    return body


def _fact_lines(fs: list[Fact]) -> list[str]:
    return [f"  {f.label + ':':<11}{f.value}" for f in fs]


# -- HTML ----------------------------------------------------------------------------------------
_HTML = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family:system-ui,sans-serif;line-height:1.45;color:#222;max-width:50em">
{% if intro %}<p><strong>{{ intro }}</strong></p>
{% endif %}
{% if health %}<p><strong>{{ health }}</strong></p>
{% endif %}
{% if heading %}<h1 style="font-size:1.25em">{{ heading }}</h1>
{% endif %}
{% for v in views %}
<h2 style="font-size:1.1em;margin:1.2em 0 .3em">{{ v.headline }}</h2>
<table style="border-collapse:collapse">
{% for f in v.facts %}<tr><th style="text-align:left;vertical-align:top;padding:0 1em 0 0;\
font-weight:normal;color:#666">{{ f.label }}</th><td>{% if f.href %}<a href="{{ f.href }}">\
{{ f.value }}</a>{% else %}{{ f.value }}{% endif %}</td></tr>
{% endfor %}
</table>
{% if v.diff %}<pre style="white-space:pre-wrap;background:#f6f6f6;padding:.6em">{{ v.diff }}</pre>
{% endif %}
{% if v.note %}<p><em>{{ v.note }}</em></p>
{% endif %}
{% endfor %}
<p style="color:#888;font-size:.85em">Sent by wpwatch, alert channel {{ channel }}.</p>
</body></html>
"""
_env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True)
_html_template = _env.from_string(_HTML)


def html_body(msg: Message, *, limit: int | None = 60_000) -> str:
    """HTML (autoescaped; no scripts, no images): the same content as :func:`text_body`."""
    views: list[dict[str, Any]] = [
        {"headline": notice_headline(n), "facts": notice_facts(n), "diff": "", "note": ""}
        for n in msg.notices
    ]
    for item in msg.items:
        view: dict[str, Any] = {"headline": headline(item), "diff": "", "note": ""}
        if len(msg.items) == 1 and not msg.notices:
            view["facts"] = facts(item)
            diff = clean_lines(item.diff_text).strip("\n")
            view["diff"], left = excerpt(diff, limit if limit else len(diff))
            view["note"] = more_note(left, item) if left else ""
        else:
            view["facts"] = facts(item, compact=True)
        views.append(view)
    return _html_template.render(
        subject=subject(msg),
        intro=test_intro(msg) if msg.test else "",
        heading=count_line(msg) if len(msg.items) + len(msg.notices) > 1 else "",
        health=clean(msg.health_line),
        views=views,
        channel=clean(msg.channel),
    )


# -- the test message ----------------------------------------------------------------------------
def test_message(channel: str) -> Message:
    """What `wpwatch alerts test CHANNEL` sends: a sample change, clearly marked as a test."""
    sample = AlertItem(
        change_id=0,
        site="https://example.org",
        site_name="example.org (sample)",
        kind="edited",
        type="posts",
        wp_id=1,
        title="Sample post: this is how a change looks",
        url="https://example.org/sample-post/",
        detected_at=datetime.now(UTC).isoformat(timespec="seconds"),
        fields=("content",),
        summary="3 words replaced by 2 in paragraph 1 (sample)",
        removed=("will publish the report",),
        added=("may publish",),
        diff_text="  Paragraph 1  The ministry [-will publish the report-]{+may publish+} soon.",
        report_url=None,
    )
    return Message(channel=channel, digest="immediate", items=(sample,), test=True)


test_message.__test__ = False  # type: ignore[attr-defined]  # not a test, for pytest's collector
