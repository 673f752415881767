"""`wpwatch show`, `diff` and `report` on an archive built through the real write path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner

from archive import Archive, RawResponse, queries, utcnow
from crawler.pipelines import to_record
from diffs.compare import changed_fields
from diffs.render import FORMATS as RENDER_FORMATS
from diffs.render import RENDERERS
from wpwatch.cli import cli
from wpwatch.cli.report import FORMATS

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "fixtures" / "golden"
SITE = "https://iuhrdf.org/en"
API = SITE + "/wp-json/wp/v2/posts"


def golden(case: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / case / name).read_text(encoding="utf-8"))
    return data


def other_post() -> dict[str, Any]:
    post = golden("number-changed", "before.json")
    post.update(id=4600, slug="second", link=SITE + "/second/")
    post["title"] = {"rendered": "A second statement"}
    post["content"] = {"rendered": "<h2>Summary</h2><p>Short text.</p>", "protected": False}
    return post


def fetch(archive: Archive, site_id: int, posts: list[dict[str, Any]], *, baseline: bool) -> None:
    body = json.dumps(posts).encode()
    response = RawResponse(
        f"{API}?include={','.join(str(p['id']) for p in posts)}",
        200,
        [("Content-Type", "application/json")],
        body,
        utcnow(),
    )
    archive.record_posts(
        site_id=site_id,
        round_id=None,
        type_="posts",
        response=response,
        records=[to_record(i, p) for i, p in enumerate(posts)],
        baseline=baseline,
        compare=changed_fields,
    )


def gone(archive: Archive, site_id: int, wp_id: int, status: int, code: str) -> None:
    body = json.dumps({"code": code, "message": "x", "data": {"status": status}}).encode()
    archive.record_gone(
        site_id=site_id,
        round_id=None,
        type_="posts",
        wp_id=wp_id,
        kind="deleted" if status == 404 else "unpublished",
        response=RawResponse(f"{API}/{wp_id}?_fields=id,status", status, [], body, utcnow()),
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Changes #1 edited (sentence softened), #2 new, #3 edited (metadata), #4 deleted,
    #5 restored, and a second site with #6 new."""
    path = tmp_path_factory.mktemp("report") / "wpwatch.db"
    archive = Archive(str(path))
    site = archive.site(SITE, "iuhrdf")["id"]
    fetch(archive, site, [golden("sentence-softened", "before.json")], baseline=True)
    fetch(archive, site, [golden("sentence-softened", "after.json"), other_post()], baseline=False)
    fetch(archive, site, [golden("metadata-moved", "after.json")], baseline=False)
    gone(archive, site, 4600, 404, "rest_post_invalid_id")
    fetch(archive, site, [other_post()], baseline=False)
    other = archive.site("https://example.org", None)["id"]
    fetch(
        archive,
        other,
        [{**other_post(), "id": 7, "link": "https://example.org/7/"}],
        baseline=False,
    )
    archive.close()
    return path


def run(db: Path, *args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, ["--db", str(db), "--config", os.devnull, *args])
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_the_archive_has_one_change_of_each_kind(db: Path) -> None:
    archive = Archive(str(db))
    kinds = [c.kind for c in queries.changes(archive)]
    assert kinds == ["edited", "new", "edited", "deleted", "restored", "new"]
    v = queries.version(archive, 2)
    assert v is not None and v.raw is not None and v.raw["id"] == 4546  # read back from the bytes
    deleted = queries.change(archive, 4)
    assert deleted is not None and deleted.evidence is not None
    assert (deleted.evidence.status, deleted.evidence.code) == (404, "rest_post_invalid_id")


def test_format_choices_are_the_renderers() -> None:
    assert FORMATS == RENDER_FORMATS == tuple(RENDERERS)


def test_show_formats(db: Path) -> None:
    text = run(db, "show", "1").output
    assert "9 words replaced by 5 in paragraph 1" in text
    assert "[-requiring an explanation-] {+asking for information+}" in text
    assert "\x1b[" not in text  # not a terminal
    assert "\x1b[31;9m" in run(db, "show", "1", "--color").output
    md = run(db, "show", "1", "--format", "md").output
    assert md.startswith("## Edited: East Turkestan") and "~~requiring an explanation~~" in md
    page = run(db, "show", "1", "--format", "html").output
    assert "Content-Security-Policy" in page and "<del>requiring an explanation</del>" in page
    data = json.loads(run(db, "show", "1", "--format", "json").output)
    assert data["change"] == {
        "id": 1, "site": SITE, "site_name": "iuhrdf", "type": "posts", "wp_id": 4546,
        "kind": "edited", "detected_at": data["change"]["detected_at"],
    }  # fmt: skip
    assert data["changed"] == ["content"]


