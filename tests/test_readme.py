"""The README's command tour and the real commands cannot drift apart.

Every `wpwatch …` command line the README shows (in code blocks and inline code) is
walked through the real click commands, the ones `--help` prints: each command and
sub-command must exist, and each `--option` must be one that command (or the group)
takes. Every command must also appear in the README at least once.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

import click
import pytest

from tests.conftest import REPO
from wpwatch.cli import cli

README = REPO / "README.md"
HELP_OPTIONS = {"-h", "--help"}
SHELL_BREAKS = {"&&", "||", "|", ";", ">", ">>", "<"}


def readme_code(text: str) -> Iterator[str]:
    """The text of every code block (fenced or indented) and inline code span."""
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence or line.startswith("    "):
            yield line.strip()
        else:
            yield from re.findall(r"`([^`]+)`", line)


def command_lines(text: str) -> Iterator[list[str]]:
    """Each `wpwatch …` invocation, as the words after `wpwatch` (comments and $ dropped)."""
    for code in readme_code(text):
        code = code.removeprefix("$ ")
        try:
            words = shlex.split(code, comments=True)
        except ValueError:  # an unbalanced quote in prose: not a command line
            continue
        current: list[str] | None = None
        at_start = True  # of a shell command: `journalctl -u wpwatch` is not one of ours
        for word in words:
            if word in SHELL_BREAKS:
                if current is not None:
                    yield current
                current, at_start = None, True
            elif current is None:
                if word == "wpwatch" and at_start:
                    current = []
                at_start = False
            else:
                current.append(word.strip("[]"))
        if current is not None:
            yield current


def option_of(command: click.Command, name: str) -> click.Parameter | None:
    for param in command.params:
        if name in param.opts or name in param.secondary_opts:
            return param
    return None


def walk(words: list[str]) -> tuple[list[str], str | None]:
    """The command path `wpwatch WORDS` names, and why it does not match the real
    commands (None when it does)."""
    command: click.Command = cli
    path: list[str] = []
    arguments_started = False
    i = 0
    while i < len(words):
        word = words[i]
        here = f"`wpwatch {' '.join(path)}`" if path else "`wpwatch`"
        if word.startswith("-") and word != "-":
            name, _, inline_value = word.partition("=")
            if name in HELP_OPTIONS or (command is cli and name == "--version"):
                i += 1
                continue
            param = option_of(command, name)
            if param is None:
                return path, f"{here} has no option {name} (README: wpwatch {' '.join(words)})"
            takes_value = isinstance(param, click.Option) and not (param.is_flag or param.count)
            i += 2 if takes_value and not inline_value else 1
            continue
        if isinstance(command, click.Group) and not arguments_started:
            if word not in command.commands:
                if word in ("…", "...") or word.isupper():
                    return path, None  # a placeholder: "wpwatch …", "wpwatch COMMAND"
                return path, f"{here} has no command {word!r} (README: wpwatch {' '.join(words)})"
            command = command.commands[word]
            path.append(word)
        else:
            arguments_started = True
        i += 1
    return path, None


def drift(words: list[str]) -> str | None:
    return walk(words)[1]


def all_commands(group: click.Group = cli, prefix: str = "") -> Iterator[str]:
    for name, command in group.commands.items():
        yield f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from all_commands(command, f"{prefix}{name} ")


def test_the_parser_finds_the_tour() -> None:
    lines = list(command_lines(README.read_text(encoding="utf-8")))
    assert len(lines) >= 20, lines
    assert ["changes", "--since", "7d"] in lines and ["verify"] in lines


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("wpwatch changes --since 7d --json", None),
        ("wpwatch --db x.db report --out r/", None),
        ("wpwatch alerts send [--dry-run]", None),
        ("wpwatch changes --sinse 7d", "`wpwatch changes` has no option --sinse"),
        ("wpwatch sites purge x", "has no command 'purge'"),
        ("wpwatch show 12 --colour", "`wpwatch show` has no option --colour"),
    ],
)
def test_drift_is_named(line: str, expected: str | None) -> None:
    (words,) = list(command_lines(f"    {line}"))
    found = drift(words)
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in found, found


def test_every_command_and_option_the_readme_shows_exists() -> None:
    problems = [p for words in command_lines(README.read_text(encoding="utf-8"))
                if (p := drift(words))]
    assert not problems, "README.md and the commands drifted:\n" + "\n".join(problems)


def test_every_command_is_in_the_readme() -> None:
    paths = [walk(words)[0] for words in command_lines(README.read_text(encoding="utf-8"))]
    shown = {" ".join(path[:n]) for path in paths for n in range(1, len(path) + 1)}
    missing = sorted(set(all_commands()) - shown)
    assert not missing, f"README.md shows no `wpwatch {missing[0]}` (missing: {missing})"
