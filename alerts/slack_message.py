"""A message as a Slack incoming-webhook payload: Block Kit within Slack's limits.

Site text is escaped so ``<!channel>`` or ``<https://evil|click>`` show as text; formatting
characters (``*`` ``_`` ``~`` at a word edge, any backtick) are swapped for look-alikes so a
title cannot style the message; ``@channel`` is broken with a word joiner. Slack's limits:
at most 50 blocks, 3,000 characters a section, 150 a header.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from alerts.message import (
    SLACK_BLOCKS,
    SLACK_DIFF_SECTIONS,
    SLACK_HEADER,
    SLACK_SECTION,
    AlertItem,
    Message,
    Notice,
    _dated,
    _phrases,
    _words,
    clean,
    clean_lines,
    count_line,
    fit,
    fit_text,
    full_diff,
    headline,
    notice_facts,
    notice_headline,
    subject,
    test_intro,
    web_url,
)
from diffs.render import when

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
    if item.seen:
        where.append(_slack_fact("Seen", clean(item.seen), 300))
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
    lone = msg.notices[0] if len(msg.notices) == 1 and not msg.items else None
    head = notice_headline(lone) if lone else count_line(msg)
    blocks: list[dict[str, Any]] = [{
        "type": "header",
        "text": {"type": "plain_text", "text": fit_text(head, SLACK_HEADER, slack_plain)},
    }]
    if msg.health_line:
        blocks.append(_section(f"*{slack_mrkdwn(msg.health_line)}*"))
    blocks += [_slack_notice(n) for n in msg.notices]
    room = SLACK_BLOCKS - len(blocks) - 1  # the blocks above, the footer below
    shown = msg.items if len(msg.items) <= room else msg.items[: max(room - 1, 0)]
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


def _slack_notice(n: Notice) -> dict[str, Any]:
    lines = [f"*{slack_mrkdwn(notice_headline(n))}*"]
    for f in notice_facts(n):
        value = slack_link(f.href, f.value) if f.href else fit_text(f.value, 600, slack_mrkdwn)
        lines.append(f"*{f.label.capitalize()}:* {value}")
    return _section("\n".join(lines))


def _slack_burst(msg: Message) -> list[dict[str, Any]]:
    """One line per change, packed into sections of at most 3,000 characters."""
    blocks: list[dict[str, Any]] = [{
        "type": "header",
        "text": {"type": "plain_text", "text": fit_text(count_line(msg), SLACK_HEADER,
                                                        slack_plain)},
    }]
    room = SLACK_BLOCKS - len(blocks) - 2  # the "… more" note and the footer below
    lines: list[str] = []
    shown = 0
    for item in msg.items:
        title = slack_link(item.url, clean(item.title) or "(no title)", 300)
        site = fit_text(clean(item.site_name), 80, slack_mrkdwn)
        line = f"• {site} — {title} · {slack_mrkdwn(f'{clean(item.type)} #{item.wp_id}')}"
        if len("\n".join([*lines, line])) > SLACK_SECTION:
            if len(blocks) - 1 >= room:
                break
            blocks.append(_section("\n".join(lines)))
            lines = []
        lines.append(line)
        shown += 1
    if lines and len(blocks) - 1 < room:
        blocks.append(_section("\n".join(lines)))
    else:
        shown -= len(lines)
    if shown < len(msg.items):
        blocks.append(_context(f"… and {_words(len(msg.items) - shown, 'more change')}: "
                               "`wpwatch changes`"))
    return blocks


def slack_payload(msg: Message) -> dict[str, Any]:
    """An incoming-webhook payload: Block Kit within Slack's limits, plus a ``text`` fallback
    for notifications; link previews off (the site must not choose what Slack shows)."""
    blocks: list[dict[str, Any]] = []
    if msg.test:
        blocks.append(_section(f"*{slack_mrkdwn(test_intro(msg))}*"))
    if msg.burst:
        blocks += _slack_burst(msg)
    elif len(msg.items) == 1 and not msg.notices and not msg.health_line:
        blocks += _slack_single(msg.items[0])
    else:
        blocks += _slack_digest(msg)
    blocks = blocks[: SLACK_BLOCKS - 1]
    blocks.append(_context(f"wpwatch · alert channel {slack_mrkdwn(msg.channel)}"))
    fallback = subject(msg).removeprefix("[wpwatch] ") if not msg.test else "wpwatch test message"
    return {
        "text": fit_text(fallback, 300, slack_mrkdwn),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }
