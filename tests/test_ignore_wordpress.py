"""Ignore rules against a real WordPress, with alerts to a real SMTP server.

A Jetpack-like sharing block and a view counter that move between rounds are noise:
archived and chained, never alerted, hidden from `changes` and the report unless
`--all`. A real paragraph edit in the same round is `edited`, naming only `content`.
A rule added later and `wpwatch rescore` turn the earlier counter changes into noise
from the raw answers kept, with no new version and `wpwatch verify` still passing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WPWatch
from tests.smtpserver import SMTPServer, email_alert_toml
from tests.wordpress import WPSite

pytestmark = [pytest.mark.wordpress]

SHARING = (
    '<div class="sharedaddy sd-sharing-enabled"><div class="robots-nocontent sd-block">'
    '<h3 class="sd-title">{heading}</h3><ul>'
    '<li><a class="share-twitter" href="https://twitter.com/share?url=x&amp;n={n}">X</a></li>'
    '<li><a class="share-facebook" href="https://www.facebook.com/sharer.php?n={n}">'
    "Facebook</a></li></ul></div></div>"
)
RULES = "selectors = [\".sharedaddy\"]\npatterns = ['Views: \\d+']\n"


def body(paragraph: str, views: int, n: int, heading: str = "Share this:") -> str:
    return (
        f"<p>{paragraph}</p>\n<p class=\"post-views\">Views: {views}</p>\n"
        + SHARING.format(heading=heading, n=n)
    )


def write_config(ww: WPWatch, site: WPSite, smtp: SMTPServer, ca_file: Path, rules: str) -> None:
    ignore = f"[sites.ignore]\n{rules}" if rules else ""
    ww.config.write_text(
        f'[[sites]]\nname = "ministry"\nurl = "{site.url}"\ntypes = ["posts"]\n{ignore}'
        + email_alert_toml(smtp, ca_file),
        encoding="utf-8",
    )


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPWATCH_TEST_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_TEST_SMTP_PASSWORD", SMTPServer.PASSWORD)


def versions(ww: WPWatch, wp_id: int) -> int:
    return len(ww.json("history", "ministry", "posts", str(wp_id), "--json")["versions"])


def test_sharing_block_and_counter_are_noise_a_paragraph_edit_is_not(
    wp_site: WPSite, wpwatch: WPWatch, smtp_server: SMTPServer, tls_cert: Any
) -> None:
    write_config(wpwatch, wp_site, smtp_server, tls_cert.cert, RULES)
    quiet = wp_site.create("Statement on the inquiry", body("We welcome the inquiry.", 12, 1))
    edited = wp_site.create("Statement on the budget", body("The budget is fair.", 40, 1))
    wpwatch.run("crawl")  # baseline: nothing to alert
    assert smtp_server.messages == []

    # Round 2: the counter and the sharing block move on both posts; only one is edited.
    wp_site.update(quiet["id"], content=body("We welcome the inquiry.", 13, 2, "Share:"))
    wp_site.update(edited["id"], content=body("The budget is unfair.", 41, 2, "Share:"))
    out = wpwatch.run("crawl").stdout
    assert "alerts: 1 message(s) sent" in out, out

    mail = smtp_server.wait_message().message()
    assert "Statement on the budget" in mail["Subject"]
    (shown,) = wpwatch.json("changes", "--json")
    assert (shown["wp_id"], shown["kind"], shown["fields"]) == (edited["id"], "edited", ["content"])
    assert shown["verdict"] == "change" and set(shown["ignored"]) == {"links"}
    every = {c["wp_id"]: c for c in wpwatch.json("changes", "--all", "--json")}
    noise = every[quiet["id"]]
    assert (noise["kind"], noise["verdict"]) == ("edited", "noise")
    assert noise["noise_rules"] == ["selector .sharedaddy", "pattern Views: \\d+"]
    assert noise["ruleset"] == shown["ruleset"] and len(noise["ruleset"]) == 64
    text = wpwatch.run("changes", "--all").stdout
    assert "noise: selector .sharedaddy; pattern Views: \\d+" in text
    # The evidence is all there: both new versions archived and chained.
    assert versions(wpwatch, quiet["id"]) == 2 and versions(wpwatch, edited["id"]) == 2
    assert wpwatch.run("verify").returncode == 0

    report_dir = wpwatch.db.parent / "report"
    wpwatch.run("report", "--out", str(report_dir))
    assert sorted(p.name for p in (report_dir / "changes").iterdir()) == [f"{shown['id']}.html"]
    wpwatch.run("report", "--all", "--out", str(report_dir))
    assert len(list((report_dir / "changes").iterdir())) == 2
    assert len(smtp_server.messages) == 1  # the noise change was never alerted


def test_a_rule_added_later_rescores_the_past_without_touching_the_evidence(
    wp_site: WPSite, wpwatch: WPWatch, smtp_server: SMTPServer, tls_cert: Any
) -> None:
    write_config(wpwatch, wp_site, smtp_server, tls_cert.cert, "")
    post = wp_site.create("Statement on water", body("Water is a right.", 7, 1))
    wpwatch.run("crawl")
    for views in (8, 9):  # two rounds in which only the counter moved
        wp_site.update(post["id"], content=body("Water is a right.", views, 1))
        wpwatch.run("crawl")
        smtp_server.wait_message()  # without rules, each is news
    before = wpwatch.json("changes", "--json")
    assert [(c["kind"], c["fields"], c["verdict"]) for c in before] == [
        ("edited", ["content"], "change")
    ] * 2
    head_before = wpwatch.run("verify").stdout
    count = versions(wpwatch, post["id"])

    write_config(wpwatch, wp_site, smtp_server, tls_cert.cert, "patterns = ['Views: \\d+']\n")
    out = wpwatch.run("rescore", "--site", "ministry").stdout
    for c in before:
        assert f"#{c['id']}  change → noise by pattern Views: \\d+" in out, out
    assert "rescored 2 change(s): 2 became noise, 0 became changes again" in out
    assert wpwatch.json("changes", "--json") == []
    assert [c["verdict"] for c in wpwatch.json("changes", "--all", "--json")] == ["noise"] * 2
    assert versions(wpwatch, post["id"]) == count
    assert wpwatch.run("verify").stdout == head_before  # the chain did not move

    # The new rule applies from the next round, with no wave of false edits.
    wpwatch.run("crawl", "--full")
    assert len(wpwatch.json("changes", "--all", "--json")) == 2
    wp_site.update(post["id"], content=body("Water is a right.", 10, 1))
    wpwatch.run("crawl")
    latest = wpwatch.json("changes", "--all", "--json")[-1]
    assert (latest["verdict"], latest["noise_rules"]) == ("noise", ["pattern Views: \\d+"])

    # Back without the rule: rescore moves them back, still from the same bytes.
    write_config(wpwatch, wp_site, smtp_server, tls_cert.cert, "")
    out = wpwatch.run("rescore").stdout
    assert "rescored 3 change(s): 0 became noise, 3 became changes again" in out
    assert len(wpwatch.json("changes", "--json")) == 3
    assert len(smtp_server.messages) == 2  # rescoring alerts nobody
