"""A new post tells its date and author, and says when it was back-dated: in `wpwatch show`
(every format), the static report, and the alerts (email text and HTML, Slack).

The archive is built through the real write path; "first seen" is when the archive first
stored the post, so the posts here are dated relative to now.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from alerts.deliver import Group
from alerts.items import build_message
from alerts.message import html_body, subject, text_body
from alerts.slack_message import slack_payload
from archive import Archive, queries
from tests.test_report_cli import SITE, fetch, golden
from wpwatch.cli import cli

BACKDATED = "dated 30 days before it was first seen"


def post(wp_id: int, slug: str, title: str, age: timedelta, **extra: Any) -> dict[str, Any]:
    record = golden("number-changed", "before.json")
    date = (datetime.now(UTC) - age).replace(microsecond=0, tzinfo=None).isoformat()
    record.update(
        id=wp_id, slug=slug, link=f"{SITE}/{slug}/", date=date, date_gmt=date, author=7,
        title={"rendered": title}, **extra,
    )  # fmt: skip
    record["content"] = {"rendered": "<p>A statement of fifteen words, no more and no less, "
                         "for this test here exactly.</p>", "protected": False}  # fmt: skip
    return record


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """#1 new, published just now by a named author; #2 new, dated 30 days back."""
    path = tmp_path_factory.mktemp("new") / "wpwatch.db"
    archive = Archive(str(path))
    site = archive.site(SITE, "iuhrdf")["id"]
    fetch(archive, site, [golden("number-changed", "before.json")], baseline=True)
    fresh = post(
        5001, "fresh", "Published today", timedelta(minutes=5),
        _embedded={"author": [{"id": 7, "name": "Gulnar <b>Editor</b>"}]},
    )  # fmt: skip
    fetch(archive, site, [fresh], baseline=False)
    fetch(archive, site, [post(5002, "old", "Quietly back-dated", timedelta(days=30, hours=1))],
          baseline=False)  # fmt: skip
    archive.close()
    return path


def run(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(db), "--config", os.devnull, *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_show_text_names_date_author_and_backdating(db: Path) -> None:
    fresh = run(db, "show", "1")
    assert "new post, 15 words\n" in fresh and "back-dated" not in fresh
    assert re.search(
        r"dated +\d{4}-\d\d-\d\d \d\d:\d\d UTC, by Gulnar <b>Editor</b> \(user 7\)", fresh
    )
    old = run(db, "show", "2")
    assert f"new post, 15 words; {BACKDATED}" in old
    assert "back-dated: 30 days before it was first seen (" in old
    assert "by user 7" in old  # no embedded author: the id


def test_show_md_html_json(db: Path) -> None:
    md = run(db, "show", "2", "--format", "md")
    assert f"**new post, 15 words; {BACKDATED}**" in md
    assert "- **Back-dated:** 30 days before it was first seen" in md and "by user 7" in md
    assert "by Gulnar <b>" not in run(db, "show", "1", "--format", "md")  # escaped for Markdown
    page = run(db, "show", "1", "--format", "html")
    assert "by Gulnar &lt;b&gt;Editor&lt;/b&gt; (user 7)" in page and "Back-dated" not in page
    assert "30 days before it was first seen</span>" in run(db, "show", "2", "--format", "html")
    data = json.loads(run(db, "show", "2", "--format", "json"))
    assert data["summary"] == f"new post, 15 words; {BACKDATED}"
    published = data["published"]
    assert published["author"] == "user 7" and published["backdated"] == BACKDATED
    assert published["backdated_by"] == "30 days"
    stored = queries.change(Archive(str(db)), 2)
    assert stored is not None and published["first_seen"] == stored.first_seen
    assert published["date"] == (
        datetime.fromisoformat(stored.first_seen) - timedelta(days=30, hours=1)
    ).strftime("%Y-%m-%d %H:%M UTC")


def test_report_pages_and_index(db: Path, tmp_path: Path) -> None:
    run(db, "report", "--since", "1d", "--out", str(tmp_path))
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert BACKDATED in index and "by Gulnar &lt;b&gt;Editor&lt;/b&gt; (user 7)" in index
    page = (tmp_path / "changes" / "2.html").read_text(encoding="utf-8")
    assert "<dt>Back-dated</dt>" in page and "by user 7" in page


def test_alerts_tell_date_author_and_backdating(db: Path) -> None:
    archive = Archive(str(db))
    one = build_message(archive, Group("desk", "immediate", [2], [2], {}, 0))
    text = text_body(one)
    dated = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC, by user 7 — back-dated: 30 days before it was"
    assert re.search(rf"dated: +{dated} first seen\n", text)
    assert re.search(rf"what: +new post, 15 words; {BACKDATED}", text)
    assert "version:   v1 (#" in text
    assert subject(one) == "[wpwatch] new: iuhrdf — Quietly back-dated"
    assert "by user 7 — back-dated: 30 days before it was first seen" in html_body(one)
    slack = json.dumps(slack_payload(one), ensure_ascii=False)
    assert "*Dated:* " in slack and BACKDATED in slack

    fresh = build_message(archive, Group("desk", "immediate", [1], [1], {}, 0))
    assert "by Gulnar <b>Editor</b> (user 7)" in text_body(fresh)
    assert "by Gulnar &lt;b&gt;Editor&lt;/b&gt; (user 7)" in html_body(fresh)
    assert "Gulnar &lt;b&gt;Editor&lt;/b&gt;" in json.dumps(slack_payload(fresh))
    assert "back-dated" not in text_body(fresh) and "first seen" not in text_body(fresh)

    digest = text_body(build_message(archive, Group("desk", "daily", [1, 2], [1, 2], {}, 0)))
    assert BACKDATED in digest  # the summary line carries it into digests

