"""Hidden edits: how many revisions WordPress saved between two of our polls.

Each post record in the REST API carries ``_links["version-history"][0].count``,
the number of revisions WordPress keeps for it; every version stores it as
``revision_count``. Two stored versions whose counts differ by more than one
mean the site saved edits that we never saw.
"""

from __future__ import annotations


def revisions_between(prev_count: int | None, new_count: int | None) -> str | None:
    """A note for `history` and `show` about the revisions saved between two versions.

    >>> revisions_between(3, 7)
    '4 saved revisions since last seen'
    >>> revisions_between(3, 4)
    '1 saved revision since last seen'
    >>> revisions_between(7, 2)
    'revision count fell from 7 to 2 (revisions were deleted on the site)'
    >>> revisions_between(None, 4) is None and revisions_between(4, 4) is None
    True
    """
    if prev_count is None or new_count is None or new_count == prev_count:
        return None
    if new_count < prev_count:
        return (f"revision count fell from {prev_count} to {new_count} "
                "(revisions were deleted on the site)")
    n = new_count - prev_count
    return f"{n} saved revision{'s' if n != 1 else ''} since last seen"
