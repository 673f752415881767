"""The archive's write rules: baseline, new, edited, touch, gone, restored, idempotence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from archive import Archive, PostRecord, RawResponse, utcnow


def rec(wp_id: int, text: str, modified: str = "2026-01-01T00:00:00") -> PostRecord:
    norm = {"title": f"T{wp_id}", "text": [text]}
    h = hashlib.sha256(json.dumps(norm, sort_keys=True).encode()).hexdigest()
    return PostRecord(wp_id, 0, norm, h, modified, "2025-01-01T00:00:00",
                      f"https://x.org/{wp_id}/", f"T{wp_id}", 1)


def resp(body: bytes = b'[{"id":1}]', status: int = 200) -> RawResponse:
    return RawResponse("https://x.org/wp-json/wp/v2/posts", status, [("Content-Type", "application/json")],
                       body, utcnow())


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in new if old.get(k) != new.get(k))


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(str(tmp_path / "a.db"))


def write(archive: Archive, site_id: int, records: list[PostRecord], baseline: bool = False) -> list[str]:
    out = archive.record_posts(site_id=site_id, round_id=None, type_="posts", response=resp(),
                               records=records, baseline=baseline, compare=diff)
    return [k for _, k in out.changes]


def test_write_rules(archive: Archive) -> None:
    site = archive.site("https://x.org", "x")["id"]
    assert write(archive, site, [rec(1, "a"), rec(2, "b")], baseline=True) == []
    assert write(archive, site, [rec(3, "c")]) == ["new"]
    # the same content again (a touch): nothing stored, no change
    assert write(archive, site, [rec(1, "a", modified="2026-02-01T00:00:00")]) == []
    assert archive.known_posts(site, "posts")[1].modified_gmt == "2026-02-01T00:00:00"
    assert write(archive, site, [rec(1, "a2")]) == ["edited"]
    gone = archive.record_gone(site_id=site, round_id=None, type_="posts", wp_id=2,
                               kind="unpublished", response=resp(b'{"code":"rest_forbidden"}', 401))
    assert [k for _, k in gone.changes] == ["unpublished"]
    # judged again: no second change
    again = archive.record_gone(site_id=site, round_id=None, type_="posts", wp_id=2,
                                kind="unpublished", response=resp(b"{}", 401))
    assert again.changes == []
    assert write(archive, site, [rec(2, "b")]) == ["restored"]
    archive.record_gone(site_id=site, round_id=None, type_="posts", wp_id=3, kind="deleted",
                        response=resp(b'{"code":"rest_post_invalid_id"}', 404))
    rows = archive.changes()
    assert [(r["wp_id"], r["kind"]) for r in rows] == [
        (3, "new"), (1, "edited"), (2, "unpublished"), (2, "restored"), (3, "deleted")
    ]
    assert rows[1]["fields"] == ["text"]
    h = archive.history("https://x.org", "posts", 1)
    assert h is not None and len(h["versions"]) == 2
    assert h["versions"][0]["sha256"] == hashlib.sha256(b'[{"id":1}]').hexdigest()


def test_unknown_gone_post_is_ignored(archive: Archive) -> None:
    site = archive.site("https://x.org")["id"]
    out = archive.record_gone(site_id=site, round_id=None, type_="posts", wp_id=99, kind="deleted",
                              response=resp(b"{}", 404))
    assert out.changes == []


def test_raw_bytes_kept_as_received(archive: Archive) -> None:
    site = archive.site("https://x.org")["id"]
    body = b'\xef\xbb\xbf[{"id":1,"title":"caf\xc3\xa9"}]'
    archive.record_posts(site_id=site, round_id=None, type_="posts", response=resp(body),
                         records=[rec(1, "a")], baseline=True, compare=diff)
    h = archive.history("https://x.org", "posts", 1)
    assert h is not None
    assert h["versions"][0]["sha256"] == hashlib.sha256(body).hexdigest()


def test_stale_running_round_becomes_interrupted(archive: Archive) -> None:
    site = archive.site("https://x.org")["id"]
    rid = archive.start_round(site, full=False)
    assert archive.mark_stale_rounds_interrupted() == 1
    assert archive.round(rid)["outcome"] == "interrupted"


def test_reopen_keeps_schema(tmp_path: Path) -> None:
    a = Archive(str(tmp_path / "a.db"))
    a.site("https://x.org")
    a.close()
    assert Archive(str(tmp_path / "a.db")).find_site("https://x.org") is not None
