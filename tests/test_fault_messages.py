"""What `wpwatch crawl URL` says when a site fails: the fault itself, in one line.

Each fault is played by the fault-injection server (tests/faultserver.py) on
the first round of a site (discovery) and on a site already known to be
WordPress (its stored API root). The crawl exits 1 with exactly one line on
stderr, `wpwatch: URL: <what happened>`; "not a WordPress site" is said only
of a site that answered normally and is not one. A site that never answers
ends the round within its time budget, with a one-line "timed out".
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WPWatch
from tests.faultserver import FaultServer
from tests.test_fault_matrix import API, fast_settings, make_site  # noqa: F401 (fixture)

NOT_ROBOTS = re.compile(r"^/(?!robots\.txt)")  # every request but robots.txt
CHALLENGE = [("cf-mitigated", "challenge"), ("Content-Type", "text/html")]
HTML = [("Content-Type", "text/html")]


def one_error_line(proc: subprocess.CompletedProcess[str], url: str) -> str:
    """The crawl's only stderr line, checked to be `wpwatch: URL: …`."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    prefix = f"wpwatch: {url}: "
    assert lines[0].startswith(prefix), lines
    return lines[0][len(prefix):]


FIRST_ROUND: list[tuple[str, Callable[[FaultServer], Any], str]] = [
    ("500", lambda s: s.fail(NOT_ROBOTS, 500), "HTTP 500 (server error) from / (3 tries)"),
    ("502", lambda s: s.fail(NOT_ROBOTS, 502, "<html>Bad Gateway</html>"),
     "HTTP 502 (server error) from / (3 tries)"),
    ("503", lambda s: s.fail(NOT_ROBOTS, 503), "HTTP 503 (server error) from / (3 tries)"),
    ("429", lambda s: s.fail(NOT_ROBOTS, 429, headers=[("Retry-After", "1")]),
     "HTTP 429 (rate limited) from / (3 tries)"),
    ("challenge", lambda s: s.fail(NOT_ROBOTS, 403, "<html>Just a moment...</html>",
                                   headers=CHALLENGE),
     "Cloudflare challenge (HTTP 403, cf-mitigated: challenge) from /, not the site's answer"),
    ("reset", lambda s: s.reset(NOT_ROBOTS),
     ("cannot reach the site: connection closed mid-response (data lost) while fetching / "
      "(3 tries)")),
    ("truncated-json", lambda s: s.patch(API, truncate=40),
     "truncated or malformed JSON from /wp-json/"),
    ("html-with-200", lambda s: s.fail(API, 200, "<!DOCTYPE html><html>Cached</html>",
                                       headers=HTML),
     "answered an HTML page instead of JSON from /wp-json/"),
]


@pytest.mark.parametrize(("apply", "message"), [f[1:] for f in FIRST_ROUND],
                         ids=[f[0] for f in FIRST_ROUND])
def test_first_round_names_the_fault(wpwatch: WPWatch, apply: Callable[[FaultServer], Any],
                                     message: str) -> None:
    with FaultServer(make_site("Faulty")) as srv:
        apply(srv)
        proc = wpwatch.run("crawl", srv.url, check=False, timeout=120)
    assert one_error_line(proc, srv.url) == message


KNOWN_SITE: list[tuple[str, Callable[[FaultServer], Any], str]] = [
    ("503", lambda s: s.fail(API, 503),
     "HTTP 503 (server error) from /wp-json/wp/v2/types (3 tries)"),
    ("challenge", lambda s: s.fail(API, 403, "<html>Just a moment...</html>", headers=CHALLENGE),
     ("Cloudflare challenge (HTTP 403, cf-mitigated: challenge) from /wp-json/wp/v2/types, "
      "not the site's answer")),
    ("reset", lambda s: s.reset(API),
     "connection closed mid-response (data lost) while fetching /wp-json/wp/v2/types (3 tries)"),
    ("truncated-json", lambda s: s.patch(API, truncate=40),
     "truncated or malformed JSON from /wp-json/wp/v2/types"),
    ("html-with-200", lambda s: s.fail(API, 200, "<!DOCTYPE html><html>Cached</html>",
                                       headers=HTML),
     "answered an HTML page instead of JSON from /wp-json/wp/v2/types"),
]


@pytest.mark.parametrize(("apply", "message"), [f[1:] for f in KNOWN_SITE],
                         ids=[f[0] for f in KNOWN_SITE])
def test_a_known_site_keeps_its_api_root_and_names_the_fault(
    wpwatch: WPWatch, apply: Callable[[FaultServer], Any], message: str
) -> None:
    with FaultServer(make_site("Known")) as srv:
        wpwatch.run("crawl", srv.url)
        before = len(srv.requests)
        apply(srv)
        proc = wpwatch.run("crawl", srv.url, check=False, timeout=120)
        asked = srv.requests[before:]
    assert one_error_line(proc, srv.url) == message
    # the stored root is used: no discovery (home page, ?rest_route=) on a known site
    assert "/" not in asked and not any("rest_route" in r for r in asked), asked


