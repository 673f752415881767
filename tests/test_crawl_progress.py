"""Progress of a first crawl: one updating line on a terminal, a line per 10 s elsewhere."""

from __future__ import annotations

import io

from crawler.progress import ProgressLine
from tests.conftest import WPWatch
from tests.faultserver import FaultServer
from wpwatch.demo.server import DemoSite


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_not_a_terminal_gets_at_most_a_line_per_10_seconds() -> None:
    out, clock = io.StringIO(), Clock()
    progress = ProgressLine(out, tty=False, clock=clock)
    for _ in range(60):  # a page of 100 posts every half second: 30 s
        progress.posts_stored("https://example.org/", "posts", 100, 20_000)
        clock.now += 0.5
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # at 10 s and at 20 s
    assert lines[0] == "https://example.org/: 2,100/20,000 posts archived, 210/s, about 85 s left"
    progress.round_done("https://example.org/")
    assert out.getvalue().count("\n") == 2  # nothing to clear off a log


def test_a_terminal_gets_one_line_updated_in_place() -> None:
    out, clock = io.StringIO(), Clock()
    progress = ProgressLine(out, tty=True, clock=clock)
    for _ in range(10):
        clock.now += 1
        progress.posts_stored("https://example.org/", "pages", 10, 100)
    text = out.getvalue()
    assert "\n" not in text
    assert text.count("\r") == 9  # every update after the first rewrites the one line
    assert text.endswith("https://example.org/: 100/100 posts archived, 11/s, about 0 s left\x1b[K")
    progress.round_done("https://example.org/")
    assert out.getvalue().endswith("\r\x1b[K")  # cleared before the round's summary


def test_a_first_crawl_says_what_it_archived_without_a_line_per_page(wpwatch: WPWatch) -> None:
    site = DemoSite("Big")
    site.add_many(250)
    site.add_many(3, type="page")
    with FaultServer(site) as srv:
        proc = wpwatch.run("crawl", srv.url)
    assert proc.stderr == ""  # no "page 2/3", no "sweeping ids": those are for -v
    (line,) = proc.stdout.splitlines()
    assert "baseline of 250 posts, 3 pages; 0 new" in line, line
