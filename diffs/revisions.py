"""Revisions WordPress saved between two of our polls, in words (own sites).

Pure functions over the ``revision`` part of stored versions (``id``,
``autosave``, ``author``, ``author_login``, ``saved_gmt``), for `history`,
`show` and the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def who(revision: Mapping[str, Any]) -> str:
    """The login of a revision's author, else its user id, else "someone"."""
    if revision.get("author_login"):
        return str(revision["author_login"])
    return f"user {revision['author']}" if revision.get("author") else "someone"


def _clock(stamp: str, with_date: bool, seconds: bool = False) -> str:
    """``2026-12-06T10:15:09`` → ``10:15`` (``2026-12-06 10:15`` with the date)."""
    day, _, time = stamp.replace("Z", "").partition("T")
    time = time[:8] if seconds else time[:5]
    return f"{day} {time}" if with_date else time


def saved_between(revisions: Sequence[Mapping[str, Any]]) -> str | None:
    """One line about revisions saved between two polls; None when there are none.

    >>> revs = [{"saved_gmt": "2026-12-06T10:00:41", "author_login": "alice"},
    ...         {"saved_gmt": "2026-12-06T10:07:02", "author_login": "bob"},
    ...         {"saved_gmt": "2026-12-06T10:15:09", "author_login": "alice"}]
    >>> saved_between(revs)
    '3 revisions saved between 10:00 and 10:15 by 2 users (alice, bob), 2026-12-06 UTC'
    >>> saved_between([revs[0], {"saved_gmt": "2026-12-06T10:00:59", "author_login": "bob"}])
    '2 revisions saved between 10:00:41 and 10:00:59 by 2 users (alice, bob), 2026-12-06 UTC'
    >>> saved_between(revs[:1])
    '1 revision saved at 10:00 by alice, 2026-12-06 UTC'
    >>> saved_between([{"saved_gmt": "2026-12-05T23:59:00", "author": 3, "autosave": True},
    ...                {"saved_gmt": "2026-12-06T00:01:00", "author": 3}])
    '2 revisions (1 autosave) saved between 2026-12-05 23:59 and 2026-12-06 00:01 by user 3 UTC'
    >>> saved_between([]) is None
    True
    """
    if not revisions:
        return None
    ordered = sorted(revisions, key=lambda r: str(r.get("saved_gmt") or ""))
    first, last = str(ordered[0].get("saved_gmt") or ""), str(ordered[-1].get("saved_gmt") or "")
    one_day = first[:10] == last[:10]
    logins = list(dict.fromkeys(who(r) for r in ordered))
    n = len(ordered)
    autosaves = sum(1 for r in ordered if r.get("autosave"))
    what = f"{n} revision{'s' if n != 1 else ''}"
    if autosaves:
        what += f" ({autosaves} autosave{'s' if autosaves != 1 else ''})"
    if first == last:
        when = f"at {_clock(first, not one_day, seconds=n > 1)}"
    else:  # to the second when they fall in one minute
        secs = one_day and first[:16] == last[:16]
        when = (f"between {_clock(first, not one_day, secs)} and "
                f"{_clock(last, not one_day, secs)}")
    by = logins[0] if len(logins) == 1 else f"{len(logins)} users ({', '.join(logins)})"
    tail = f", {first[:10]} UTC" if one_day else " UTC"
    return f"{what} saved {when} by {by}{tail}"


def revision_line(revision: Mapping[str, Any]) -> str:
    """One revision: its id, when and by whom.

    >>> revision_line({"id": 9, "saved_gmt": "2026-12-06T10:07:02", "author_login": "bob",
    ...                "autosave": False})
    'revision 9 saved 2026-12-06T10:07:02Z by bob'
    """
    kind = "autosave" if revision.get("autosave") else "revision"
    return f"{kind} {revision.get('id')} saved {revision.get('saved_gmt')}Z by {who(revision)}"


def group_by_poll(versions: Sequence[Mapping[str, Any]]
                  ) -> list[tuple[list[Mapping[str, Any]], Mapping[str, Any] | None]]:
    """Versions in storage order → (revisions saved before a polled version, that version).

    A round stores the post as polled, then the revisions it found; those
    revisions were saved before that poll, so they are told just before it.
    Revisions stored with no polled version in their round come last, with None.
    """
    groups: list[tuple[list[Mapping[str, Any]], Mapping[str, Any] | None]] = []
    pending_poll: Mapping[str, Any] | None = None
    saved: list[Mapping[str, Any]] = []
    for v in versions:
        if v.get("revision") is None:
            if pending_poll is not None or saved:
                groups.append((saved, pending_poll))
            pending_poll, saved = v, []
        else:
            saved.append(v)
    if pending_poll is not None or saved:
        groups.append((saved, pending_poll))
    return groups
