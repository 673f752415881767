"""Own sites' logins in wpwatch.toml: both keys or none, env: read at load, never shown."""

from __future__ import annotations

import pytest

from core.config import Credentials, parse
from core.exceptions import ConfigError
from crawler.auth import basic_auth
from crawler.fetcher import Fetcher, FetchPolicy

SECRET = "abcd EFGH ijkl MNOP qrst UVWX"


def config(**keys: str) -> dict[str, object]:
    return {"sites": [{"name": "ours", "url": "https://ours.example.org", **keys}]}


def test_env_references_are_read_at_check(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = parse(config(username="env:OURS_USER", app_password="env:OURS_PW"))
    monkeypatch.setenv("OURS_USER", "editor")
    with pytest.raises(ConfigError, match=r"^sites\.ours\.app_password refers to environment "
                                          r"variable OURS_PW, which is not set$"):
        conf.check()
    monkeypatch.setenv("OURS_PW", SECRET)
    conf.check()
    creds = conf.sites[0].credentials()
    assert creds == Credentials("editor", SECRET)


def test_the_password_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OURS_PW", SECRET)
    site = parse(config(username="editor", app_password="env:OURS_PW")).sites[0]
    creds = site.credentials()
    assert creds is not None
    for text in (repr(site), str(site), repr(creds), str(creds)):
        assert SECRET not in text


@pytest.mark.parametrize("keys, message", [
    ({"username": "editor"}, "username without app_password"),
    ({"app_password": "env:X"}, "app_password without username"),
    ({"username": "editor", "app_password": 5}, "app_password must be a string"),
], ids=["no-password", "no-username", "not-a-string"])
def test_half_a_login_is_refused(keys: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(config(**keys))  # type: ignore[arg-type]


def test_empty_password_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OURS_PW", "  ")
    conf = parse(config(username="editor", app_password="env:OURS_PW"))
    with pytest.raises(ConfigError, match=r"sites\.ours\.app_password is empty"):
        conf.check()


def test_the_login_goes_only_to_the_sites_own_host() -> None:
    creds = Credentials("editor", SECRET)
    fetcher = Fetcher(None, "https://ours.example.org/en", FetchPolicy(),
                      authorization=basic_auth(creds))
    assert fetcher.authenticated
    api = "https://ours.example.org/wp-json/wp/v2/posts?context=edit"
    assert fetcher._headers(api, follow_redirects=False) == {"Authorization": basic_auth(creds)}
    for elsewhere in ("https://cdn.example.net/wp-json/", "http://ours.example.org/wp-json/",
                      "https://ours.example.org:8443/wp-json/"):
        assert fetcher._headers(elsewhere, follow_redirects=False) == {}
    # the home page, whose redirects Scrapy follows on its own: never with the login
    assert fetcher._headers("https://ours.example.org/en", follow_redirects=True) == {}
    anonymous = Fetcher(None, "https://ours.example.org/en", FetchPolicy())
    assert not anonymous.authenticated and anonymous._headers(api, False) == {}
