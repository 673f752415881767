"""`python -m wpwatch …` is the `wpwatch` command."""

from wpwatch.cli import main

main()
