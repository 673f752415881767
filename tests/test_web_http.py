"""`wpwatch serve` over HTTP: the real command under uvicorn on 127.0.0.1, a real archive.

Nothing but /login and /static answers without a session or a token; a form POST needs its
CSRF token; a viewer's token cannot POST; wrong passwords are rate-limited; the API's
records are `changes --json` plus the working notes; triage is audited and exported.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from archive import Archive, RawResponse, utcnow
from crawler.pipelines import to_record
from diffs.compare import changed_fields
from tests.test_report_cli import golden, gone, other_post
from tests.test_report_safety import benign_post, hostile_post

REPO = Path(__file__).resolve().parent.parent
SITE = "https://iuhrdf.org/en"
HOSTILE_SITE = "https://hostile.example"
PASSWORD = "correct horse battery"
CONFIG = """
[defaults]
labels = ["substantive-text", "removed-content", "backdated", "taken-down", "links-changed",
          "cosmetic"]

[[sites]]
name = "iuhrdf"
url = "https://iuhrdf.org/en"
weight = 2

[[alerts]]
name = "desk"
channel = "slack"
webhook_url = "http://127.0.0.1:9/hook"
keywords = ["Uyghur"]
"""


def record(archive: Archive, site_id: int, api: str, posts: list[dict[str, Any]], *,
           baseline: bool) -> None:
    """Store one fetched listing through the real write path (as the crawler's pipeline does)."""
    body = json.dumps(posts).encode()
    response = RawResponse(f"{api}?include={','.join(str(p['id']) for p in posts)}", 200,
                           [("Content-Type", "application/json")], body, utcnow())
    archive.record_posts(site_id=site_id, round_id=None, type_="posts", response=response,
                         records=[to_record(i, p) for i, p in enumerate(posts)],
                         baseline=baseline, compare=changed_fields)


def build_archive(path: Path, canary: str) -> dict[str, int]:
    """#1 edited, #2 new, #3 edited, #4 deleted, #5 restored on iuhrdf; on the hostile site
    #6 new (a hostile post) and #7 edited (benign → hostile). Returns named change ids."""
    archive = Archive(str(path))
    api = SITE + "/wp-json/wp/v2/posts"
    site = archive.site(SITE, "iuhrdf")["id"]
    record(archive, site, api, [golden("sentence-softened", "before.json")], baseline=True)
    record(archive, site, api, [golden("sentence-softened", "after.json"), other_post()],
           baseline=False)
    record(archive, site, api, [golden("metadata-moved", "after.json")], baseline=False)
    gone(archive, site, 4600, 404, "rest_post_invalid_id")
    record(archive, site, api, [other_post()], baseline=False)
    bad_site = archive.site(HOSTILE_SITE, "<b>hostile</b>")["id"]
    bad_api = HOSTILE_SITE + "/wp-json/wp/v2/posts"
    record(archive, bad_site, bad_api, [benign_post(wp_id=1)], baseline=True)
    record(archive, bad_site, bad_api, [hostile_post(canary, wp_id=666)], baseline=False)
    record(archive, bad_site, bad_api, [hostile_post(canary, wp_id=1)], baseline=False)
    archive.close()
    return {"edited": 1, "new": 2, "deleted": 4, "hostile_new": 6, "hostile_edited": 7}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    db: Path
    config: Path
    process: subprocess.Popen[str]

    def cli(self, *args: str, env: dict[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "wpwatch", "--db", str(self.db), "--config", str(self.config),
             *args], check=False, capture_output=True, text=True,
            env={**os.environ, **(env or {})},
            timeout=120, stdin=subprocess.DEVNULL)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def add_user(self, name: str, role: str) -> None:
        self.cli("users", "add", name, "--role", role, "--password-env", "WPW_TEST_PASSWORD",
                 env={"WPW_TEST_PASSWORD": PASSWORD})

    def token(self, name: str) -> str:
        return self.cli("users", "token", name).stdout.strip()

    def login(self, name: str, password: str = PASSWORD) -> requests.Session:
        session = requests.Session()
        form = session.get(self.url + "/login", timeout=10)
        response = session.post(self.url + "/login", data={
            "name": name, "password": password, "csrf": csrf_of(form.text), "next": "/"},
            allow_redirects=False, timeout=30)
        assert response.status_code == 303, response.text
        return session


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def start_server(db: Path, config: Path) -> Server:
    """`wpwatch serve` on a free loopback port; returns once it answers HTTP."""
    port = free_port()
    log = db.with_suffix(".serve.log")
    with log.open("w", encoding="utf-8") as err:  # a file, so a chatty server never blocks
        process = subprocess.Popen(
            [sys.executable, "-m", "wpwatch", "--db", str(db), "--config", str(config), "serve",
             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=err, text=True,
            stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"wpwatch serve exited: {log.read_text(encoding='utf-8')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.1)  # wait for the process itself, not a fixed time
    else:
        process.kill()
        raise AssertionError("wpwatch serve did not answer within 60 s")
    return Server(url, db, config, process)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=20)
    errors = server.db.with_suffix(".serve.log").read_text(encoding="utf-8")
    assert "Traceback" not in errors, errors


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    where = tmp_path_factory.mktemp("web")
    db, config = where / "wpwatch.db", where / "wpwatch.toml"
    config.write_text(CONFIG, encoding="utf-8")
    build_archive(db, "http://127.0.0.1:9")
    running = start_server(db, config)
    running.add_user("admin", "admin")
    running.add_user("rita", "reviewer")
    running.add_user("vic", "viewer")
    try:
        yield running
    finally:
        stop_server(running)


PAGES = ["/", "/changes/1", "/posts/1/posts/4546", "/posts/1/posts/4546/compare?from=1&to=2",
         "/sites", "/responses/1/raw"]
API = ["/api/changes", "/api/changes/1", "/api/sites"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_redirects_to_login_without_a_session(server: Server, path: str) -> None:
    response = requests.get(server.url + path, allow_redirects=False, timeout=10)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("path", API)
def test_every_api_route_is_401_without_a_token(server: Server, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wpw_not-a-token"}, {"Authorization": "Basic x"}):
        response = requests.get(server.url + path, headers=headers, timeout=10)
        assert response.status_code == 401
        assert "error" in response.json()


@pytest.mark.parametrize("path", ["/changes/1/triage", "/api/changes/1/triage", "/logout"])
def test_every_post_route_refuses_without_a_session(server: Server, path: str) -> None:
    response = requests.post(server.url + path, data={"state": "seen"}, allow_redirects=False,
                             timeout=10)
    assert response.status_code == 401


def test_every_route_is_guarded_by_the_one_permission_check() -> None:
    from web.app import OPEN_ROUTES, ROUTES

    for route in ROUTES:
        if route.path in OPEN_ROUTES:
            continue
        assert getattr(route.endpoint, "required_role", None) in ("viewer", "reviewer"), route.path


def test_login_page_and_static_are_open_and_carry_the_csp(server: Server) -> None:
    page = requests.get(server.url + "/login", timeout=10)
    assert page.status_code == 200 and 'name="password"' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'none'" in csp and "default-src 'none'" in csp
    assert "form-action 'self'" in csp and "frame-ancestors 'none'" in csp
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert requests.get(server.url + "/static/report.css", timeout=10).status_code == 200


def test_a_form_post_without_its_csrf_token_is_403(server: Server) -> None:
    session = server.login("rita")
    response = session.post(server.url + "/changes/1/triage", data={"state": "seen"},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 403
    wrong = session.post(server.url + "/changes/1/triage",
                         data={"state": "seen", "csrf": "forged"}, allow_redirects=False,
                         timeout=10)
    assert wrong.status_code == 403
    assert session.get(server.url + "/api/changes/1", timeout=10).json()["state"] == "new"


def test_a_login_post_without_csrf_is_refused(server: Server) -> None:
    response = requests.post(server.url + "/login", data={"name": "rita", "password": PASSWORD},
                             allow_redirects=False, timeout=30)
    assert response.status_code == 403


def test_a_viewer_token_cannot_post_and_a_viewer_session_cannot_triage(server: Server) -> None:
    token = server.token("vic")
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(server.url + "/api/changes", headers=headers, timeout=10).ok
    response = requests.post(server.url + "/api/changes/1/triage", json={"state": "seen"},
                             headers=headers, timeout=10)
    assert response.status_code == 403 and "viewer" in response.json()["error"]
    session = server.login("vic")
    page = session.get(server.url + "/changes/1", timeout=10)
    assert page.ok and 'id="triage-form"' not in page.text
    form = session.post(server.url + "/changes/1/triage",
                        data={"state": "seen", "csrf": csrf_of(page.text)},
                        allow_redirects=False, timeout=10)
    assert form.status_code == 403


def test_wrong_passwords_are_rate_limited(server: Server) -> None:
    server.add_user("target", "viewer")
    session = requests.Session()
    codes = []
    for _ in range(7):
        csrf = csrf_of(session.get(server.url + "/login", timeout=10).text)
        codes.append(session.post(server.url + "/login", allow_redirects=False, timeout=30,
                                  data={"name": "target", "password": "wrong", "csrf": csrf})
                     .status_code)
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    csrf = csrf_of(session.get(server.url + "/login", timeout=10).text)
    right = session.post(server.url + "/login", allow_redirects=False, timeout=30,
                         data={"name": "target", "password": PASSWORD, "csrf": csrf})
    assert right.status_code == 429 and int(right.headers["retry-after"]) > 0


def test_api_records_are_the_changes_contract_plus_working_notes(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.token('admin')}"}
    data = requests.get(server.url + "/api/changes?site=1&sort=priority", headers=headers,
                        timeout=10).json()
    contract = json.loads(server.cli("changes", "--json", "--site", "iuhrdf").stdout)
    assert data["total"] == len(contract) == 5
    by_id = {r["id"]: r for r in data["changes"]}
    for row in contract:
        assert {k: by_id[row["id"]][k] for k in row} == row
        assert {"state", "labels", "priority", "notes"} <= set(by_id[row["id"]])
    priorities = [r["priority"] for r in data["changes"]]
    assert priorities == sorted(priorities, reverse=True)
    # weight 2, deleted (1) → 2.0 at least; the Uyghur keyword adds to the edited one
    assert by_id[4]["priority"] >= 2.0
    assert data["counts"]["kind"] == {"edited": 2, "new": 1, "deleted": 1, "restored": 1}
    only = requests.get(server.url + "/api/changes?kind=deleted", headers=headers,
                        timeout=10).json()
    assert [r["id"] for r in only["changes"]] == [4]
    bad = requests.get(server.url + "/api/changes?kind=nope", headers=headers, timeout=10)
    assert bad.status_code == 400 and "kind must be one of" in bad.json()["error"]
    sites = requests.get(server.url + "/api/sites", headers=headers, timeout=10).json()
    assert {s["url"] for s in sites} >= {SITE}


def test_triage_by_api_is_audited_searchable_and_exported(server: Server, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {server.token('rita')}"}
    url = server.url + "/api/changes/1/triage"
    bad = requests.post(url, json={"labels": ["made-up"]}, headers=headers, timeout=10)
    assert bad.status_code == 400 and "made-up" in bad.json()["error"]
    done = requests.post(url, headers=headers, timeout=10, json={
        "state": "important", "labels": ["substantive-text"], "note": "softened <b>demand</b>"})
    assert done.status_code == 200, done.text
    record = done.json()
    assert record["state"] == "important" and record["labels"] == ["substantive-text"]
    assert record["notes"][0]["body"] == "softened <b>demand</b>"
    assert [a["action"] for a in record["audit"]] == ["state", "labels", "note"]
    assert all(a["actor"] == "rita" for a in record["audit"])
    listed = requests.get(server.url + "/api/changes?state=important&label=substantive-text",
                          headers=headers, timeout=10).json()
    assert [r["id"] for r in listed["changes"]] == [1]
    out = tmp_path / "site.jsonl"
    server.cli("export", "--site", SITE, "--format", "jsonl", "--out", str(out))
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    notes = [x for x in lines if x["record"] == "annotation"]
    assert [n["change_id"] for n in notes] == [1]
    assert notes[0]["state"] == "important" and len(notes[0]["audit"]) == 3
    assert all("chain" in x for x in lines if x["record"] != "annotation")
    server.cli("verify")  # working notes are not part of the evidence chain


def test_users_commands(server: Server) -> None:
    listed = json.loads(server.cli("users", "list", "--json").stdout)
    assert {u["name"]: u["role"] for u in listed}["vic"] == "viewer"
    assert "PASSWORD" not in server.cli("users", "list").stdout
    server.add_user("gone", "reviewer")
    token = server.token("gone")
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(server.url + "/api/sites", headers=headers, timeout=10).ok
    server.cli("users", "remove", "gone")
    assert requests.get(server.url + "/api/sites", headers=headers, timeout=10).status_code == 401
    again = server.cli("users", "add", "vic", "--role", "admin", "--password-env", "WPW_X",
                       env={"WPW_X": PASSWORD}, check=False)
    assert again.returncode == 2 and "exists already" in again.stderr
    with server.db.open("rb") as fh:
        assert PASSWORD.encode() not in fh.read()
