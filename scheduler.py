"""The wpwatch daemon: `python scheduler.py [--db …] [--config …] [-v] [--grace N]`.

The same as `wpwatch run`: every site in wpwatch.toml on its own schedule,
until SIGTERM/SIGINT (clean stop, exit 0); SIGHUP reloads the config.
"""

from __future__ import annotations

import sys

# Options that belong to the `wpwatch` group rather than to its `run` command.
GLOBAL_OPTIONS = {"--db": True, "--config": True, "-v": False, "--verbose": False}


def split_args(argv: list[str]) -> list[str]:
    """`--db X --grace 5` → `--db X run --grace 5`."""
    before: list[str] = []
    after: list[str] = []
    it = iter(argv)
    for arg in it:
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            before.append(arg)
            if GLOBAL_OPTIONS[name] and "=" not in arg:
                before.append(next(it, ""))
        else:
            after.append(arg)
    return [*before, "run", *after]


if __name__ == "__main__":
    from wpwatch.cli import cli

    cli.main(args=split_args(sys.argv[1:]), prog_name="scheduler.py")