def test_a_plain_site_is_not_wordpress(wpwatch: WPWatch) -> None:
    """A site that answers normally, with no REST API at all."""
    with FaultServer(make_site("Plain")) as srv:
        srv.fail(re.compile(r"^/(?!robots\.txt)(?!$)"), 404, "<html>Not found</html>",
                 headers=HTML)
        srv.fail(re.compile(r"^/$"), 200, "<html><body>Just a page.</body></html>", headers=HTML)
        proc = wpwatch.run("crawl", srv.url, check=False)
    assert one_error_line(proc, srv.url).startswith("not a WordPress site with a public REST API")


@pytest.mark.parametrize("home", ["<html><body>Just a page.</body></html>", "Just some text.\n"],
                         ids=["html-home", "text-home"])
def test_a_static_web_server_is_not_wordpress(wpwatch: WPWatch, tmp_path: Path,
                                              home: str) -> None:
    """A real static server ignores the query string: ?rest_route=/ shows its home page."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text(home)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        proc = wpwatch.run("crawl", url, check=False)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 1
    assert one_error_line(proc, url).startswith("not a WordPress site with a public REST API")


# -- a site that accepts connections and never answers ------------------------------------
def test_a_site_that_never_answers_ends_within_the_round_budget(wpwatch: WPWatch) -> None:
    with FaultServer(make_site("Hung")) as srv:
        srv.hold(re.compile("."))  # robots.txt, the home page, everything
        started = time.monotonic()
        proc = wpwatch.run("crawl", "--round-timeout", "3s", srv.url, check=False, timeout=60)
        took = time.monotonic() - started
    message = one_error_line(proc, srv.url)
    assert message.startswith("timed out: the round's 3 s budget ran out"), message
    assert "round_timeout" in message  # names the fix
    assert took < 3 + 10, took  # the budget, plus the process's own start-up
    (status,) = wpwatch.json("status", srv.url, "--json")
    assert status["last_round"]["outcome"] == "interrupted"


def test_a_timed_out_home_page_ends_discovery(wpwatch: WPWatch,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPWATCH_SETTINGS", "DOWNLOAD_TIMEOUT=1 WPWATCH_RETRY_BASE_DELAY=0.05")
    with FaultServer(make_site("Slow home")) as srv:
        srv.hold(re.compile(r"^/$"))
        proc = wpwatch.run("crawl", srv.url, check=False, timeout=60)
        asked = list(srv.requests)
    assert one_error_line(proc, srv.url) == "cannot reach the site: timed out while fetching /"
    assert asked.count("/") == 1  # a timeout is not retried in discovery ...
    assert not any("wp-json" in r or "rest_route" in r for r in asked), asked  # ... nor followed


def test_the_site_round_timeout_is_the_crawl_budget(wpwatch: WPWatch) -> None:
    with FaultServer(make_site("Hung")) as srv:
        srv.hold(re.compile("wp-json"))
        wpwatch.config.write_text(
            f'[[sites]]\nname = "hung"\nurl = "{srv.url}"\nround_timeout = "2s"\n')
        started = time.monotonic()
        proc = wpwatch.run("crawl", check=False, timeout=60)
        took = time.monotonic() - started
    assert "timed out: the round's 2 s budget ran out while fetching /wp-json/" in proc.stderr
    assert took < 2 + 10, took


# -- configured types that the site does not have ------------------------------------------
def test_unknown_configured_type_fails_the_first_round(wpwatch: WPWatch) -> None:
    site = make_site("Typed")
    site.add("About", "<p>Us</p>", type="page")
    with FaultServer(site) as srv:
        wpwatch.config.write_text(
            f'[[sites]]\nname = "typed"\nurl = "{srv.url}"\ntypes = ["postz", "pages"]\n')
        proc = wpwatch.run("crawl", check=False)
    message = one_error_line(proc, srv.url)
    assert message.startswith('it has no content type "postz"; available: posts, pages'), message
    (status,) = wpwatch.json("status", "--json")
    assert status["last_round"]["outcome"] == "failed"
    assert wpwatch.json("changes", "--json") == []


def test_check_site_returns_the_public_types(wpwatch: WPWatch) -> None:
    """`crawler.runner.check_site` (for `sites add`): discovery alone, nothing written."""
    site = make_site("Checked")
    site.add("About", "<p>Us</p>", type="page")
    script = ("import json, sys; from crawler.runner import check_site; "
              "print(json.dumps([t.rest_base for t in check_site(sys.argv[1], sys.argv[2:])]))")
    with FaultServer(site) as srv:
        ok = _python(script, srv.url)
        assert json.loads(ok.stdout) == ["posts", "pages"]
        bad = _python(script, srv.url, "postz", check=False)
        srv.fail(NOT_ROBOTS, 503)
        down = _python(script, srv.url, check=False)
    assert "ConfigError" in bad.stderr and 'no content type "postz"' in bad.stderr
    assert "HTTPFault" in down.stderr and "HTTP 503 (server error) from /" in down.stderr
    assert not wpwatch.db.exists()


def _python(script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    import os
    import sys

    from tests.conftest import REPO

    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          check=check, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
