"""Opening an archive: a path or a database URL becomes an engine, or a plain-words error.

Before anything is created or written, the place is looked at: a directory,
a file that is not SQLite, an SQLite file of another program, a missing
parent directory, an unknown URL scheme or a missing database driver is an
:class:`ArchiveError` of one line naming the thing and the fix, and the file
is left exactly as it was (no journal, no WAL switch, no new file).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from archive.exceptions import ArchiveError

SQLITE_HEADER = b"SQLite format 3\x00"

#: URL schemes an archive may live at, and the SQLAlchemy driver each one means.
#: A bare ``postgresql://`` means psycopg (3), the driver we tell people to install.
SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg2",
}
SUPPORTED = "a file path, sqlite:///PATH or postgresql://USER@HOST/DBNAME"

#: What to install when a driver's module is missing, by SQLAlchemy driver name.
DRIVER_PACKAGES = {"psycopg": "'psycopg[binary]'", "psycopg2": "psycopg2-binary"}


@dataclass(frozen=True)
class Place:
    """Where an archive lives."""

    url: str  # the SQLAlchemy URL to connect to
    label: str  # how messages name it: the file path, or the URL without its password
    path: Path | None  # the SQLite file, if the archive is one


def db_url(path_or_url: str) -> str:
    """Accept a plain path (SQLite file) or a database URL; the SQLAlchemy URL to use."""
    if "://" not in path_or_url:
        return "sqlite:///" + str(Path(path_or_url).expanduser())
    scheme, rest = path_or_url.split("://", 1)
    return f"{SCHEMES.get(scheme.lower(), scheme)}://{rest}"


def is_postgres(path_or_url: str) -> bool:
    """Whether the archive lives on a PostgreSQL server (several nodes may share it)."""
    return make_url(db_url(path_or_url)).get_backend_name() == "postgresql"


def locate(path_or_url: str) -> Place:
    """Where ``path_or_url`` points; an unknown scheme or a malformed URL is an ArchiveError."""
    if "://" not in path_or_url:
        path = Path(path_or_url).expanduser()
        return Place(db_url(path_or_url), str(path), path)
    scheme = path_or_url.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        raise ArchiveError(f"unsupported archive URL scheme {scheme!r}: use {SUPPORTED}")
    url = db_url(path_or_url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ArchiveError(
            f"the archive URL ({scheme}://…) cannot be read: use {SUPPORTED}"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        name = parsed.database or ""
        if name in ("", ":memory:") or name.startswith("file:"):
            return Place(url, name if name else "an in-memory SQLite archive", None)
        return Place(url, name, Path(name))
    # named as the user wrote it (postgresql://…, not the driver's name), password hidden
    label = make_url(path_or_url).render_as_string(hide_password=True)
    return Place(url, label, None)


def check_sqlite_file(place: Place) -> None:
    """Refuse, without touching it, a path that cannot be or hold a wpwatch archive."""
    path, label = place.path, place.label
    if path is None:
        return
    if path.is_dir():
        raise ArchiveError(f"{label} is a directory, not a wpwatch archive")
    if not path.exists():
        parent = path.parent
        if not parent.exists():
            raise ArchiveError(
                f"cannot create the archive {label}: the directory {parent} does not exist"
            )
        if not parent.is_dir():
            raise ArchiveError(f"cannot create the archive {label}: {parent} is not a directory")
        return
    try:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise ArchiveError(f"cannot read the archive {label}: {exc.strerror}") from exc
    if not header:
        return  # an empty file: a new archive
    if header != SQLITE_HEADER:
        raise ArchiveError(f"{label} is not a wpwatch archive (not an SQLite file)")
    tables = _sqlite_tables(path, label)
    if tables and "schema_version" not in tables:
        raise ArchiveError(f"{label} is not a wpwatch archive (no wpwatch tables)")


def open_engine(place: Place) -> Engine:
    """An engine for ``place``; SQLite files get WAL, foreign keys and a busy timeout."""
    check_sqlite_file(place)
    try:
        engine = create_engine(place.url)
    except ModuleNotFoundError as exc:
        raise ArchiveError(missing_driver(place.url, exc)) from exc
    except (NoSuchModuleError, ArgumentError) as exc:
        raise ArchiveError(f"cannot open the archive {place.label}: {reason(exc)}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def missing_driver(url: str, exc: ModuleNotFoundError) -> str:
    parsed = make_url(url)
    package = DRIVER_PACKAGES.get(parsed.get_driver_name(), exc.name or "the driver")
    if parsed.get_backend_name() == "postgresql":
        return f"the PostgreSQL driver is not installed: pip install {package}"
    return f"the database driver {exc.name} is not installed: pip install {package}"


def reason(exc: BaseException) -> str:
    """One line from a database error: the driver's own words, without SQLAlchemy's extras."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    elif isinstance(exc, SQLAlchemyError):
        text = exc.args[0] if exc.args else type(exc).__name__
        return " ".join(str(text).split())
    return " ".join(str(exc).split()) or type(exc).__name__


def _sqlite_tables(path: Path, label: str) -> set[str]:
    """Table names of an SQLite file, read without writing anything; empty if unreadable."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return set()  # locked or not readable now: the real open will say why
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.OperationalError:
        return set()
    except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed"
        raise ArchiveError(
            f"{label} is not a wpwatch archive (the SQLite file cannot be read: {exc})"
        ) from exc
    finally:
        conn.close()
    return {name for (name,) in rows}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
