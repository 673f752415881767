"""Alert channels against real servers: aiosmtpd (STARTTLS + AUTH, implicit TLS, plain) and a
local HTTP server standing in for a Slack webhook. What arrived is parsed and checked."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
import requests

from alerts.channels import channel_from_config
from alerts.exceptions import ConfigError, DeliveryError
from alerts.message import AlertItem, Message, subject, test_message, text_body
from alerts.slack_message import slack_payload
from tests.smtpserver import SMTPServer  # fixtures come from conftest's pytest_plugins
from tests.webhookserver import WebhookServer, block_kit_problems

HOSTILE_TITLE = (
    "Statement\r\nBcc: victim@evil.example\r\nX-Injected: yes <!channel> <@U123> "
    "<https://evil.example|click> *URGENT* _now_ ~gone~ `code` @here <script>alert(1)</script>"
    "\x1b[31m\x1b]0;owned\x07"
)


def item(n: int = 1, **changes: Any) -> AlertItem:
    base = AlertItem(
        change_id=n,
        site="https://ministry.example.org",
        site_name="Ministry of Examples",
        kind="edited",
        type="posts",
        wp_id=4546 + n,
        title="Statement on the harbour",
        url=f"https://ministry.example.org/2026/11/statement-{n}/",
        detected_at="2026-11-27T22:17:27+00:00",
        fields=("content", "terms:categories"),
        summary="9 words replaced by 5 in paragraph 1; category 'Statements' removed",
        removed=("the government will publish the full report before the end of the year",),
        added=("the report will follow",),
        diff_text=(
            "EDITED: Statement on the harbour\n\n  Paragraph 1  We confirm that "
            "[-the government will publish the full report before the end of the year-]"
            "{+the report will follow+}.\n\n  Categories  removed: Statements\n"
        ),
        report_url=f"https://reports.example.org/changes/{n}.html",
        keywords=("report",),
    )
    return AlertItem(**{**base.__dict__, **changes})


def immediate(*items: AlertItem, channel: str = "desk") -> Message:
    return Message(channel=channel, digest="immediate", items=items)


def email_entry(server: SMTPServer, **extra: Any) -> dict[str, Any]:
    return {
        "name": "desk-email",
        "channel": "email",
        "to": ["desk@example.org", "editor@example.org"],
        "from": "wpwatch@example.org",
        "smtp_host": server.host,
        "smtp_port": server.port,
        "security": "starttls",
        "username": "env:WPWATCH_SMTP_USER",
        "password": "env:WPWATCH_SMTP_PASSWORD",
        "timeout": "10s",
        # routing keys: accepted here, read by the rules
        "sites": ["*"],
        "kinds": ["edited", "deleted"],
        "keywords": ["report"],
        "digest": "immediate",
        "digest_at": "08:00",
        **extra,
    }


@pytest.fixture
def smtp_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPWATCH_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_SMTP_PASSWORD", SMTPServer.PASSWORD)


def rewrite(words: int = 20_000) -> AlertItem:
    """A whole post rewritten: every word replaced, with characters Slack must escape."""
    old = " ".join(f"old{i} & <b>" if i % 50 == 0 else f"old{i}" for i in range(words // 2))
    new = " ".join(f"new{i} *bold*" if i % 40 == 0 else f"new{i}" for i in range(words // 2))
    return item(
        title="A " + "very long title " * 30,
        summary=f"text rewritten ({words // 2:,} words removed, {words // 2:,} added) " * 20,
        removed=(old[:5000], old[5000:9000]),
        added=(new[:5000],),
        diff_text=f"  Paragraph 1  [-{old}-]{{+{new}+}}\n" + "  line of context\n" * 200,
    )


# -- email ---------------------------------------------------------------------------------------
def test_email_starttls_auth_multipart(smtp_server: SMTPServer, smtp_env: None) -> None:
    channel = channel_from_config(email_entry(smtp_server, ca_file=str(smtp_server.cert.cert)))
    channel.send(immediate(item(title=HOSTILE_TITLE)))

    got = smtp_server.wait_message()
    assert got.tls and got.login == SMTPServer.USER
    assert got.mail_from == "wpwatch@example.org"
    assert got.rcpt_tos == ("desk@example.org", "editor@example.org")  # no injected Bcc
    mail = got.message()
    assert mail["From"] == "wpwatch@example.org"
    assert mail["To"] == "desk@example.org, editor@example.org"
    assert mail["Subject"].startswith(
        "[wpwatch] edited: Ministry of Examples — Statement Bcc: victim@evil.example X-Injected"
    )
    assert mail["Bcc"] is None and mail["X-Injected"] is None
    assert "\x1b" not in mail["Subject"]
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()

    for part in (text, html):
        assert "Ministry of Examples" in part
        assert (
            "9 words replaced by 5 in paragraph 1; category &#39;Statements&#39; removed" in part
            or "9 words replaced by 5 in paragraph 1; category 'Statements' removed" in part
        )
        assert "the government will publish the full report" in part
        assert "the report will follow" in part
        assert "https://reports.example.org/changes/1.html" in part
        assert "\x1b" not in part and "\x07" not in part
    assert text.startswith("edited: Ministry of Examples — Statement Bcc:")
    assert "[-the government will publish" in text  # the diff excerpt
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<a href="https://reports.example.org/changes/1.html">' in html


def test_email_wrong_password_names_host_and_variable(
    smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WPWATCH_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_SMTP_PASSWORD", "wrong-Passw0rd-77")
    channel = channel_from_config(email_entry(smtp_server, ca_file=str(smtp_server.cert.cert)))
    with pytest.raises(DeliveryError) as err:
        channel.send(immediate(item()))
    reason = str(err.value)
    assert reason.startswith("SMTP login failed for alerts.desk-email (host 127.0.0.1)")
    assert "WPWATCH_SMTP_PASSWORD" in reason
    assert "wrong-Passw0rd-77" not in reason and SMTPServer.PASSWORD not in reason
    assert "\n" not in reason and err.value.permanent
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert smtp_server.messages == []


def test_email_server_down_then_back(smtp_server: SMTPServer, smtp_env: None) -> None:
    channel = channel_from_config(email_entry(smtp_server, ca_file=str(smtp_server.cert.cert)))
    smtp_server.stop()
    with pytest.raises(DeliveryError, match="connection refused") as err:
        channel.send(immediate(item()))
    assert f"127.0.0.1:{smtp_server.port}" in str(err.value)
    assert not err.value.permanent

    smtp_server.start()  # the outage ends: the same channel delivers
    channel.send(immediate(item()))
    assert smtp_server.wait_message().message()["Subject"].startswith("[wpwatch] edited:")


def test_email_untrusted_certificate(smtp_server: SMTPServer, smtp_env: None) -> None:
    channel = channel_from_config(email_entry(smtp_server))  # no ca_file: self-signed refused
    with pytest.raises(DeliveryError, match="not trusted") as err:
        channel.send(immediate(item()))
    assert "ca_file" in str(err.value) and err.value.permanent


def test_email_implicit_tls(smtp_ssl_server: SMTPServer, smtp_env: None) -> None:
    entry = email_entry(smtp_ssl_server, security="ssl", ca_file=str(smtp_ssl_server.cert.cert))
    channel_from_config(entry).send(immediate(item()))
    got = smtp_ssl_server.wait_message()
    assert got.tls and got.login == SMTPServer.USER


def test_email_plain_server(smtp_plain_server: SMTPServer) -> None:
    entry = email_entry(smtp_plain_server, security="none")
    del entry["username"], entry["password"]
    channel_from_config(entry).send(
        Message("desk", "daily", (item(1), item(2), item(3, site="https://other.example")))
    )
    mail = smtp_plain_server.wait_message().message()
    assert mail["Subject"] == "[wpwatch] 3 changes on 2 sites (daily digest)"
    text = mail.get_body(("plain",)).get_content()
    assert text.count("edited: ") == 3 and "https://reports.example.org/changes/3.html" in text

    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        channel_from_config({**entry, "security": "starttls"}).send(immediate(item()))


# -- Slack ---------------------------------------------------------------------------------------
def slack(server: WebhookServer, **extra: Any) -> Any:
    return channel_from_config(
        {"name": "desk-slack", "channel": "slack", "webhook_url": "env:SLACK_WEBHOOK_URL",
         "digest": "round", **extra}
    )


@pytest.fixture
def slack_env(monkeypatch: pytest.MonkeyPatch, webhook_server: WebhookServer) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", webhook_server.url)


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    out = []
    for block in payload["blocks"]:
        if block["type"] == "section":
            out.append(block["text"]["text"])
        elif block["type"] == "context":
            out.extend(e["text"] for e in block["elements"])
    return out


def test_slack_escapes_site_text(webhook_server: WebhookServer, slack_env: None) -> None:
    session = requests.Session()
    session.headers["User-Agent"] = "wpwatch-test"
    with session:
        channel_from_config(
            {"name": "desk-slack", "channel": "slack", "webhook_url": webhook_server.url},
            session=session,
        ).send(immediate(item(title=HOSTILE_TITLE, url="javascript:alert(1)")))
    post = webhook_server.wait_post()
    assert post.path == WebhookServer.SECRET_PATH
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["User-Agent"] == "wpwatch-test"  # the session passed in was used
    payload = post.json()
    assert block_kit_problems(payload) == []
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False

    raw = post.body.decode()
    for ping in (
        "<!channel>",
        "<@U123>",
        "<https://evil.example|click>",
        "<script>",
        "javascript:",
    ):
        assert ping not in raw
    header = payload["blocks"][0]
    assert header["type"] == "header"
    assert (
        "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt;"
        in header["text"]["text"]
    )
    lines = [line for t in mrkdwn_texts(payload) for line in t.splitlines()]
    post_line = next(line for line in lines if line.startswith("*Post:*"))
    assert "&lt;!channel&gt;" in post_line and "*URGENT*" not in post_line
    assert "_now_" not in post_line and "~gone~" not in post_line and "`" not in post_line
    assert "@here" not in post_line  # broken by a word joiner
    assert "\x1b" not in raw and "\\u001b" not in raw
    assert "&lt;!channel&gt;" in payload["text"] and "<" not in payload["text"]


def test_slack_20000_word_rewrite_fits(webhook_server: WebhookServer, slack_env: None) -> None:
    slack(webhook_server).send(immediate(rewrite(20_000)))
    post = webhook_server.wait_post()
    payload = post.json()
    assert block_kit_problems(payload) == []  # and the server answered 200, not invalid_blocks
    assert len(payload["blocks"]) <= 50
    assert len(payload["blocks"][0]["text"]["text"]) <= 150
    assert all(len(t) <= 3000 for t in mrkdwn_texts(payload))
    note = payload["blocks"][-2]["elements"][0]["text"]
    assert note.startswith("… ") and "more words" in note
    assert "<https://reports.example.org/changes/1.html|full diff>" in note
    diff = [t for t in mrkdwn_texts(payload) if t.startswith("```")]
    assert diff and all(t.endswith("```") for t in diff)
    assert "old0 &amp; &lt;b&gt;" in diff[0]


def test_slack_200_change_digest_fits(webhook_server: WebhookServer, slack_env: None) -> None:
    items = tuple(item(n, site=f"https://site{n % 7}.example") for n in range(1, 201))
    slack(webhook_server).send(Message("desk-slack", "round", items))
    payload = webhook_server.wait_post().json()
    assert block_kit_problems(payload) == []
    assert len(payload["blocks"]) == 50
    assert payload["blocks"][0]["text"]["text"] == "200 changes on 7 sites (round digest)"
    sections = [b for b in payload["blocks"] if b["type"] == "section"]
    assert len(sections) == 47
    assert payload["blocks"][-2]["elements"][0]["text"] == "… and 153 more changes"


def test_slack_errors_never_show_the_webhook(
    webhook_server: WebhookServer, slack_env: None
) -> None:
    channel = slack(webhook_server)
    secrets = (webhook_server.url, WebhookServer.SECRET_PATH, "sEcReTtOkEn1234567890")

    webhook_server.answer(500, b"internal_error")
    with pytest.raises(DeliveryError) as err:
        channel.send(immediate(item()))
    assert "HTTP 500 internal_error" in str(err.value) and err.value.retry_after is None
    assert "(host 127.0.0.1)" in str(err.value)

    webhook_server.answer(429, b"rate_limited", {"Retry-After": "30"})
    with pytest.raises(DeliveryError) as err429:
        channel.send(immediate(item()))
    assert err429.value.retry_after == 30.0 and "retry after 30s" in str(err429.value)

    webhook_server.answer(404, b"no_service")
    with pytest.raises(DeliveryError) as err404:
        channel.send(immediate(item()))
    assert "SLACK_WEBHOOK_URL" in str(err404.value) and err404.value.permanent

    webhook_server.stop()
    with pytest.raises(DeliveryError, match="connection refused") as down:
        channel.send(immediate(item()))

    for e in (err, err429, err404, down):
        assert not any(s in str(e.value) for s in secrets)
        assert e.value.__cause__ is None  # no chained exception that could show the URL
        assert e.value.__context__ is None or e.value.__suppress_context__
    assert not any(s in channel.describe() for s in secrets[1:])


# -- Apprise -------------------------------------------------------------------------------------
def test_apprise_json_webhook(
    webhook_server: WebhookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = f"json://127.0.0.1:{webhook_server.port}/hook/sEcReTtOkEn1234567890"
    monkeypatch.setenv("WPWATCH_APPRISE_URL", target)
    channel = channel_from_config(
        {"name": "desk-ntfy", "channel": "apprise", "url": "env:WPWATCH_APPRISE_URL"}
    )
    webhook_server.answer(200, b"ok")
    channel.send(immediate(item()))
    body = webhook_server.wait_post().json()
    assert body["title"] == subject(immediate(item()))
    assert body["message"].startswith("edited: Ministry of Examples — Statement on the harbour")
    assert len(body["message"]) <= 4000

    webhook_server.answer(500, b"no")
    with pytest.raises(DeliveryError) as err:
        channel.send(immediate(item()))
    assert "alerts.desk-ntfy" in str(err.value) and "sEcReT" not in str(err.value)
    assert "sEcReT" not in channel.describe() and "$WPWATCH_APPRISE_URL" in channel.describe()


def test_apprise_refuses_unknown_url_and_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="does not understand") as err:
        channel_from_config({"name": "x", "channel": "apprise", "url": "nope://sEcReT@host"})
    assert "sEcReT" not in str(err.value)
    monkeypatch.setitem(sys.modules, "apprise", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"wpwatch\[apprise\]"):
        channel_from_config({"name": "x", "channel": "apprise", "url": "json://localhost"})


# -- config --------------------------------------------------------------------------------------
def test_unknown_key_refused_with_supported_list(smtp_env: None) -> None:
    entry = {**email_entry(SMTPServer(mode="plain")), "smtp_pasword": "x"}
    with pytest.raises(ConfigError) as err:
        channel_from_config(entry)
    reason = str(err.value)
    assert reason.startswith('alerts.desk-email: unknown key(s) smtp_pasword for channel "email"')
    assert "supported: ca_file, from, max_chars, password, security, smtp_host" in reason


def test_missing_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    with pytest.raises(ConfigError) as err:
        channel_from_config(
            {"name": "desk-slack", "channel": "slack", "webhook_url": "env:SLACK_WEBHOOK_URL"}
        )
    assert str(err.value) == (
        "alerts.desk-slack.webhook_url refers to environment variable SLACK_WEBHOOK_URL, "
        "which is not set"
    )


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"name": "a", "channel": "sms"},
         "alerts.a: unknown channel 'sms'; supported: \"apprise\", \"email\", \"slack\""),
        ({"name": "a", "channel": "slack"},
         "alerts.a: missing webhook_url (the incoming webhook URL, best as env:NAME)"),
        ({"name": "a", "channel": "slack", "webhook_url": "ftp://sEcReT"},
         "alerts.a: webhook_url must be an http(s) URL"),
        ({"name": "a", "channel": "email", "to": "x@example.org", "from": "y@example.org",
          "smtp_host": "h", "security": "tls"},
         'alerts.a: security must be one of "starttls", "ssl", "none" (got \'tls\')'),
        ({"name": "a", "channel": "email", "to": ["x@example.org"], "from": "y@example.org",
          "smtp_host": "h", "security": "none", "username": "u", "password": "p"},
         ('alerts.a: refusing to send the SMTP password unencrypted (security = "none"); use '
          'security = "starttls" or "ssl"')),
        ({"channel": "slack"}, 'each [[alerts]] table needs a name, e.g. name = "desk-email"'),
    ],
    ids=["unknown-channel", "missing-key", "bad-url", "bad-choice", "clear-password", "no-name"],
)
def test_config_errors(entry: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        channel_from_config(entry)
    assert str(err.value) == expected


def test_describe_redacts(smtp_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    email = channel_from_config(email_entry(SMTPServer(mode="plain")))
    assert SMTPServer.PASSWORD not in email.describe()
    assert "login $WPWATCH_SMTP_USER / $WPWATCH_SMTP_PASSWORD" in email.describe()
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T1/B2/xyzSECRET")
    described = channel_from_config(
        {"name": "s", "channel": "slack", "webhook_url": "env:SLACK_WEBHOOK_URL"}
    ).describe()
    assert described == (
        "slack alerts.s: POST Block Kit to https://hooks.slack.com/*** (from $SLACK_WEBHOOK_URL)"
    )


# -- formatting ----------------------------------------------------------------------------------
def test_text_body_limit_and_control_characters() -> None:
    body = text_body(immediate(rewrite(20_000)), limit=4000)
    assert len(body) <= 4000
    assert "more words; full diff: https://reports.example.org/changes/1.html" in body
    hostile = text_body(immediate(item(title=HOSTILE_TITLE, summary="a\x1b[2Jb\x9bc")))
    assert "\x1b" not in hostile and "\x07" not in hostile and "\x9b" not in hostile
    assert "\r" not in subject(immediate(item(title=HOSTILE_TITLE)))


def test_test_message_is_marked() -> None:
    msg = test_message("desk-slack")
    assert subject(msg) == "[wpwatch] test message"
    assert text_body(msg).startswith("This is a test message from wpwatch (channel desk-slack)")
    assert block_kit_problems(slack_payload(msg)) == []
    assert json.dumps(slack_payload(msg)).count("test message") >= 2
