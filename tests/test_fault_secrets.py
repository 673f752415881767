"""Secrets: no log line, report or error ever shows an SMTP password or webhook URL.

With an SMTP password and a Slack webhook URL configured through `env:`, every
command a user runs, verbose included, in good times and bad (SMTP down, the
webhook refusing, a broken site), is captured; so are the round and alert
errors stored in the archive and a rendered report. None holds either secret.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archive import Archive
from archive import schema as s
from tests.conftest import WPWatch
from tests.faultserver import FaultServer
from tests.smtpserver import SMTPServer, email_alert_toml
from tests.test_fault_matrix import fast_settings, make_site  # noqa: F401 (fixture)
from tests.webhookserver import WebhookServer


def test_no_secret_in_any_output(wpwatch: WPWatch, smtp_server: SMTPServer,
                                 webhook_server: WebhookServer, tls_cert: Any, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPWATCH_TEST_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_TEST_SMTP_PASSWORD", SMTPServer.PASSWORD)
    monkeypatch.setenv("WPWATCH_TEST_SLACK_URL", webhook_server.url)
    site = make_site("Secretive")
    outputs: list[str] = []

    def run(*args: str) -> None:
        proc = wpwatch.run(*args, check=False)
        assert "Traceback" not in proc.stderr, proc.stderr
        outputs.append(proc.stdout + proc.stderr)

    with FaultServer(site) as srv:
        wpwatch.config.write_text(f"""
[[sites]]
name = "secretive"
url = "{srv.url}"

{email_alert_toml(smtp_server, tls_cert.cert)}

[[alerts]]
name = "desk-slack"
channel = "slack"
webhook_url = "env:WPWATCH_TEST_SLACK_URL"
""")
        run("-v", "crawl")
        ids = site.ids("post", "publish")
        site.edit(ids[0], title="Edited once")
        smtp_server.stop()
        webhook_server.answer(500, b"server_error")
        run("-v", "crawl")  # both channels fail
        run("-v", "alerts", "pending", "--json")
        run("-v", "status", "--json")
        webhook_server.answer(404, b"no_service")
        run("-v", "alerts", "send", "--now")  # a dead webhook: a permanent error
        run("-v", "alerts", "test")
        run("-v", "alerts", "send", "--dry-run")
        site.edit(ids[1], title="Edited twice")
        srv.fail(re.compile(r"wp/v2/posts/\d"), 503)
        srv.fail(re.compile(r"wp/v2/posts"), 500, count=1)
        run("-v", "crawl")  # a broken site as well
        srv.heal()
        smtp_server.start()
        webhook_server.normal()
        run("-v", "alerts", "send", "--now")
        run("-v", "crawl")
        run("-v", "changes", "--json")
        report = tmp_path / "report"
        run("-v", "report", "--since", "1d", "--out", str(report))
        outputs += [p.read_text(errors="replace") for p in report.rglob("*") if p.is_file()]

    archive = Archive(str(wpwatch.db))
    try:
        with archive.engine.connect() as conn:
            outputs += [str(r) for r in conn.execute(select(s.rounds.c.error))]
            outputs += [str(r) for r in conn.execute(select(s.alerts.c.last_error))]
    finally:
        archive.close()
    everything = "\n".join(outputs)
    assert "failed" in everything and "HTTP 500" in everything  # the bad times were logged
    assert smtp_server.messages, "nothing was delivered in the end"
    for secret in (SMTPServer.PASSWORD, webhook_server.url, WebhookServer.SECRET_PATH,
                   WebhookServer.SECRET_PATH.rsplit("/", 1)[-1]):
        leaks = [line for line in everything.splitlines() if secret in line]
        assert leaks == [], f"{secret!r} leaked: {leaks[:3]}"
