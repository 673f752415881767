"""`wpwatch users`: accounts and API tokens of the review workspace (`wpwatch serve`)."""

from __future__ import annotations

import json
import os
from types import ModuleType

import click

from core.exceptions import ConfigError
from wpwatch.cli._common import Ctx, Group, global_options, json_option, pass_ctx

ROLES = ("admin", "reviewer", "viewer")


def _auth() -> ModuleType:
    try:
        from web import auth
    except ImportError as exc:
        raise ConfigError(f"wpwatch users needs the web extra ({exc.name} is missing): "
                          "pip install 'wpwatch[web]'") from None
    return auth


@click.group(cls=Group)
@global_options
def users() -> None:
    """Accounts of the review workspace: viewers read, reviewers triage, admins manage.

    \b
    Examples:
      wpwatch users add ana --role reviewer            # asks for the password
      WPW_PASS=... wpwatch users add bot --role viewer --password-env WPW_PASS
      wpwatch users token bot                          # an API token, shown once
    """


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@click.option("--password-env", metavar="VAR",
              help="Read the password from this environment variable (for scripts).")
@global_options
@pass_ctx
def add(obj: Ctx, name: str, role: str, password_env: str | None) -> None:
    """Add an account; its password from a prompt or --password-env.

    \b
    Examples:
      wpwatch users add ana --role admin
      WPW_PASS=... wpwatch users add bot --role viewer --password-env WPW_PASS
    """
    from archive import notes

    if password_env:
        password = os.environ.get(password_env)
        if not password:
            raise ConfigError(f"--password-env {password_env}: the variable is not set or empty")
    else:
        password = click.prompt(f"password for {name}", hide_input=True,
                                confirmation_prompt=True)
    if len(password) < 8:
        raise ConfigError(f"the password for {name} is too short: use at least 8 characters")
    notes.add_user(obj.archive, name, role, _auth().hash_password(password))
    click.echo(f"added {name} ({role})")


@users.command("list")
@json_option()
@global_options
@pass_ctx
def list_(obj: Ctx, as_json: bool) -> None:
    """List accounts, their roles and how many API tokens each has.

    \b
    Example:
      wpwatch users list --json
    """
    from archive import notes

    rows = notes.users(obj.archive)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no accounts (`wpwatch users add NAME --role admin`)")
    for r in rows:
        click.echo(
            f"{r['name']:<20} {r['role']:<9} tokens {r['tokens']}  since {r['created_at'][:10]}"
        )


@users.command("remove")
@click.argument("name")
@global_options
@pass_ctx
def remove(obj: Ctx, name: str) -> None:
    """Remove an account and its API tokens (its notes and audit entries stay).

    \b
    Example:
      wpwatch users remove ana
    """
    from archive import notes

    notes.remove_user(obj.archive, name)
    click.echo(f"removed {name}")


@users.command("token")
@click.argument("name")
@global_options
@pass_ctx
def token(obj: Ctx, name: str) -> None:
    """Make an API token for an account; it is shown once and stored hashed.

    \b
    Example:
      curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/changes?kind=deleted
    """
    from archive import notes

    value, digest = _auth().new_token()
    notes.add_token(obj.archive, name, digest)
    click.echo(value)
    click.echo(f"(the API token of {name}: shown only now, keep it safe)", err=True)
