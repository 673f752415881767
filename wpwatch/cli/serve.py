"""`wpwatch serve`: the review workspace (web/) over the archive, served by uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import os

import click

from core.exceptions import ConfigError
from wpwatch.cli._common import Ctx, global_options, pass_ctx

SECRET_ENV = "WPWATCH_SECRET_KEY"
log = logging.getLogger("wpwatch.serve")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback is reachable by others.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on.")
@click.option("--secure-cookies", is_flag=True,
              help="Mark the session cookie Secure (behind an https proxy; automatic when "
                   "[defaults] base_url is https).")
@global_options
@pass_ctx
def serve(obj: Ctx, host: str, port: int, secure_cookies: bool) -> None:
    """Serve the review workspace: queue, changes, triage, notes, JSON API.

    Log in with an account made by `wpwatch users add`. Sessions are signed with
    WPWATCH_SECRET_KEY (set it to keep people logged in across restarts).

    \b
    Examples:
      wpwatch users add ana --role reviewer
      wpwatch serve --port 8080
      wpwatch serve --host 0.0.0.0 --secure-cookies   # behind an https reverse proxy
    """
    try:
        import uvicorn

        from web.app import create_app
    except ImportError as exc:
        raise ConfigError(f"wpwatch serve needs the web extra ({exc.name} is missing): "
                          "pip install 'wpwatch[web]'") from None
    conf = obj.config()
    base_url = str(conf.defaults.get("base_url") or "")
    secure = secure_cookies or base_url.startswith("https://")
    if not _loopback(host) and not secure:
        click.echo(f"wpwatch: warning: serving on {host}, reachable by others, without https: "
                   "passwords and session cookies cross the network in clear; put it behind "
                   "an https proxy and pass --secure-cookies", err=True)
    archive = obj.archive
    app = create_app(archive, obj.config_path, secret_key=os.environ.get(SECRET_ENV) or None,
                     secure_cookies=secure)
    indexed = app.state.ws.catch_up(analyze=True)
    if indexed:
        click.echo(f"wpwatch: indexed {indexed} changes for the queue", err=True)
    from archive.notes import users

    if not users(archive):
        click.echo("wpwatch: no accounts yet: add one with `wpwatch users add NAME --role admin`",
                   err=True)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            server_header=False, proxy_headers=False)
    server = uvicorn.Server(config)
    click.echo(f"wpwatch: review workspace on http://{host}:{port}/ (Ctrl-C stops)", err=True)
    server.run()

