"""Revisions between polls in words: diffs/revisions.py's examples run, and the grouping."""

from __future__ import annotations

import doctest

import diffs.revisions
from diffs.revisions import group_by_poll


def test_docstring_examples() -> None:
    result = doctest.testmod(diffs.revisions)
    assert result.attempted > 0 and result.failed == 0


def rev(vid: int, rid: int, saved: str, login: str) -> dict[str, object]:
    return {"id": vid, "revision": {"id": rid, "saved_gmt": saved, "author_login": login}}


def test_revisions_are_told_before_the_poll_that_stored_them() -> None:
    poll1, poll2 = {"id": 1, "revision": None}, {"id": 5, "revision": None}
    saved = [rev(6, 40, "2026-12-06T10:00:00", "alice"), rev(7, 41, "2026-12-06T10:05:00", "bob")]
    poll3 = {"id": 8, "revision": None}
    groups = group_by_poll([poll1, poll2, *saved, poll3])
    assert groups == [([], poll1), (saved, poll2), ([], poll3)]
