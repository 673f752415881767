"""The wpwatch daemon: `python scheduler.py [--db …] [--config …] [-v] [--grace N]`.

The same as `wpwatch run`: every site in wpwatch.toml on its own schedule,
until SIGTERM/SIGINT (clean stop, exit 0); SIGHUP reloads the config. The
`run` command takes the global options itself, so every argument goes to it.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from wpwatch.cli import cli

    cli.main(args=["run", *sys.argv[1:]], prog_name="scheduler.py")
