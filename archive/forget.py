"""Deleting one site's whole history from the archive, on purpose (`wpwatch sites forget`).

This destroys evidence: every stored response, version, change, round, chain link,
timestamp token and alert of the site goes, in one transaction. Other sites' chains
are untouched (each site has its own chain), so `wpwatch verify` still holds for them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, Table, delete, select

from archive import schema as s
from archive.store import Archive


def forget_site(archive: Archive, url: str) -> dict[str, int] | None:
    """Delete every row of the site at `url`; rows deleted per table, or None if unknown.

    Tables are emptied dependents first (the schema's foreign-key order), so a table
    added later with a ``site_id`` or ``post_id`` column is covered without change here.
    """
    with archive.engine.begin() as conn:
        site_id = conn.execute(select(s.sites.c.id).where(s.sites.c.url == url)).scalar()
        if site_id is None:
            return None
        post_ids = select(s.posts.c.id).where(s.posts.c.site_id == site_id)
        counts: dict[str, int] = {}
        for table in reversed(s.metadata.sorted_tables):
            where = _rows_of_site(table, site_id, url, post_ids)
            if where is not None:
                counts[table.name] = conn.execute(delete(table).where(where)).rowcount
        conn.execute(delete(s.sites).where(s.sites.c.id == site_id))
        return counts


def _rows_of_site(
    table: Table, site_id: int, url: str, post_ids: Select[Any]
) -> ColumnElement[bool] | None:
    if table is s.sites:
        return None
    if "site_id" in table.c:
        return table.c.site_id == site_id
    if "post_id" in table.c:
        return table.c.post_id.in_(post_ids)
    if "site_url" in table.c:
        return table.c.site_url == url
    return None
