"""Hostile content: what a post says must never break the watch or the reader.

Scripts, Slack control sequences, a 1 MB title, invalid UTF-8 and deeply
nested HTML arrive through the fault-injection server as new posts. The
round stores them (raw bytes kept), reports each as `new` once, and every
view of them (`changes`, `show` as text/Markdown/HTML/JSON, `report`) works
and carries no live script.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import WPWatch
from tests.faultserver import FaultServer
from tests.test_fault_matrix import FAST, Pair, make_site


@pytest.fixture(autouse=True)
def big_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {**FAST, "DOWNLOAD_MAXSIZE": str(16 * 1024 * 1024)}
    monkeypatch.setenv("WPWATCH_SETTINGS", " ".join(f"{k}={v}" for k, v in settings.items()))


@pytest.mark.slow
def test_hostile_posts_are_stored_and_shown_safely(wpwatch: WPWatch, tmp_path: Path) -> None:
    good, bad = make_site("Healthy"), make_site("Hostile")
    with FaultServer(good) as good_srv, FaultServer(bad) as bad_srv:
        pair = Pair(wpwatch, good, good_srv, bad, bad_srv)
        # invalid UTF-8 inside the JSON strings of one post, on every answer
        bad_srv.patch(re.compile(r"wp/v2/posts"), replace=[(b"BADBYTES", b"\xff\xfe\xc3(")])
        pair.crawl(fresh=False)
        hostile = {
            "script": bad.add("Hello &lt;script&gt;alert(1)&lt;/script&gt;",
                              '<p>Hi</p><script>alert("x")</script><img src=x onerror=alert(2)>'
                              '<a href="javascript:alert(3)">click</a>'),
            "slack": bad.add("&lt;!channel&gt; &lt;@U024BE7LH&gt; &lt;https://evil.example|login&gt;"
                             " *bold* `code`", "<p>&lt;!here&gt; ping</p>"),
            "huge-title": bad.add("A" * (1024 * 1024), "<p>Big</p>"),
            "invalid-utf8": bad.add("Broken BADBYTES title", "<p>Broken BADBYTES body</p>"),
            "deep-html": bad.add("Deep", "<div>" * 5000 + "deep text" + "</div>" * 5000),
        }
        pair.crawl()
        found = pair.changes(bad_srv.url)
        assert found == sorted((i, "new") for i in hostile.values())
        pair.crawl()  # stable: nothing doubled, no false edit from the repaired bytes
        assert pair.changes(bad_srv.url) == found
        assert pair.last_round(bad_srv.url)["outcome"] == "ok"

        rows = {c["wp_id"]: c for c in wpwatch.json("changes", "--json")}
        assert "\ufffd" in rows[hostile["invalid-utf8"]]["title"]
        assert len(rows[hostile["huge-title"]]["title"]) == 1024 * 1024
        for wp_id in hostile.values():
            cid = str(rows[wp_id]["id"])
            for fmt in ("text", "md", "json"):
                wpwatch.run("show", cid, "--format", fmt)
            page = wpwatch.run("show", cid, "--format", "html").stdout
            assert "<script>alert" not in page and "onerror=alert" not in page
            assert not re.search(r"""href\s*=\s*["']?\s*javascript:""", page, re.IGNORECASE)
        json.loads(wpwatch.run("show", str(rows[hostile["slack"]]["id"]), "--format",
                               "json").stdout)
        out = tmp_path / "report"
        wpwatch.run("report", "--since", "1d", "--out", str(out))
        for html_file in out.rglob("*.html"):
            text = html_file.read_text(encoding="utf-8")
            assert "<script>alert" not in text and "onerror=alert" not in text
        pair.assert_archive_sound()
