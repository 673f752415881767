"""The examples in archive/revisions.py's docstrings are run, not just read."""

from __future__ import annotations

import doctest

import archive.revisions


def test_docstring_examples() -> None:
    result = doctest.testmod(archive.revisions)
    assert result.attempted > 0 and result.failed == 0
