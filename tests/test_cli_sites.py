"""`wpwatch sites add|remove|forget` and `status` against a real WordPress, as a user runs them."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import WPWatch
from tests.test_cli_errors import dead_port, one_line_error
from tests.wordpress import WPSite
from wpwatch.demo.server import DemoServer, load_demo_site

pytestmark = pytest.mark.wordpress


def test_sites_add_checks_the_site(wp_site: WPSite, wpwatch: WPWatch) -> None:
    typo = one_line_error(wpwatch.run("sites", "add", wp_site.url, "--types", "posts,postz",
                                      check=False))
    assert typo.startswith(f'wpwatch: cannot add {wp_site.url}: it has no content type "postz"; '
                           "available: posts, pages"), typo
    assert not wpwatch.config.exists()

    dead = f"http://127.0.0.1:{dead_port()}"
    unreachable = one_line_error(wpwatch.run("sites", "add", dead, check=False))
    assert unreachable.startswith(f"wpwatch: cannot add {dead}: cannot reach the site: "
                                  "connection refused"), unreachable
    assert unreachable.endswith("; check the URL, or add it anyway with --no-check")
    assert not wpwatch.config.exists()

    added = wpwatch.run("sites", "add", wp_site.url + "/", "--name", "local",
                        "--types", "posts,pages")
    assert added.stdout == f"added local ({wp_site.url}) to {wpwatch.config}\n"
    wpwatch.run("sites", "add", dead, "--name", "later", "--no-check")
    assert [(s["name"], s["types"]) for s in wpwatch.json("sites", "list", "--json")] == [
        ("local", ["posts", "pages"]), ("later", [])]


def test_a_site_that_is_not_wordpress_is_named(wpwatch: WPWatch, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html><body>A plain web site</body></html>")
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        try:
            line = one_line_error(wpwatch.run("sites", "add", url, check=False))
        finally:
            httpd.shutdown()
            thread.join()
    assert line.startswith(f"wpwatch: cannot add {url}: not a WordPress site with a public "
                           "REST API"), line
    assert not wpwatch.config.exists()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_remove_keeps_forget_deletes(wp_site: WPSite, wpwatch: WPWatch) -> None:
    post = wp_site.create("Statement", "<p>We stand by it.</p>")["id"]
    wpwatch.run("sites", "add", wp_site.url, "--name", "local")
    wpwatch.run("crawl")
    site = load_demo_site()
    with DemoServer(site, prefix="/en") as server:
        other = server.url_for(site).rstrip("/")
        wpwatch.run("crawl", other)
    assert {s["url"] for s in wpwatch.json("status", "--json")} == {wp_site.url, other}

    still = one_line_error(wpwatch.run("sites", "forget", wp_site.url, "--yes", check=False))
    assert "local is still watched" in still and "wpwatch sites remove local" in still

    removed = wpwatch.run("sites", "remove", "local").stdout
    assert "its archive is kept" in removed
    assert wp_site.url in {s["url"] for s in wpwatch.json("status", "--json")}
    assert wpwatch.json("history", wp_site.url, "posts", str(post), "--json")["versions"]

    refused = one_line_error(wpwatch.run("sites", "forget", wp_site.url, check=False))
    assert "destroys its evidence" in refused and "--yes" in refused
    assert wp_site.url in {s["url"] for s in wpwatch.json("status", "--json")}

    forgot = wpwatch.run("sites", "forget", wp_site.url, "--yes").stdout
    assert forgot.startswith(f"forgot {wp_site.url}: deleted 1 versions")
    assert [s["url"] for s in wpwatch.json("status", "--json")] == [other]
    gone = one_line_error(wpwatch.run("history", wp_site.url, "posts", str(post), check=False))
    assert gone.startswith(f"wpwatch: no site '{wp_site.url}'") and other in gone
    verified = wpwatch.run("verify")  # the other site's chain is whole
    assert "1 site(s), archive intact" in verified.stdout


def test_a_dead_one_off_crawl_does_not_stay_in_status(wp_site: WPSite, wpwatch: WPWatch) -> None:
    wp_site.create("Statement", "<p>Text</p>")
    wpwatch.run("crawl", wp_site.url)
    dead = f"http://127.0.0.1:{dead_port()}"
    proc = wpwatch.run("crawl", dead, check=False)
    assert proc.returncode == 1
    assert [s["url"] for s in wpwatch.json("status", "--json")] == [wp_site.url]
    (asked,) = wpwatch.json("status", dead, "--json")
    assert asked["last_round"]["outcome"] == "failed"
    wpwatch.run("sites", "forget", dead, "--yes")
    assert one_line_error(wpwatch.run("status", dead, check=False)).startswith(
        f"wpwatch: no site '{dead}'")