def test_show_each_kind(db: Path) -> None:
    assert "new post, 3 words" in run(db, "show", "2").output
    meta = run(db, "show", "3", "--format", "md").output
    assert "category 'statements' added" in meta and "back-dated by 78 days" in meta
    deleted = run(db, "show", "4").output
    assert "deleted (HTTP 404, 'rest_post_invalid_id')" in deleted
    assert "Text of the last version archived" in deleted and "Short text." in deleted
    assert "restored as it was" in run(db, "show", "5").output


def test_show_unknown_change(db: Path) -> None:
    result = run(db, "show", "99", ok=False)
    assert result.exit_code == 2
    assert "no change #99" in result.output and "wpwatch changes" in result.output


def test_diff_any_two_versions_of_one_post(db: Path) -> None:
    h = Archive(str(db)).history(SITE, "posts", 4546)
    assert h is not None
    first, softened, last = (v["id"] for v in h["versions"])
    md = run(db, "diff", str(softened), str(last), "--format", "md").output
    assert "**requiring an explanation**" in md and "category 'statements' added" in md
    assert (
        "content"
        not in json.loads(run(db, "diff", str(first), str(last), "--format", "json").output)[
            "changed"
        ]
    )
    same = run(db, "diff", str(last), str(last)).output
    assert "no visible change" in same


def test_diff_refuses_versions_of_two_posts(db: Path) -> None:
    result = run(db, "diff", "1", "3", ok=False)
    assert result.exit_code == 2 and "different posts" in result.output
    missing = run(db, "diff", "1", "999", ok=False)
    assert missing.exit_code == 2 and "no version 999" in missing.output


def test_report_site(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run(db, "report", "--since", "7d", "--out", str(out))
    assert "wrote 6 change pages" in result.output
    index = (out / "index.html").read_text(encoding="utf-8")
    for change_id in range(1, 7):
        assert f'href="changes/{change_id}.html"' in index
        page = (out / "changes" / f"{change_id}.html").read_text(encoding="utf-8")
        assert "Content-Security-Policy" in page and 'href="../index.html"' in page
    assert index.index("changes/6.html") < index.index("changes/1.html")  # newest first
    assert 'for="fs-0"' in index and 'for="fk-deleted"' in index  # filters, no script

    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not feed.bozo, feed.get("bozo_exception")
    assert len(feed.entries) == 6
    by_link = {e.link: e for e in feed.entries}
    assert set(by_link) == {f"changes/{i}.html" for i in range(1, 7)}
    assert by_link["changes/1.html"].summary.startswith("9 words replaced by 5 in paragraph 1")
    assert by_link["changes/4.html"].title.startswith("[deleted] A second statement")
    assert len({e.id for e in feed.entries}) == 6


def test_report_one_site_with_absolute_links(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    run(
        db,
        "report",
        "--since",
        "7d",
        "--site",
        "iuhrdf",
        "--out",
        str(out),
        "--base-url",
        "https://reports.example.org/wpwatch/",
    )
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not feed.bozo and len(feed.entries) == 5
    assert feed.entries[0].link.startswith("https://reports.example.org/wpwatch/changes/")
    # a narrower report drops the pages of the wider one
    run(db, "report", "--since", "7d", "--site", "https://example.org", "--out", str(out))
    assert sorted(p.name for p in (out / "changes").iterdir()) == ["6.html"]


def test_report_when_nothing_changed(db: Path, tmp_path: Path) -> None:
    run(db, "report", "--since", "2999-01-01", "--out", str(tmp_path / "empty"))
    assert "No changes since" in (tmp_path / "empty" / "index.html").read_text(encoding="utf-8")
    feed = feedparser.parse((tmp_path / "empty" / "feed.xml").read_bytes())
    assert not feed.bozo and feed.entries == []


def test_commands_work_under_python_dash_m(db: Path) -> None:
    """`python -m wpwatch` (the demo and the test helpers run it so) has them too."""
    proc = subprocess.run(
        [sys.executable, "-m", "wpwatch", "--db", str(db), "--config", os.devnull,
         "show", "2", "--format", "md"],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("## New: A second statement")
