"""Coverage as evidence: when a gone post was last seen present, checkable from the export.

A site behind the fault-injection server: a baseline, a complete round, a round that
cannot reach it, then a round that finds a post deleted and a new one. `show` (text and
JSON), the alert and the JSON-lines and WARC exports say "last seen present at T1
(round 2), first seen gone at T2 (round 4)": round 3 failed, so it proves nothing; the
export's coverage record holds every round the claim rests on, and the gap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import WPWatch
from tests.faultserver import FaultServer
from tests.smtpserver import SMTPServer, email_alert_toml
from tests.test_export import read_warc
from tests.test_fault_matrix import fast_settings  # noqa: F401 (fixture)
from wpwatch.demo.server import DemoSite


def test_last_seen_present_skips_a_failed_round_and_the_export_carries_it(
    wpwatch: WPWatch, tmp_path: Path, smtp_server: SMTPServer, tls_cert: Any,
    monkeypatch: Any,
) -> None:
    monkeypatch.setenv("WPWATCH_TEST_SMTP_USER", SMTPServer.USER)
    monkeypatch.setenv("WPWATCH_TEST_SMTP_PASSWORD", SMTPServer.PASSWORD)
    demo = DemoSite("Ministry")
    for i in range(3):
        demo.add(f"Statement {i}", f"<p>Statement {i}.</p>", date="2025-01-01T00:00:00Z")
    with FaultServer(demo) as srv:
        wpwatch.config.write_text(f'[[sites]]\nname = "ministry"\nurl = "{srv.url}"\n'
                                  + email_alert_toml(smtp_server, str(tls_cert.cert)))
        wpwatch.run("crawl")  # round 1: baseline
        wpwatch.run("crawl")  # round 2: complete, nothing changed
        srv.refuse()
        assert wpwatch.run("crawl", check=False).returncode == 1  # round 3: failed
        srv.listen()
        victim = demo.ids("post", "publish")[0]
        demo.delete(victim)
        fresh = demo.add("Statement on the verdict", "<p>New.</p>")
        wpwatch.run("crawl")  # round 4
    changes = {c["kind"]: c for c in wpwatch.json("changes", "--json")}
    assert set(changes) == {"deleted", "new"}
    assert changes["deleted"]["wp_id"] == victim and changes["new"]["wp_id"] == fresh

    shown = wpwatch.json("show", str(changes["deleted"]["id"]), "--format", "json")
    seen = shown["presence"]
    assert (seen["before_round"], seen["round"]) == (2, 4)
    assert seen["line"].startswith("last seen present at ") and "(round 2), first seen gone" in (
        seen["line"])
    text = wpwatch.run("show", str(changes["deleted"]["id"])).stdout
    assert f"seen     {seen['line']}" in text
    new = wpwatch.json("show", str(changes["new"]["id"]), "--format", "json")["presence"]
    assert new["line"].startswith("first seen at ") and new["line"].endswith("(round 2)")
    md = wpwatch.run("show", str(changes["deleted"]["id"]), "--format", "md").stdout
    assert f"- Seen: {seen['line']}" in md
    bodies = [m.message().get_body(("plain",)).get_content() for m in smtp_server.messages]
    assert any(f"seen:      {seen['line']}" in b for b in bodies), bodies

    out = tmp_path / "site.jsonl"
    wpwatch.run("export", "--site", "ministry", "--format", "jsonl", "--out", str(out))
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    cov = lines[-1]
    assert cov["record"] == "coverage" and cov["rounds"] == 4
    assert [r["outcome"] for r in cov["round_log"]] == ["ok", "ok", "failed", "ok"]
    (gap,) = cov["gaps"]
    assert gap["rounds"] == [3] and gap["why"].startswith("1 failed round: ")
    gone = next(x for x in lines if x["record"] == "change" and x["kind"] == "deleted")
    assert gone["presence"]["last_present_round"] == 2
    assert gone["presence"]["last_present_at"] == cov["round_log"][1]["finished_at"]

    warc = tmp_path / "site.warc.gz"
    wpwatch.run("export", "--site", "ministry", "--out", str(warc))
    (record,) = [r for r in read_warc(warc)
                 if r["headers"].get("WARC-Target-URI", "").startswith("urn:wpwatch:coverage:")]
    assert record["type"] == "resource"
    assert json.loads(record["payload"])["gaps"] == cov["gaps"]
