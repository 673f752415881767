"""What an alert says: subject, plain text, HTML and a Slack Block Kit payload.

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

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

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


@dataclass(frozen=True)
class Message:
    channel: str
    digest: str  # "immediate" | "round" | "daily"
    items: tuple[AlertItem, ...]
    test: bool = False  # `wpwatch alerts test CHANNEL`

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
    """``5 changes on 2 sites (daily digest)``."""
    sites = len({i.site for i in msg.items})
    line = f"{_words(len(msg.items), 'change')} on {_words(sites, 'site')}"
    return line + (f" ({msg.digest} digest)" if msg.digest != "immediate" else "")


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
    if len(msg.items) == 1 and msg.digest == "immediate":
        item = msg.items[0]
        title = shorten(clean(item.title) or "(no title)", TITLE_CHARS)
        return f"[wpwatch] {item.kind}: {shorten(clean(item.site_name), 60)} — {title}"
    return f"[wpwatch] {count_line(msg)}"


def text_body(msg: Message, *, limit: int | None = None) -> str:
    """Plain text: each change in one glance, then (for a single change) the diff excerpt,
    all within ``limit`` characters when given."""
    head = [test_intro(msg), ""] if msg.test else []
    if len(msg.items) == 1:
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
    views: list[dict[str, Any]] = []
    for item in msg.items:
        view: dict[str, Any] = {"headline": headline(item), "diff": "", "note": ""}
        if len(msg.items) == 1:
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
        heading=count_line(msg) if len(msg.items) > 1 else "",
        views=views,
        channel=clean(msg.channel),
    )


# -- Slack ---------------------------------------------------------------------------------------
_SLACK_FORMAT = re.compile(r"(?<!\w)[*_~]|[*_~](?!\w)|`")
_LOOKALIKE = {"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"}  # ∗ ˍ ∼ ˋ
_MENTION = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)


def _slack_entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_plain(text: str) -> str:
    """Site text for a ``plain_text`` object (header): one line, ``& < >`` escaped."""
    return _slack_entities(clean(text))


def slack_mrkdwn(text: str) -> str:
    """Site text for ``mrkdwn``: escaped, unstyled, mentioning no one."""
    text = _SLACK_FORMAT.sub(lambda m: _LOOKALIKE[m.group()], clean(text))
    return _slack_entities(_MENTION.sub("@\u2060", text))


def slack_code(text: str) -> str:
    """Multi-line site text inside a ``` block: escaped, no backtick to close the block."""
    return _slack_entities(clean_lines(text).replace("`", _LOOKALIKE["`"]))


def slack_link(url: str | None, label: str, limit: int = 600) -> str:
    """``<url|label>`` for an http(s) URL (label escaped), else the escaped label alone."""
    target = web_url(url)
    text = fit_text(label, limit // 2, slack_mrkdwn)
    if not target:
        return text
    target = quote(target, safe=":/?#[]@!$&'()*+,;=%~-._")  # encodes < > | " space
    if len(target) > limit // 2:
        return text
    return f"<{_slack_entities(target)}|{text}>"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_SECTION]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SLACK_SECTION]}]}


def _slack_fact(label: str, value: str, budget: int) -> str:
    return f"*{label}:* {fit_text(value, budget, slack_mrkdwn)}"


def _slack_diff_link(item: AlertItem) -> str:
    link = full_diff(item)
    if link and web_url(link):
        return slack_link(link, "full diff")
    return slack_mrkdwn(f"full diff: {link}") if link else ""


def _slack_single(item: AlertItem) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{
        "type": "header",
        "text": {"type": "plain_text", "text": fit_text(headline(item), SLACK_HEADER, slack_plain)},
    }]
    name, post = clean(item.site_name), f"{clean(item.type)} #{item.wp_id}"
    where = [
        f"*Site:* {slack_link(item.site, name)}",
        f"*Post:* {slack_link(item.url, clean(item.title) or '(no title)')} · {slack_mrkdwn(post)}",
        f"*Detected:* {slack_mrkdwn(when(item.detected_at))}",
    ]
    if item.dated:
        where.append(_slack_fact("Dated", _dated(item), 400))
    if item.versions:
        where.append(_slack_fact("Version", clean(item.versions), 200))
    if item.fields:
        where.append(_slack_fact("Changed", ", ".join(clean(f) for f in item.fields), 300))
    blocks.append(_section("\n".join(where)))
    what = [_slack_fact("What changed", clean(item.summary), 1200)]
    for label, phrases in (("Removed", item.removed), ("Added", item.added)):
        if any(clean(p) for p in phrases):
            what.append(_slack_fact(label, _phrases(phrases), 700))
    if item.keywords:
        what.append(_slack_fact("Keywords", ", ".join(clean(k) for k in item.keywords), 300))
    blocks.append(_section("\n".join(what)))

    diff, pos = clean_lines(item.diff_text).strip("\n"), 0
    room = SLACK_SECTION - len("```\n\n```")
    for _ in range(SLACK_DIFF_SECTIONS):
        if pos >= len(diff):
            break
        k = fit(diff[pos : pos + room + 1], room, slack_code) or 1
        blocks.append(_section("```\n" + slack_code(diff[pos : pos + k]) + "\n```"))
        pos += k
        pos += diff[pos : pos + 1] in ("\n", " ")
    left = len(diff[pos:].split())
    link = _slack_diff_link(item)
    if left:
        blocks.append(_context(f"… {_words(left, 'more word')}" + (f"; {link}" if link else "")))
    elif link:
        blocks.append(_context(link))
    return blocks


def _slack_digest(msg: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{
        "type": "header",
        "text": {"type": "plain_text", "text": fit_text(count_line(msg), SLACK_HEADER)},
    }]
    room = SLACK_BLOCKS - 2  # the header above, the footer below
    shown = msg.items if len(msg.items) <= room else msg.items[: room - 1]
    for item in shown:
        title = slack_link(item.url, clean(item.title) or "(no title)", 400)
        site = fit_text(clean(item.site_name), 100, slack_mrkdwn)
        lines = [f"*{slack_mrkdwn(item.kind)}* · {site} — {title}",
                 _slack_fact("What", clean(item.summary), 600)]
        for label, phrases in (("Removed", item.removed), ("Added", item.added)):
            if any(clean(p) for p in phrases):
                lines.append(_slack_fact(label, _phrases(phrases, 80), 400))
        link = _slack_diff_link(item)
        if link:
            lines.append(link)
        blocks.append(_section("\n".join(lines)))
    if len(shown) < len(msg.items):
        blocks.append(_context(f"… and {_words(len(msg.items) - len(shown), 'more change')}"))
    return blocks


def slack_payload(msg: Message) -> dict[str, Any]:
    """An incoming-webhook payload: Block Kit within Slack's limits, plus a ``text`` fallback
    for notifications; link previews off (the site must not choose what Slack shows)."""
    blocks: list[dict[str, Any]] = []
    if msg.test:
        blocks.append(_section(f"*{slack_mrkdwn(test_intro(msg))}*"))
    blocks += _slack_single(msg.items[0]) if len(msg.items) == 1 else _slack_digest(msg)
    blocks = blocks[: SLACK_BLOCKS - 1]
    blocks.append(_context(f"wpwatch · alert channel {slack_mrkdwn(msg.channel)}"))
    fallback = subject(msg).removeprefix("[wpwatch] ") if not msg.test else "wpwatch test message"
    return {
        "text": fit_text(fallback, 300, slack_mrkdwn),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


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
