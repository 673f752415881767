"""wpwatch.toml: parsing, env references, and `wpwatch sites` editing it in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from core import config as cfg
from core.exceptions import ConfigError
from core.values import parse_duration, resolve_env
from wpwatch.cli import cli


def test_durations() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("15m") == 900
    assert parse_duration("2h") == 7200
    assert parse_duration("1d") == 86400
    with pytest.raises(ConfigError, match="bad interval"):
        parse_duration("soon", "interval")


def test_env_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WPW_TEST_SECRET", "s3cret")
    assert resolve_env("env:WPW_TEST_SECRET", "alerts.x.password") == "s3cret"
    monkeypatch.delenv("WPW_TEST_SECRET")
    with pytest.raises(ConfigError, match="WPW_TEST_SECRET"):
        resolve_env("env:WPW_TEST_SECRET", "alerts.x.password")


def test_parse_sites_with_defaults() -> None:
    conf = cfg.parse(
        {
            "defaults": {"interval": "10m"},
            "sites": [
                {"name": "a", "url": "https://A.org/en/"},
                {"url": "http://b.org", "interval": "1h", "types": ["posts"]},
            ],
        }
    )
    assert [(s.name, s.url, s.interval, s.types) for s in conf.sites] == [
        ("a", "https://a.org/en", 600, ()),
        ("b.org", "http://b.org", 3600, ("posts",)),
    ]
    assert conf.site("https://a.org/en/") is conf.sites[0]


def test_unknown_key_is_refused_with_the_supported_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown key.*intervall.*supported"):
        cfg.parse({"sites": [{"url": "https://a.org", "intervall": "5m"}]})


def test_sites_add_list_remove_keep_comments(tmp_path: Path) -> None:
    path = tmp_path / "wpwatch.toml"
    path.write_text('# my sites\n[defaults]\ninterval = "15m"  # polite\n')
    runner = CliRunner()
    base = ["--config", str(path), "--db", str(tmp_path / "a.db")]
    r = runner.invoke(cli, [*base, "sites", "add", "https://iuhrdf.org/en/", "--name", "iuhrdf",
                            "--interval", "10m", "--no-check"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, [*base, "sites", "add", "http://127.0.0.1:9/", "--types", "posts,pages",
                            "--no-check"])
    assert r.exit_code == 0, r.output
    text = path.read_text()
    assert "# my sites" in text and "# polite" in text
    r = runner.invoke(cli, [*base, "sites", "list"])
    assert "iuhrdf\thttps://iuhrdf.org/en\tevery 10m\tall types" in r.output
    assert "127.0.0.1:9\thttp://127.0.0.1:9\tevery 15m\tposts,pages" in r.output
    r = runner.invoke(cli, [*base, "sites", "add", "https://iuhrdf.org/en", "--no-check"])
    assert r.exit_code == 2
    assert r.output.strip() == (
        f"wpwatch: https://iuhrdf.org/en is already watched in {path}, as iuhrdf"
    )
    r = runner.invoke(cli, [*base, "sites", "remove", "iuhrdf"])
    assert r.exit_code == 0, r.output
    assert [s.name for s in cfg.load(path).sites] == ["127.0.0.1:9"]


def test_bad_toml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "wpwatch.toml"
    path.write_text("[[sites]\nurl=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        cfg.load(path)
