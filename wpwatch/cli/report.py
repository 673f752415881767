"""`wpwatch show`, `wpwatch diff` and `wpwatch report`: reviewing what changed.

Thin commands over ``archive.queries`` (read the archive) and ``diffs`` (compare, render).
The diffing and templating libraries are imported when a command runs, so that every other
`wpwatch` command starts as fast as before.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from archive import queries
from core.exceptions import ConfigError
from core.values import normalize_site_url, since_to_iso, utcnow
from diffs.report import change_report
from wpwatch.cli._common import Ctx, global_options, json_option, pass_ctx

FORMATS = ("text", "md", "html", "json")  # diffs.render.FORMATS (a test keeps them equal)

format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
    help="text (colour on a terminal), md (Markdown), html (a standalone page) or json.",
)  # fmt: skip
color_option = click.option(
    "--color/--no-color", default=None, help="Colour text output (default: on a terminal)."
)


@click.command()
@click.argument("change_id", type=int)
@format_option
@json_option("Print JSON (the same as --format json).")
@color_option
@global_options
@pass_ctx
def show(obj: Ctx, change_id: int, fmt: str, as_json: bool, color: bool | None) -> None:
    """Show one change: the words, links, media and fields a reader would notice.

    \b
    Examples:
      wpwatch show 12
      wpwatch show 12 --format md > change-12.md
      wpwatch show 12 --format html > change-12.html
    """
    from diffs.render import render

    fmt = _json_format(fmt, as_json)
    found = queries.change(obj.archive, change_id)
    if found is None:
        raise ConfigError(
            f"no change #{change_id} in {obj.db_label}: list them with `wpwatch changes`")
    _echo(render(change_report(found), fmt, color=_color(fmt, color)), fmt, color)


@click.command("diff")
@click.argument("version_a", type=int)
@click.argument("version_b", type=int)
@format_option
@json_option("Print JSON (the same as --format json).")
@color_option
@global_options
@pass_ctx
def diff_versions(
    obj: Ctx, version_a: int, version_b: int, fmt: str, as_json: bool, color: bool | None
) -> None:
    """Compare any two stored versions of one post (ids from `wpwatch history`).

    \b
    Example:
      wpwatch history https://example.org posts 4546   # lists version ids
      wpwatch diff 11 14 --format md
    """
    from diffs.render import render
    from diffs.report import Context, Report, compare_versions

    fmt = _json_format(fmt, as_json)
    a = queries.version(obj.archive, version_a)
    b = queries.version(obj.archive, version_b)
    if a is None or b is None:
        missing = version_a if a is None else version_b
        raise ConfigError(
            f"no version {missing} in {obj.db_label}: see `wpwatch history SITE_URL TYPE WP_ID`"
        )
    if a.post_id != b.post_id:
        raise ConfigError(
            f"versions {version_a} ({a.type}/{a.wp_id} of {a.site}) and {version_b} "
            f"({b.type}/{b.wp_id} of {b.site}) are of different posts: compare two versions "
            "of one post"
        )
    context = Context(site=a.site, site_name=a.site_name, type=a.type, wp_id=a.wp_id)
    report_ = Report(context, compare_versions(a, b, kind="edited"))
    _echo(render(report_, fmt, color=_color(fmt, color)), fmt, color)


@click.command()
@click.option(
    "--since",
    default="7d",
    show_default=True,
    help='Changes detected since: "7d", "12h", "1w" or a date.',
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write.",
)
@click.option("--site", help="Only this site (URL or name).")
@click.option("--base-url", help="Where DIR will be served: makes the feed's links absolute.")
@click.option("--all", "show_all", is_flag=True,
              help="Also the changes the site's ignore rules score as noise.")
@global_options
@pass_ctx
def report(
    obj: Ctx, since: str, out_dir: Path, site: str | None, base_url: str | None, show_all: bool
) -> None:
    """Write a static report: index.html, a page per change, feed.xml (Atom).

    The pages need no server and run no script: open DIR/index.html in a
    browser, filter by site and kind, follow a change to its page. Changes the
    site's `ignore` rules score as noise are left out unless --all.

    \b
    Example:
      wpwatch report --since 7d --out report/
      wpwatch report --since 2026-11-01 --site iuhrdf --out report/
    """
    from diffs.site import build_site

    site_url = obj.site_url(site) if site else None
    since_iso = since_to_iso(since)
    reports = [
        change_report(c)
        for c in queries.changes(obj.archive, since=since_iso, site=site_url, with_noise=show_all)
    ]
    # The feed's id stays what it was for the same --site as typed (a name, or a URL).
    feed_site = (normalize_site_url(site) if "://" in site else site) if site else ""
    files = build_site(
        reports, generated_at=utcnow(), since=since_iso, base_url=base_url,
        feed_key=f"{obj.archive.url}|{feed_site}",
    )  # fmt: skip
    try:
        write_site(out_dir, files)
    except OSError as exc:
        raise ConfigError(f"cannot write the report to {out_dir}: {exc.strerror or exc}") from None
    click.echo(
        f"wrote {len(reports)} change {'page' if len(reports) == 1 else 'pages'}, index.html "
        f"and feed.xml to {out_dir}"
    )


_CHANGE_PAGE = re.compile(r"\d+\.html")


def write_site(out_dir: Path, files: dict[str, str]) -> None:
    """Write the files; change pages of an earlier report that are not in this one go."""
    (out_dir / "changes").mkdir(parents=True, exist_ok=True)
    for stale in (out_dir / "changes").iterdir():
        if _CHANGE_PAGE.fullmatch(stale.name) and f"changes/{stale.name}" not in files:
            stale.unlink()
    for rel, text in files.items():
        (out_dir / rel).write_text(text, encoding="utf-8")


def _json_format(fmt: str, as_json: bool) -> str:
    """--json is --format json; with another --format it is a contradiction."""
    if not as_json:
        return fmt
    if fmt not in ("text", "json"):
        raise ConfigError(f"--json and --format {fmt} contradict each other: give one of them")
    return "json"


def _color(fmt: str, color: bool | None) -> bool:
    return fmt == "text" and (sys.stdout.isatty() if color is None else color)


def _echo(text: str, fmt: str, color: bool | None) -> None:
    click.echo(text, nl=False, color=_color(fmt, color))
