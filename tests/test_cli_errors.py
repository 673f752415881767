"""The CLI as a user types it: bad URLs, unknown sites, options after the command, help.

Every command runs in a subprocess (`python -m wpwatch …`), on a copy of the demo archive
where one is needed. A user-facing error is one line on stderr, `wpwatch: …`, exit 2.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, WPWatch


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single `wpwatch: …` line of a failed command (and nothing else on stderr)."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wpwatch: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def bare(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m wpwatch ARGS` with no options added, in `cwd`, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if k not in ("WPWATCH_DB", "WPWATCH_CONFIG")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "wpwatch", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=env, check=False)


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- URLs -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("crawl", "https://not a url"), "bad site URL 'https://not a url': it contains a space"),
        (("crawl", "https://x.org:99999"), "the port is not a number from 1 to 65535"),
        (("crawl", "https://x.org/?p=4"), "without a query string"),
        (("sites", "add", "127.0.0.1:8080/en"), "add http:// or https://"),
        (("sites", "add", "ftp://x.org"), "only http:// and https://"),
        (("changes", "--site", "https://not a url"), "it contains a space"),
        (("history", "https://x.org:0", "posts", "1"), "port 0"),
    ],
    ids=["space", "port", "query", "no-scheme", "ftp", "changes-site", "history-site"],
)
def test_a_bad_url_is_one_line_naming_the_fault(
    wpwatch: WPWatch, args: tuple[str, ...], expected: str
) -> None:
    line = one_line_error(wpwatch.run(*args, check=False))
    assert expected in line
    assert not wpwatch.config.exists()  # nothing was saved


def test_one_site_one_url(wpwatch: WPWatch) -> None:
    wpwatch.run("sites", "add", "https://x.org/en", "--no-check")
    line = one_line_error(wpwatch.run("sites", "add", "https://X.org/en/#top", "--no-check",
                                      check=False))
    assert line == f"wpwatch: https://x.org/en is already watched in {wpwatch.config}, as x.org/en"
    taken = one_line_error(wpwatch.run("sites", "add", "https://y.org", "--name", "x.org/en",
                                       "--no-check", check=False))
    assert "the name x.org/en is already taken" in taken and "--name" in taken
    assert [s["url"] for s in wpwatch.json("sites", "list", "--json")] == ["https://x.org/en"]


# -- unknown sites --------------------------------------------------------------------------
def test_an_unknown_site_is_the_same_error_everywhere(
    copy: WPWatch, demo_archive, tmp_path: Path
) -> None:
    commands = [
        ("changes", "--site", "nosuch"),
        ("history", "nosuch", "posts", "1"),
        ("export", "--site", "nosuch", "--out", str(tmp_path / "x.jsonl")),
        ("report", "--site", "nosuch", "--out", str(tmp_path / "report")),
        ("status", "nosuch"),
        ("verify", "--site", "nosuch"),
        ("sites", "forget", "nosuch", "--yes"),
        ("crawl", "nosuch"),
    ]
    lines = {one_line_error(copy.run(*args, check=False)) for args in commands}
    expected = (f"wpwatch: no site 'nosuch' in {copy.config} or the archive {copy.db}; "
                f"known sites: {demo_archive.site_url}")
    assert lines == {expected}
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "report").exists()


def test_a_known_site_by_url_or_name_still_works(copy: WPWatch, demo_archive) -> None:
    every = copy.json("changes", "--json")
    by_url = copy.json("changes", "--json", "--site", demo_archive.site_url + "/")
    assert by_url == every and every
    copy.config.write_text(f'[[sites]]\nname = "demo"\nurl = "{demo_archive.site_url}"\n')
    assert copy.json("changes", "--json", "--site", "demo") == every
    assert [s["name"] for s in copy.json("status", "demo", "--json")] == ["demo"]


# -- global options after the command ---------------------------------------------------------
def test_global_options_work_after_the_command(copy: WPWatch, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    expected = copy.json("changes", "--json")
    after = bare("changes", "--db", str(copy.db), "--json", cwd=elsewhere)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == expected
    # The command's own value wins over the group's.
    both = bare("--db", str(elsewhere / "empty.db"), "changes", "--json", "--db", str(copy.db),
                cwd=elsewhere)
    assert json.loads(both.stdout) == expected
    config = elsewhere / "sites.toml"
    config.write_text('[[sites]]\nname = "a"\nurl = "https://a.example"\n')
    listed = bare("sites", "list", "--config", str(config), "--json", cwd=elsewhere)
    assert [s["name"] for s in json.loads(listed.stdout)] == ["a"]
    assert not (elsewhere / "wpwatch.db").exists()


def test_verbose_after_the_command(wpwatch: WPWatch) -> None:
    url = f"http://127.0.0.1:{dead_port()}"
    quiet = wpwatch.run("crawl", url, check=False)
    loud = wpwatch.run("crawl", url, "-v", check=False)
    assert quiet.returncode == loud.returncode == 1
    assert " DEBUG " not in quiet.stderr
    assert " DEBUG " in loud.stderr


# -- values and alerts ----------------------------------------------------------------------
def test_since_takes_weeks(copy: WPWatch) -> None:
    assert copy.json("changes", "--json", "--since", "1w") == copy.json("changes", "--json")
    line = one_line_error(copy.run("changes", "--since", "soon", check=False))
    assert "bad --since 'soon'" in line and "1w" in line


def test_alerts_test_errors_are_one_line(wpwatch: WPWatch) -> None:
    wpwatch.config.write_text(f"""
