"""Renderers of a :class:`~diffs.report.Report`: terminal text, Markdown, HTML and JSON.

Everything that comes from a watched site is untrusted, so every template escapes by
default, each for its own format:

* HTML: Jinja2 autoescape; the post's own rendering only through ``diffs.sanitize``; every
  page carries a Content-Security-Policy that forbids scripts and any request.
* Markdown: every ``{{ … }}`` is escaped by ``finalize`` (emphasis, link and image syntax,
  raw HTML, tables, block markers); URLs are shown as code spans, never as links.
* Terminal: every ``{{ … }}`` loses its control characters and ANSI escape sequences, so site
  text cannot move the cursor, recolour the terminal or set its title.

Only values this module builds itself (:class:`Trusted`) pass through unescaped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from diffs.model import Comparison, Report, VersionInfo
from diffs.sanitize import sanitize
from diffs.summary import amount
from diffs.text import BlockDiff, Segment

FORMATS = ("text", "md", "html", "json")
CONTEXT_BLOCKS = 1  # unchanged blocks shown around each change in HTML
REMOVED, ADDED, BOLD, DIM, RESET = "\x1b[31;9m", "\x1b[32m", "\x1b[1m", "\x1b[2m", "\x1b[0m"

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
# Removed from every value of a page: what XML 1.0 forbids (meaningless in HTML too) and the
# bidi overrides that make text display other than it reads ("evil" shown as "live").
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202d\u202e]")
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&])")
# Block syntax a value could open when it starts a line: quote, heading, list, rule, setext.
_MD_LINE_START = re.compile(r"^(\s*)([>#]|[-+=](?=[\s=-]|$))|^(\s*\d{1,9})([.)])(?=\s|$)")


class Trusted(str):
    """Text a renderer built for its own format (markup, colour codes): not escaped again."""


# -- escaping ----------------------------------------------------------------------------------
def one_line(text: object) -> str:
    """Site text as one line: control characters, ANSI escapes and bidi overrides removed."""
    return " ".join(_CONTROL.sub(" ", _ANSI.sub("", str(text))).split())


def md_escape(text: object) -> str:
    """Plain Markdown text: no emphasis, links, images, raw HTML, tables or block syntax."""
    escaped = _MD_INLINE.sub(r"\\\1", one_line(text))
    return _MD_LINE_START.sub(
        lambda m: f"{m.group(1)}\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\{m.group(4)}",
        escaped,
    )


def md_code(text: object) -> Trusted:
    """A code span (for URLs: shown, never linked)."""
    text = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return Trusted(f"{fence}{pad}{text}{pad}{fence}")


def _finalize(escape: Callable[[object], str]) -> Callable[[object], str]:
    def finalize(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, Trusted):
            return value
        return escape(value)

    return finalize


def _markup_finalize(value: object) -> object:
    """HTML/XML: autoescape does the escaping; this drops characters XML forbids."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    return _NOT_XML.sub("", str(value))


def _split_space(text: str) -> tuple[str, str, str]:
    core = text.strip()
    if not core:
        return text, "", ""
    start = text.index(core)
    return text[:start], core, text[start + len(core) :]


# -- segments, per format ------------------------------------------------------------------------
def md_segments(segments: Sequence[Segment]) -> Trusted:
    """``~~removed~~ **added**`` inline, the rest escaped."""
    marks = {"=": "", "-": "~~", "+": "**"}
    return _join(segments, lambda op, core: f"{marks[op]}{md_escape(core)}{marks[op]}")


def text_segments(segments: Sequence[Segment], color: bool) -> Trusted:
    """Terminal: red/green when colour is on, ``[-removed-]{+added+}`` markers otherwise."""

    def style(op: str, core: str) -> str:
        if op == "=":
            return one_line(core)
        if color:
            return f"{REMOVED if op == '-' else ADDED}{one_line(core)}{RESET}"
        return f"[-{one_line(core)}-]" if op == "-" else f"{{+{one_line(core)}+}}"

    return _join(segments, style)


