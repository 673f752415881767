"""`wpwatch demo`, the README's first command, finds one change of each kind offline,
tells a newcomer in plain words what happened, and ends with the command to try next."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# words from inside WordPress or HTTP that a newcomer cannot be expected to know
JARGON = [
    r"\bwp_[a-z_]+",  # PHP function names such as wp_set_object_terms
    r"answers \d{3}",  # "GET by id answers 401"
    r"\bGET\b",
    r"modified_(after|before)",
    r'\bmodified\b(?!"? time)',  # the REST field; "last modified" time is plain English
    r"\brest_\w+",
    r"X-WP-",
    r"\bloopback\b",
    r"\bbaseline\b",
]


def run_user_command(command: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `wpwatch ...` as a user types it in a shell, in `cwd`."""
    assert command[0] == "wpwatch", command
    return subprocess.run(
        [sys.executable, "-m", "wpwatch", *command[1:]],
        check=False, capture_output=True, text=True, timeout=300, cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
    )


def closing_commands(out: str) -> list[list[str]]:
    """The commands the demo suggests after its last round, as argument lists."""
    tail = out.rsplit("requests for these four rounds.", 1)[1]
    return [shlex.split(line.strip().split("  (")[0]) for line in tail.splitlines()
            if line.strip().startswith("wpwatch ")]


@pytest.fixture(scope="module")
def plain_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`wpwatch demo` as a newcomer first runs it: its directory and its output."""
    cwd = tmp_path_factory.mktemp("demo")
    proc = run_user_command(["wpwatch", "demo"], cwd)
    assert proc.returncode == 0, proc.stderr
    return cwd, proc.stdout


def test_demo_finds_what_was_changed(plain_demo: tuple[Path, str]) -> None:
    cwd, out = plain_demo
    assert ": ok, 6 requests" in out and "baseline of 8 posts, 2 pages; " in out
    rounds = re.findall(r": ok, (\d+) requests in [\d.]+ s; (?:baseline of [^;]+; )?"
                        r"(\d+) new, (\d+) edited, "
                        r"(\d+) unpublished, (\d+) deleted, (\d+) restored; 0 errors", out)
    assert [r[1:] for r in rounds] == [
        ("0", "0", "0", "0", "0"),  # baseline
        ("1", "2", "1", "1", "0"),  # back-dated new, softened + retitled, taken down, deleted
        ("0", "1", "0", "0", "0"),  # --full: the tag set without a modified bump
        ("0", "0", "0", "0", "0"),  # quiet
    ]
    assert int(rounds[3][0]) <= 3 * 2 + 2  # three per type (posts, pages) + types + robots.txt
    found = re.findall(r"(edited|new|unpublished|deleted|restored)\s+\S+\s+posts/(\d+)", out)
    assert sorted(found) == sorted([
        ("edited", "4561"), ("edited", "4583"), ("unpublished", "4575"),
        ("deleted", "4598"), ("edited", "4590"),
        ("new", found[[k for k, _ in found].index("new")][1]),
    ])
    assert "[terms:tags]" in out and "[content]" in out and "[title]" in out
    assert not list(cwd.glob("*.db")), "the demo leaves no archive behind unless asked"
    # it says how to keep an archive, naming the file that would be written
    assert closing_commands(out) == [["wpwatch", "demo", "--keep-db"],
                                     ["wpwatch", "--db", "wpwatch-demo.db", "changes"]]


def test_demo_narrates_in_plain_words(plain_demo: tuple[Path, str]) -> None:
    # the narration is everything but the output of the wpwatch commands it runs
    narration = "\n".join(line for line in plain_demo[1].splitlines()
                          if not re.match(r"\s+(http://|#\d+\s)", line))
    for pattern in JARGON:
        assert not re.search(pattern, narration), f"{pattern!r} in:\n{narration}"
    changes = narration.split("2. Now the site changes", 1)[1].split("\n3.", 1)[0]
    assert "WordPress now refuses it to anonymous readers, so wpwatch calls it unpublished" \
        in " ".join(changes.split())
    assert len(re.findall(r"^   - post \d+: ", changes, flags=re.MULTILINE)) == 6


@pytest.mark.parametrize(("args", "env", "archive"), [
    (["--keep-db"], {}, "wpwatch-demo.db"),
    ([], {"WPWATCH_DEMO_DB": "my archives.db"}, "my archives.db"),
], ids=["keep-db", "WPWATCH_DEMO_DB-with-a-space"])
def test_demo_ends_with_commands_that_work_on_the_kept_archive(
    tmp_path: Path, args: list[str], env: dict[str, str], archive: str
) -> None:
    proc = run_user_command(["wpwatch", "demo", *args], tmp_path, **env)
    assert proc.returncode == 0, proc.stderr
    assert f"The archive is kept in {archive}." in proc.stdout
    commands = closing_commands(proc.stdout)
    assert commands, proc.stdout
    assert all(c[:3] == ["wpwatch", "--db", archive] for c in commands), commands
    assert (tmp_path / archive).is_file()
    outputs = {}
    for command in commands:
        done = run_user_command(command, tmp_path)
        assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stderr}"
        outputs[command[3]] = done.stdout
    assert len(re.findall(r"^#\d+ ", outputs["changes"], flags=re.MULTILINE)) == 6
    assert "{+invites+}" in outputs["show"]  # the softened statement, word by word
    assert (tmp_path / "report" / "index.html").is_file()
