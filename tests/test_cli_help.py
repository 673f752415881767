"""Every command's `--help` works, shows an example, and takes the global options."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from tests.conftest import REPO
from wpwatch.cli import cli

# Commands whose output has a machine-readable form: each takes --json.
MACHINE_READABLE = {
    "changes", "history", "status", "verify", "show", "diff", "sites list", "alerts pending",
}


def commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


ALL = sorted(commands())


def test_python_dash_m_and_scheduler_help_work() -> None:
    for argv in (["-m", "wpwatch", "--help"], [str(REPO / "scheduler.py"), "--help"]):
        proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                              timeout=120, cwd=REPO, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "Example" in proc.stdout


@pytest.mark.parametrize("path", ALL, ids=[" ".join(p) for p in ALL])
def test_help_has_an_example_and_the_global_options(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`wpwatch {' '.join(path)} --help` shows no example"
    for option in ("--db", "--config", "--verbose"):
        assert option in result.output, f"`wpwatch {' '.join(path)}` does not take {option}"
    usage = result.output.splitlines()[0]
    assert not re.search(r"[A-Z]_(\s|$)", usage), f"a stray _ in {usage!r}"


def test_machine_readable_output_is_json_everywhere() -> None:
    for path in ALL:
        names = {opt for p in command_at(path).params for opt in p.opts}
        if " ".join(path) in MACHINE_READABLE:
            assert "--json" in names, f"`wpwatch {' '.join(path)}` has no --json"
    assert {" ".join(p) for p in ALL} >= MACHINE_READABLE
