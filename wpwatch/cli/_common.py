"""What every `wpwatch` command shares: the context object, the global options, errors.

The global options (`--db`, `--config`, `-v`) are accepted before the command, as the
group's own options, and after it, on every command, as users type them
(`wpwatch changes --db other.db`). The group's values come first; a command's own
value wins.

Errors: a command raises from :mod:`core.exceptions`; :class:`Group` turns any
:class:`~core.exceptions.WPWatchError` into one line, ``wpwatch: <message>``, on
stderr and exit status 2.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from core import config as cfg
from core.exceptions import UnknownSite, WPWatchError
from core.values import normalize_site_url

if TYPE_CHECKING:
    from archive import Archive

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DB = "wpwatch.db"
DEFAULT_CONFIG = "wpwatch.toml"
EXIT_USAGE = 2  # a usage or config error (and any WPWatchError)
LISTED_SITES = 10  # known sites named in an unknown-site error


class UserError(click.ClickException):
    """A WPWatchError at the CLI boundary: one line on stderr, exit 2."""

    exit_code = EXIT_USAGE

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"wpwatch: {self.message}", err=True)


class Group(click.Group):
    """A click group that turns the error tree into the one-line `wpwatch: ...`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WPWatchError as exc:
            raise UserError(str(exc)) from None


class Ctx:
    """The context object of every command: where the archive and the config are."""

    def __init__(self, db: str, config: Path, verbose: bool) -> None:
        self.db = db
        self.config_path = config
        self.verbose = verbose
        self._archive: Archive | None = None
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        logging.getLogger("wpwatch.progress").setLevel(logging.INFO)

    def set_verbose(self) -> None:
        """`-v` given after the command: the log the group would have set up with it."""
        self.verbose = True
        logging.getLogger().setLevel(logging.DEBUG)

    @property
    def archive(self) -> Archive:
        if self._archive is None:
            from archive import Archive

            self._archive = Archive(self.db)
        return self._archive

    @property
    def db_label(self) -> str:
        """How messages name the archive: its file, or its URL with the password hidden."""
        return self.archive.label

    def config(self, must_exist: bool = False) -> cfg.Config:
        return cfg.load(self.config_path, must_exist=must_exist)

    def site_url(self, key: str) -> str:
        """The URL of a site named by its config name, archive name or URL.

        Raises :class:`UnknownSite` naming the known sites when it is none of them.
        """
        conf = self.config()
        conf_site = conf.site(key)
        if conf_site is not None:
            return conf_site.url
        candidates = {key}
        if "://" in key:
            candidates.add(normalize_site_url(key))  # a malformed URL is its BadURL
        archived = self.archive.list_sites()
        for row in archived:
            if row["url"] in candidates or row["name"] == key:
                return str(row["url"])
        configured = {s.url for s in conf.sites}
        known = [s.name for s in conf.sites]
        known += [r["name"] or r["url"] for r in archived if r["url"] not in configured]
        listing = ", ".join(known[:LISTED_SITES]) or "none yet (`wpwatch sites add URL`)"
        if len(known) > LISTED_SITES:
            listing += f" and {len(known) - LISTED_SITES} more (`wpwatch status`)"
        raise UnknownSite(f"no site {key!r} in {self.config_path} or the archive {self.db_label}; "
                          f"known sites: {listing}")

    def site_row(self, key: str) -> dict[str, Any]:
        """The archive's row of a site (see :meth:`site_url`); UnknownSite when not archived."""
        url = self.site_url(key)
        row = self.archive.find_site(url)
        if row is None:
            raise UnknownSite(f"site {key!r} ({url}) has nothing in the archive "
                              f"{self.db_label} yet: crawl it first with `wpwatch crawl {url}`")
        return row


def _obj(ctx: click.Context) -> Ctx:
    obj = ctx.find_object(Ctx)
    if obj is None:  # a command invoked on its own, without the group
        obj = ctx.obj = Ctx(DEFAULT_DB, Path(DEFAULT_CONFIG), False)
    return obj


def _set_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        _obj(ctx).db = value


def _set_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        _obj(ctx).config_path = value


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _obj(ctx).set_verbose()


DB_HELP = "Archive: an SQLite path or an SQLAlchemy URL (env WPWATCH_DB)."
CONFIG_HELP = "Sites and alerts file (env WPWATCH_CONFIG)."
VERBOSE_HELP = "Show Scrapy's own log too."


def global_options(f: F) -> F:
    """`--db`, `--config` and `-v` on a command, as they are on the group (see module doc)."""
    f = click.option("-v", "--verbose", is_flag=True, expose_value=False, is_eager=True,
                     callback=_set_verbose, help=VERBOSE_HELP)(f)
    f = click.option("--config", type=click.Path(path_type=Path, dir_okay=False),
                     expose_value=False, is_eager=True, callback=_set_config,
                     help=CONFIG_HELP)(f)
    f = click.option("--db", expose_value=False, is_eager=True, callback=_set_db,
                     help=DB_HELP)(f)
    return f


def json_option(help: str = "Print JSON.") -> Callable[[F], F]:
    """`--json`: the machine-readable output of a command, as a flag named `as_json`."""
    return click.option("--json", "as_json", is_flag=True, help=help)


pass_ctx = click.make_pass_decorator(Ctx)


def one_line(text: str, width: int = 80) -> str:
    """Text on one line, cut to `width` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
