"""Time to compare two versions of a 5,000-word article with ten scattered edits.

    .venv/bin/python bench/bench_diff.py [--runs 300]

The article is the real iuhrdf post (tests/fixtures/posts/iuhrdf-post-4546.json), its
paragraphs repeated under section headings, with list items, in the post's own inline-styled
markup, until it holds 5,000 words. Ten edits are spread through it: phrases softened,
numbers changed, a sentence cut, a paragraph removed, one added, a link retargeted, a heading
reworded. Reported: the median (and 90th percentile) of many runs of

* compare: ``diffs.report.compare_versions`` on two stored versions (normalized form + raw
  record, as ``archive.queries`` gives them): block alignment, word diffs, block kinds from
  the raw HTML, field changes (deepdiff), links, media and the summary. This is the figure
  with the 20 ms target;
* compare, normalized only: the same without raw records (no HTML parsing);
* render html / md: the comparison to a report page (sanitizing the post) / to Markdown.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script (python bench/bench_diff.py), so the repository root goes on sys.path
# before the project's own imports: hence the E402 exemptions below.
sys.path.insert(0, str(ROOT))

from diffs.normalize import normalize  # noqa: E402
from diffs.render import render  # noqa: E402
from diffs.report import Context, Report, Version, compare_versions  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "posts" / "iuhrdf-post-4546.json"
TARGET_WORDS = 5000
P = re.compile(r"<p[^>]*>.*?</p>", re.DOTALL)


def article() -> dict[str, Any]:
    """The real post grown to 5,000 words: its paragraphs, section headings and lists."""
    post: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    paragraphs = P.findall(post["content"]["rendered"])
    style = re.search(r'<p( style="[^"]*")', paragraphs[3])
    attrs = style.group(1) if style else ""
    parts: list[str] = []
    words = 0
    section = 0
    while words < TARGET_WORDS:
        section += 1
        heading = f"Section {section}: envoys, letters and responses"
        parts.append(f"<h2{attrs}>{heading}</h2>")
        words += len(heading.split())
        for i, para in enumerate(paragraphs):
            if words >= TARGET_WORDS:
                break
            text = re.sub(r"<[^>]+>", "", para)
            count = len(text.split())
            if words + count > TARGET_WORDS:
                para = f"<p{attrs}>" + " ".join(text.split()[: TARGET_WORDS - words]) + "</p>"
                count = TARGET_WORDS - words
            if i % 11 == 10:
                parts.append(f"<ul><li{attrs}>{re.sub(r'<[^>]+>', '', para)}</li></ul>")
            else:
                parts.append(para)
            words += count
    post["content"]["rendered"] = "\n".join(parts) + "\n"
    return post


def edited(post: dict[str, Any]) -> dict[str, Any]:
    """Ten edits, scattered from the top to the bottom of the article."""
    new = copy.deepcopy(post)
    html = new["content"]["rendered"]
    edits = [
        ("are requiring an explanation on the severe human rights violations",
         "are asking about the human rights situation"),
        ("Section 2: envoys, letters and responses", "Section 2: the letter"),
        ("a million or more Uighurs", "as many as a million Uighurs"),
        ("Beijing bristles at criticism", "Beijing responds to criticism"),
        (
            "One diplomatic source said it was being passed around for more countries"
            " to potentially sign.",
            "",
        ),
        ("possibly more than 2 million", "possibly more than 1 million"),
        ("https://www.reuters.com/article/", "https://web.archive.org/web/2018/https://www.reuters.com/article/"),
        ("15 Western ambassadors, including", "fifteen Western ambassadors, including"),
    ]  # fmt: skip
    for n, (old, replacement) in enumerate(edits):
        at = html.find(old, len(html) * n // 12)  # spread through the article
        at = at if at >= 0 else html.find(old)
        assert at >= 0, old
        html = html[:at] + replacement + html[at + len(old) :]
    paragraphs = P.findall(html)
    html = html.replace(paragraphs[len(paragraphs) * 5 // 11], "", 1)  # a paragraph removed
    anchor = paragraphs[len(paragraphs) * 9 // 11]
    added = "<p>An added paragraph: the ministry has since published a statement of its own.</p>"
    html = html.replace(anchor, anchor + "\n" + added, 1)  # a paragraph added
    new["content"]["rendered"] = html
    new["modified_gmt"] = "2024-03-14T09:12:44"
    return new


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    fn()  # warm-up
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()

    before, after = article(), edited(article())
    old = Version(normalize(before), before, 1, "2024-03-01T00:00:00Z", "a" * 64)
    new = Version(normalize(after), after, 2, "2024-03-14T00:00:00Z", "b" * 64)
    bare_old, bare_new = Version(old.normalized), Version(new.normalized)
    words = sum(len(b.split()) for b in old.normalized["text"])
    comparison = compare_versions(old, new)
    report = Report(Context(change_id=1, site="https://iuhrdf.org/en"), comparison)
    print(
        f"article: {words} words, {len(old.normalized['text'])} blocks, "
        f"{len(before['content']['rendered']) // 1024} KB of HTML; "
        f"{len(comparison.changed_blocks)} blocks changed"
    )
    print(f"summary: {comparison.summary}")
    rows = [
        ("compare (normalized + raw)", lambda: compare_versions(old, new)),
        ("compare (normalized only)", lambda: compare_versions(bare_old, bare_new)),
        ("render html", lambda: render(report, "html")),
        ("render md", lambda: render(report, "md")),
    ]
    print(f"\n{'step':<28} {'median':>9} {'p90':>9}   ({args.runs} runs)")
    for name, fn in rows:
        median, p90 = timed(fn, args.runs)
        print(f"{name:<28} {median:>6.2f} ms {p90:>6.2f} ms")


if __name__ == "__main__":
    main()
