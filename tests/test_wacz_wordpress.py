"""WACZ packages of a real WordPress: `wacz validate` (py-wacz's own validator) passes, each
post replays from its own API URL (pretty permalinks and plain ``?rest_route=`` ones), and
one changed byte of a WARC in the package is caught by `wpwatch verify --package`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import WPWatch
from tests.test_export import read_warc
from tests.test_wacz import flip_byte, members, pages_of, rezip, verify_package, wacz_validate
from tests.wordpress import WordPressStack

pytestmark = [pytest.mark.wordpress, pytest.mark.slow]


def test_real_wordpress_package_validates_replays_and_catches_tampering(
    wp_stack: WordPressStack, wpwatch: WPWatch, tmp_path: Path
) -> None:
    pretty = wp_stack.site(wp_stack.port(11))
    plain = wp_stack.site(wp_stack.port(12), permalinks="")
    ids: dict[str, list[int]] = {}
    for site in (pretty, plain):
        site.reset()
        ids[site.url] = [site.create(f"Statement {i}", f"<p>Statement {i}: the Foundation "
                                                       f"calls for action.</p>")["id"]
                         for i in range(3)]
        wpwatch.run("crawl", site.url)
        site.update(ids[site.url][0], title="Statement 0 (corrected)",
                    content="<p>Statement 0: the Foundation welcomes the report.</p>")
        site.delete(ids[site.url][2])
        wpwatch.run("crawl", site.url)

    package = tmp_path / "wordpress.wacz"
    proc = wpwatch.run("export", "--format", "wacz", "--out", str(package))
    assert "of 2 site(s)" in proc.stdout
    wacz_validate(package)
    code, out = verify_package(wpwatch, package)
    assert code == 0, out

    _, pages = pages_of(package)
    by_url = {p["url"]: p for p in pages}
    corrected = by_url[f"{pretty.url}/wp-json/wp/v2/posts/{ids[pretty.url][0]}"]
    assert corrected["title"] == "Statement 0 (corrected)"
    assert f"{plain.url}/index.php?rest_route=/wp/v2/posts/{ids[plain.url][0]}" in by_url, (
        sorted(by_url))

    # each version of the edited post is a record at its API URL, as WordPress sent it there
    versions: dict[str, list[bytes]] = {}
    for name, data in members(package).items():
        if name.endswith("-posts.warc.gz"):
            (tmp_path / "posts.warc.gz").write_bytes(data)
            for rec in read_warc(tmp_path / "posts.warc.gz"):
                versions.setdefault(rec["headers"]["WARC-Target-URI"], []).append(rec["payload"])
    edited = versions[corrected["url"]]
    assert [json.loads(b)["title"]["rendered"] for b in edited] == [
        "Statement 0", "Statement 0 (corrected)"]
    assert edited[1] == wp_stack_get(pretty.url, ids[pretty.url][0])

    tampered = tmp_path / "tampered.wacz"
    rezip(package, tampered, lambda n, d: flip_byte(d) if re.search(
        r"-\d+\.warc\.gz$", n) and str(pretty.port) in n else d)
    code, out = verify_package(wpwatch, tampered)
    assert code == 1
    (problem, summary) = out.splitlines()
    assert re.fullmatch(rf"{re.escape(str(tampered))}: archive/127\.0\.0\.1-{pretty.port}"
                        r"\.warc\.gz does not match its SHA256 in datapackage\.json: the file "
                        r"was changed", problem), problem
    assert summary == f"verify: package {tampered} BROKEN: 1 problem(s)"


def wp_stack_get(site_url: str, wp_id: int) -> bytes:
    """The post's own API URL as WordPress answers it now (the edit above is its last).

    The cut from the listing is byte for byte what WordPress answers at that URL.
    """
    import urllib.request

    with urllib.request.urlopen(f"{site_url}/wp-json/wp/v2/posts/{wp_id}", timeout=30) as resp:
        body: bytes = resp.read()
    return body
