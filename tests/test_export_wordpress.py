"""Evidence from a real WordPress: the archive of a crawled site verifies clean, its WARC
export passes `warcio check` and is indexed by pywb (cdx-indexer, wb-manager add), and
a changed byte in the archive is caught by `wpwatch verify`."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from tests.conftest import WPWatch
from tests.test_evidence import broken_at, sql, verify
from tests.test_export import check_warc_with_tools, read_warc
from tests.wordpress import WordPressStack

pytestmark = [pytest.mark.wordpress, pytest.mark.slow]


def test_real_wordpress_archive_exports_and_verifies(
    wp_stack: WordPressStack, wpwatch: WPWatch, tmp_path: Path
) -> None:
    site = wp_stack.site(wp_stack.port(8))
    site.reset()
    posts = [site.create(f"Statement {i}", f"<p>Statement {i}: the Foundation calls for "
                                            f"action.</p>", categories="Statements")["id"]
             for i in range(6)]
    page = site.create("About", "<p>Who we are.</p>", type="page")["id"]
    wpwatch.run("crawl", site.url)

    site.update(posts[0], content="<p>Statement 0: the Foundation notes the report.</p>")
    site.update(posts[0], content="<p>Statement 0: the Foundation welcomes the report.</p>")
    site.update(posts[1], title="Statement 1 (corrected)")
    site.trash(posts[2])
    site.delete(posts[3])
    site.update(page, content="<p>Who we are, and why.</p>")
    site.create("Fresh statement", "<p>Published today.</p>")
    wpwatch.run("crawl", site.url)
    kinds = sorted(c["kind"] for c in wpwatch.json("changes", "--json"))
    assert kinds == ["deleted", "edited", "edited", "edited", "new", "unpublished"]

    # hidden edits: two saves of statement 0 between the polls
    h = wpwatch.json("history", site.url, "posts", str(posts[0]), "--json")
    before, after = (v["revision_count"] for v in h["versions"])
    assert after - before == 2

    code, out = verify(wpwatch)
    assert code == 0, out

    warc = tmp_path / "wordpress.warc.gz"
    wpwatch.run("export", "--site", site.url, "--format", "warc", "--out", str(warc))
    cdxj = check_warc_with_tools(warc, tmp_path / "pywb")
    assert f"/wp/v2/posts/{posts[3]}" in cdxj  # the 404 that proves the deletion
    responses = [r for r in read_warc(warc) if r["type"] == "response"]
    assert {r["http"].get_statuscode() for r in responses} == {"200", "401", "404"}
    assert all(r["http"].get_header("Content-Length") == str(len(r["payload"]))
               for r in responses)

    ((rid, body),) = sql(wpwatch.db, "SELECT id, body FROM responses ORDER BY id LIMIT 1")
    raw = zlib.decompress(body)
    sql(wpwatch.db, "UPDATE responses SET body=? WHERE id=?",
        zlib.compress(raw.replace(b"calls for", b"calls on", 1)), rid)
    code, out = verify(wpwatch)
    assert code == 1 and broken_at(out) == 1
    assert f"raw bytes of response {rid}" in out