[[alerts]]
name = "desk-email"
channel = "email"
to = ["desk@example.org"]
from = "wpwatch@example.org"
smtp_host = "127.0.0.1"
smtp_port = {dead_port()}
security = "none"
timeout = "5s"
""")
    unknown = one_line_error(wpwatch.run("alerts", "test", "desk", check=False))
    assert unknown == (f"wpwatch: no [[alerts]] named 'desk' in {wpwatch.config}; "
                       "configured: desk-email")
    refused = one_line_error(wpwatch.run("alerts", "test", "desk-email", check=False))
    assert "desk-email" in refused and "127.0.0.1" in refused


def test_show_and_diff_take_json(copy: WPWatch) -> None:
    change = copy.json("changes", "--json", "--kind", "edited")[0]
    assert copy.json("show", str(change["id"]), "--json") == copy.json(
        "show", str(change["id"]), "--format", "json")
    pair = (str(change["from_version"]), str(change["to_version"]))
    assert copy.json("diff", *pair, "--json") == copy.json("diff", *pair, "--format", "json")
    line = one_line_error(copy.run("show", str(change["id"]), "--json", "--format", "md",
                                   check=False))
    assert "--json and --format md" in line


# -- help -----------------------------------------------------------------------------------
def test_history_usage_names_its_arguments(wpwatch: WPWatch) -> None:
    usage = wpwatch.run("history", "--help").stdout.splitlines()[0]
    assert usage == "Usage: wpwatch history [OPTIONS] SITE TYPE WP_ID"


def test_demo_help_names_the_file_it_keeps(tmp_path: Path) -> None:
    helptext = bare("demo", "--help", cwd=tmp_path).stdout
    named = re.findall(r"\./([\w.-]+\.db)", helptext)
    assert named, helptext
    proc = bare("demo", "--keep-db", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in tmp_path.glob("*.db")] == [named[0]]


def test_status_cluster_on_sqlite_says_what_it_is_for(tmp_path: Path) -> None:
    line = one_line_error(bare("--db", str(tmp_path / "w.db"), "status", "--cluster",
                               cwd=tmp_path))
    assert line == ("wpwatch: --cluster shows the nodes sharing a PostgreSQL archive; this "
                    "archive is SQLite (one `wpwatch run`): use `wpwatch status`")
