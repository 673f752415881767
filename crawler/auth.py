"""Own sites: a WordPress login and application password on the REST API (Basic auth).

With credentials a round reads what the editor sees (``context=edit``,
``status=any``: drafts, pending, private and scheduled posts) and every
revision WordPress saved. The password travels only in the ``Authorization``
header of requests to the site's own host; it is never logged, never part of
an error, never stored (a stored response only notes that its request was
authenticated). docs/wordpress-rest.md "Application passwords" holds what
WordPress answers.
"""

from __future__ import annotations

import base64

from core.config import Credentials
from core.exceptions import RoundError, WPApiError
from crawler import wpapi
from crawler.fetcher import Fetcher

#: Query parameters of every listing of a round with credentials.
EDIT_PARAMS = {"context": "edit", "status": "any"}


class CredentialsRejected(RoundError):
    """The site did not accept the login: the round stops, the site is not taken as closed."""


def basic_auth(credentials: Credentials) -> bytes:
    """The ``Authorization`` header value (RFC 7617; WordPress ignores the spaces it prints)."""
    token = f"{credentials.username}:{credentials.app_password}".encode()
    return b"Basic " + base64.b64encode(token)


async def check_login(fetcher: Fetcher, api_root: str, username: str) -> str:
    """Ask ``users/me`` who we are; the login WordPress knows, or CredentialsRejected.

    WordPress 6.1 answers a wrong or revoked application password as if no
    login was sent (401 ``rest_not_logged_in``); newer versions may name it
    (401 ``incorrect_password``). Either way the message carries the status
    and code, never the password.
    """
    url = wpapi.route_url(api_root, "wp/v2/users/me", {"context": "edit", "_fields": "id,username"})
    resp = await fetcher.get(url)
    if resp.status == 200:
        try:
            doc = wpapi.parse_json(resp.body)
        except WPApiError:  # not JSON: the rejection below
            doc = None
        if isinstance(doc, dict) and doc.get("id"):
            return str(doc.get("username") or username)
    fault = fetcher.fault(resp)
    if fault is not None:  # 5xx/429: the site is in trouble, not the password
        raise fault
    code = wpapi.error_code(resp.body) or "no error code"
    hint = (
        "WordPress treated the request as anonymous" if code == "rest_not_logged_in"
        else "WordPress refused the login"
    )
    raise CredentialsRejected(
        f"application password rejected: {resp.status} {code} ({hint}; check the username "
        f"{username!r} and its application password, which may have been revoked; over plain "
        "http WordPress accepts application passwords only on local sites)"
    )