def _join(segments: Sequence[Segment], style: Callable[[str, str], str]) -> Trusted:
    """Style each segment's words; whitespace around them becomes single spaces."""
    out = []
    previous = "="
    for seg in segments:
        lead, core, trail = _split_space(seg.text)
        if core:
            apart = " " if lead or (previous == "-" and seg.op == "+") else ""
            out.append(apart + style(seg.op, core) + (" " if trail else ""))
        elif seg.text:
            out.append(" ")
        previous = seg.op
    return Trusted(re.sub(r" {2,}", " ", "".join(out)).strip())


def html_segments(segments: Sequence[Segment], side: str = "both") -> Markup:
    """``<del>``/``<ins>`` inline; ``side`` "old" or "new" keeps one side only."""
    parts = []
    for seg in segments:
        text = _NOT_XML.sub("", seg.text)
        if seg.op == "=":
            parts.append(Markup.escape(text))
        elif seg.op == "-" and side != "new":
            parts.append(Markup("<del>{}</del>").format(text))
        elif seg.op == "+" and side != "old":
            parts.append(Markup("<ins>{}</ins>").format(text))
    return Markup("").join(parts)


# -- view helpers --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Gap:
    """Unchanged blocks between changes, folded away in HTML."""

    blocks: tuple[BlockDiff, ...]


def with_context(c: Comparison, context: int = CONTEXT_BLOCKS) -> list[BlockDiff | Gap]:
    """Changed blocks, ``context`` unchanged blocks around each, the rest folded into gaps."""
    if c.text_mode == "full":
        return list(c.blocks)
    changed = [i for i, b in enumerate(c.blocks) if b.op != "equal"]
    keep = {j for i in changed for j in range(i - context, i + context + 1)}
    out: list[BlockDiff | Gap] = []
    folded: list[BlockDiff] = []
    for i, block in enumerate(c.blocks):
        if i in keep:
            if folded:
                out.append(Gap(tuple(folded)))
                folded = []
            out.append(block)
        else:
            folded.append(block)
    if folded:
        out.append(Gap(tuple(folded)))
    return out


def block_label(block: BlockDiff) -> str:
    """ "Paragraph 4", "Heading 2 (removed)"…"""
    label = f"{block.kind.capitalize()} {block.number}"
    return label + {"insert": " (added)", "delete": " (removed)"}.get(block.op, "")


def when(iso: str | None) -> str:
    """``2026-11-27T22:17:27.123Z`` → ``2026-11-27 22:17 UTC``."""
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return one_line(iso)


def version_line(v: VersionInfo) -> str:
    """``v2 (#11), fetched 2026-11-27 22:17 UTC, content 1a2b3c4d5e6f``: the post's own
    version count, the archive-wide id (what `wpwatch diff` takes) beside it."""
    line = v.label
    if v.fetched_at:
        line += f", fetched {when(v.fetched_at)}"
    return line + (f", content {v.content_hash[:12]}" if v.content_hash else "")


def is_web_url(url: object) -> bool:
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


# -- environments --------------------------------------------------------------------------------
@cache
def environment(fmt: str) -> Environment:
    """The Jinja2 environment of a format: autoescape for HTML/XML, escaping finalize else."""
    common: dict[str, Any] = {
        "loader": PackageLoader("diffs", "templates"),
        "undefined": StrictUndefined,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
    }
    if fmt in ("html", "xml"):
        env = Environment(autoescape=True, finalize=_markup_finalize, **common)
    elif fmt == "md":
        env = Environment(autoescape=False, finalize=_finalize(md_escape), **common)
    elif fmt == "text":
        env = Environment(autoescape=False, finalize=_finalize(one_line), **common)
    else:
        raise ValueError(f"no template environment for {fmt!r}")
    env.filters.update(
        md_code=md_code,
        md_segments=md_segments,
        html_segments=html_segments,
        when=when,
        label=block_label,
    )
    env.globals.update(
        with_context=with_context, is_web_url=is_web_url, version_line=version_line, amount=amount
    )
    env.tests["gap"] = lambda item: isinstance(item, Gap)
    return env


# -- renderers -----------------------------------------------------------------------------------
def render(report: Report, fmt: str, *, color: bool = False, index_href: str | None = None) -> str:
    """One change (or any comparison) in ``fmt``: text, md, html or json."""
    if fmt not in RENDERERS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    return RENDERERS[fmt](report, color=color, index_href=index_href)


def render_text(report: Report, *, color: bool = False, **_: Any) -> str:
    env = environment("text")
    bold = (lambda s: Trusted(f"{BOLD}{one_line(s)}{RESET}")) if color else one_line
    dim = (lambda s: Trusted(f"{DIM}{one_line(s)}{RESET}")) if color else one_line
    return _tidy(
        env.get_template("change.txt.j2").render(
            r=report,
            c=report.comparison,
            x=report.context,
            color=color,
            bold=bold,
            dim=dim,
            seg=lambda segments: text_segments(segments, color),
            pad=lambda text, width: Trusted(" " * max(1, width - len(one_line(text)))),
        )
    )


def render_markdown(report: Report, **_: Any) -> str:
    return _tidy(
        environment("md")
        .get_template("change.md.j2")
        .render(r=report, c=report.comparison, x=report.context)
    )


def _tidy(text: str) -> str:
    """At most one blank line in a row, one newline at the end."""
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def render_html(report: Report, *, index_href: str | None = None, **_: Any) -> str:
    c = report.comparison
    rendering = None
    if c.content_html is not None:
        rendering = Markup(sanitize(c.content_html, base_url=c.url if is_web_url(c.url) else None))
    return page(
        "change.html.j2",
        title=f"{c.kind}: {one_line(c.title) or '(no title)'}",
        r=report,
        c=c,
        x=report.context,
        rendering=rendering,
        index_href=index_href,
    )


def render_json(report: Report, **_: Any) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"


RENDERERS: dict[str, Callable[..., str]] = {
    "text": render_text,
    "md": render_markdown,
    "html": render_html,
    "json": render_json,
}


def to_dict(report: Report) -> dict[str, Any]:
    """The JSON form: the change, the summary and the structured comparison."""
    c, x = report.comparison, report.context
    blocks = c.blocks if c.text_mode == "full" else c.changed_blocks
    return {
        "change": {
            "id": x.change_id, "site": x.site, "site_name": x.site_name, "type": x.type,
            "wp_id": x.wp_id, "kind": c.kind, "detected_at": x.detected_at,
        },
        "revisions": [dict(r) for r in x.revisions],
        "title": c.title,
        "url": c.url,
        "summary": c.summary,
        "changed": list(c.changed),
        "markup_only": c.markup_only,
        "old_version": asdict(c.old) if c.old else None,
        "new_version": asdict(c.new) if c.new else None,
        "published": (
            {**asdict(c.published), "backdated": c.published.backdated} if c.published else None
        ),
        "text": {
            "mode": c.text_mode,
            "blocks": [
                {
                    "op": b.op, "kind": b.kind,
                    "old_number": None if b.old_index is None else b.old_index + 1,
                    "new_number": None if b.new_index is None else b.new_index + 1,
                    "words_removed": b.words_removed, "words_added": b.words_added,
                    "chars_removed": b.removed.chars, "chars_added": b.added.chars,
                    "segments": [[s.op, s.text] for s in b.segments],
                }
                for b in blocks
            ],
        },
        "links": asdict(c.links),
        "media": asdict(c.media),
        "fields": [
            {**asdict(f), "words": [[s.op, s.text] for s in f.words]} for f in c.fields
        ],
        "evidence": asdict(c.evidence) if c.evidence else None,
        "presence": (
            {**asdict(x.presence), "line": x.presence.line} if x.presence else None
        ),
    }  # fmt: skip


# -- pages ---------------------------------------------------------------------------------------
def page(template: str, *, extra_css: str = "", **values: Any) -> str:
    """An HTML page with its stylesheet inline and a CSP that allows only that stylesheet."""
    env = environment("html")
    css = env.get_template("report.css").render() + extra_css
    return env.get_template(template).render(css=Markup(css), csp=Markup(csp(css)), **values)


def csp(css: str) -> str:
    """No scripts, no requests of any kind; only our own inline stylesheet (by its hash)."""
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; script-src 'none'; object-src 'none'; img-src 'none'; "
        f"style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
